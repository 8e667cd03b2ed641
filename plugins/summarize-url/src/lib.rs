//! Fetch data from a source, then ask the model to summarise it: the
//! seeds' lesson, with the fetch done by the plugin. `summarize_url` GETs a
//! page, asks the calling client's LLM for a three-sentence summary, and
//! appends it to a report file, like the log archiver's incident reports.
//!
//! The plugin reaches only what its config grants:
//!
//! ```toml
//! [[plugin]]
//! component = "plugins/target/wasm32-wasip2/release/summarize_url.wasm"
//! append = ["summaries.txt"]
//!
//! [[plugin.http.allow]]
//! url = "https://example.com/"          # each site it may read (GET)
//!
//! [plugin.config]                       # optional; defaults shown
//! report_file = "summaries.txt"         # must be granted in `append`
//! max_page_bytes = 100000               # of the page's text sent to the model
//! ```
//!
//! The SDK follows redirects, and each one must be granted too.

use wasm_mcp_sdk::{JsonSchema, ToolError, append, config, fetch, sample_text, tools};

const DEFAULT_REPORT_FILE: &str = "summaries.txt";
const DEFAULT_MAX_PAGE_BYTES: usize = 100_000;

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Page {
    /// The http or https URL of the page to summarise.
    url: String,
}

fn summarize_url(Page { url }: Page) -> Result<String, ToolError> {
    let max_page_bytes = match config::get("max_page_bytes") {
        None => DEFAULT_MAX_PAGE_BYTES,
        Some(text) => text.trim().parse().map_err(|_| {
            ToolError::Failed(format!(
                "the setting `max_page_bytes` is {text:?}; it must be a whole number of bytes"
            ))
        })?,
    };
    let report_file = config::get("report_file").unwrap_or_else(|| DEFAULT_REPORT_FILE.into());

    let response = fetch(&url)?.error_for_status()?;
    let mut text = response.text()?;
    let is_html = response
        .header("content-type")
        .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("text/html"));
    if is_html {
        text = html_to_text(&text);
    }
    truncate_at_char_boundary(&mut text, max_page_bytes);

    let prompt = format!(
        "Summarize the following web page in at most three sentences.\nURL: {url}\n\n{text}"
    );
    let summary = sample_text(prompt, 300)?;
    let rule = "-".repeat(30);
    append(
        &report_file,
        format!("--- SUMMARY ---\nURL: {url}\nSUMMARY: {summary}\n{rule}\n"),
    )?;
    Ok(format!(
        "Success: summary of '{url}' appended to '{report_file}'.\n\n{summary}"
    ))
}

/// Cut `text` to at most `max` bytes, back to the start of the character
/// that would be split.
fn truncate_at_char_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// A crude HTML-to-text: enough for a model to read, not a parser. Drops
/// comments, tags, and the contents of `script`, `style`, `noscript`,
/// `template` and `svg`; decodes the five common entities and `&nbsp;`
/// (others stay as written); collapses whitespace, keeping line breaks
/// where block tags were.
fn html_to_text(html: &str) -> String {
    const HIDDEN: [&str; 5] = ["script", "style", "noscript", "template", "svg"];
    const BLOCKS: [&str; 14] = [
        "p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
        "title",
    ];
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let starts_tag =
            rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!');
        let Some(close) = rest.find('>').filter(|_| starts_tag) else {
            // A lone `<` (`a < b`): text, not a tag.
            out.push('<');
            rest = &rest[1..];
            continue;
        };
        let tag = &rest[1..close];
        rest = &rest[close + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !tag.starts_with('/') && HIDDEN.contains(&name.as_str()) {
            // Skip to the matching end tag, whatever its case.
            rest = match find_ignoring_case(rest, &format!("</{name}")) {
                Some(end) => rest[end..].find('>').map_or("", |i| &rest[end + i + 1..]),
                None => "",
            };
            continue;
        }
        out.push(if BLOCKS.contains(&name.as_str()) {
            '\n'
        } else {
            ' '
        });
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `needle` (ASCII) first starts in `haystack`, in any case.
fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

tools! {
    summarize_url(Page) [additive, open_world] => "Fetches a web page, summarises it in at most three sentences with the client's LLM, and appends the summary to a report file.",
}
