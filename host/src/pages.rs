//! Opaque cursors for MCP's paginated lists (`tools/list`, `prompts/list`,
//! `resources/list`, `resources/templates/list`).
//!
//! A cursor names the list and the offset of the next page, base64url
//! encoded: clients must treat it as opaque, and one list's cursor is refused
//! by another. The lists only change when the host restarts, so an offset is
//! a stable position.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64;
use rmcp::ErrorData as McpError;

/// Items per page.
pub const PAGE_SIZE: usize = 100;

/// One page of a list, and the cursor of the next (if any).
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The page of `items` that `cursor` points at (the first without one).
/// `list` names the list in cursors and errors (`tools`, `prompts`...).
pub fn page<'a, T: Clone + 'a>(
    list: &str,
    items: impl Iterator<Item = &'a T>,
    cursor: Option<&str>,
    page_size: usize,
) -> Result<Page<T>, McpError> {
    let start = match cursor {
        None => 0,
        Some(cursor) => decode(list, cursor)?,
    };
    let mut items = items.skip(start);
    let page: Vec<T> = items.by_ref().take(page_size).cloned().collect();
    let more = items.next().is_some();
    Ok(Page {
        next_cursor: more.then(|| encode(list, start + page.len())),
        items: page,
    })
}

fn encode(list: &str, offset: usize) -> String {
    BASE64.encode(format!("{list}:{offset}"))
}

fn decode(list: &str, cursor: &str) -> Result<usize, McpError> {
    let bad = || {
        let shown = crate::logging::truncate(cursor, 100);
        McpError::invalid_params(
            format!(
                "unknown cursor {shown:?}: pass back the `nextCursor` of the previous {list}/list page unchanged, or omit it for the first page"
            ),
            None,
        )
    };
    let text = BASE64
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let (named, offset) = text.split_once(':').ok_or_else(bad)?;
    if named != list {
        return Err(bad());
    }
    offset.parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_cursors_to_the_end() {
        let items: Vec<u32> = (0..250).collect();
        let mut cursor = None;
        let mut seen = Vec::new();
        loop {
            let page = page("tools", items.iter(), cursor.as_deref(), PAGE_SIZE).unwrap();
            seen.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, items);
        let exact: Vec<u32> = (0..100).collect();
        assert!(
            page("tools", exact.iter(), None, PAGE_SIZE)
                .unwrap()
                .next_cursor
                .is_none()
        );
    }

    #[test]
    fn foreign_and_garbled_cursors_are_refused() {
        let items: Vec<u32> = (0..250).collect();
        let next = page("tools", items.iter(), None, PAGE_SIZE)
            .unwrap()
            .next_cursor
            .unwrap();
        assert!(page("prompts", items.iter(), Some(&next), PAGE_SIZE).is_err());
        for bad in ["", "!!!", "dG9vbHM6eA", "bm9jb2xvbg"] {
            assert!(
                page("tools", items.iter(), Some(bad), PAGE_SIZE).is_err(),
                "{bad}"
            );
        }
    }
}
