//! The host's own log: one line per event, on stderr, never blocking.
//!
//! Plugins and clients put text in the log (messages, tool names, error
//! strings). Two guards apply to every line, whatever its source:
//! - control characters (newlines, escape sequences, C1 controls, Unicode
//!   line separators and bidi overrides) are escaped, so no text can forge a
//!   log line or drive the reader's terminal;
//! - lines go through a bounded queue to a writer thread, and are dropped
//!   when it is full: a parent that does not drain our stderr can stall the
//!   writer thread, never a worker serving calls.

use std::io::{self, Write};

use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines queued for stderr before new ones are dropped. A plugin's lines are
/// cut at 4 KiB (16 KiB for captured output), so the queue stays small.
const QUEUED_LINES: usize = 4096;

/// Log to stderr at `WASM_MCP_LOG`'s filter, else `default`. Keep the guard
/// until exit: dropping it flushes what is queued.
pub fn init(default: &str) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("wasm-mcp-log")
        .finish(io::stderr());
    let filter =
        EnvFilter::try_from_env("WASM_MCP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Escaping(writer))
        .with_ansi(false)
        .init();
    guard
}

/// A writer that escapes control characters in each formatted event.
#[derive(Clone)]
struct Escaping(NonBlocking);

impl<'a> MakeWriter<'a> for Escaping {
    type Writer = EscapingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter(self.0.clone())
    }
}

struct EscapingWriter(NonBlocking);

impl Write for EscapingWriter {
    /// The formatter hands over one whole event per `write_all`.
    fn write(&mut self, event: &[u8]) -> io::Result<usize> {
        self.0.write_all(&escape_event(event))?;
        Ok(event.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `event` with every control character but its final newline escaped.
pub fn escape_event(event: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let (body, newline) = match event.strip_suffix(b"\n") {
        Some(body) => (body, true),
        None => (event, false),
    };
    if !body.iter().any(suspicious_byte) {
        return event.into();
    }
    let mut out = String::with_capacity(event.len() + 16);
    for c in String::from_utf8_lossy(body).chars() {
        if is_dangerous(c) && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if newline {
        out.push('\n');
    }
    out.into_bytes().into()
}

/// Whether a byte may start (or be) a character [`is_dangerous`] escapes:
/// a fast path that lets plain ASCII and most UTF-8 through untouched.
/// Below 0x20 (tab included), DEL, and the lead bytes of C1 controls
/// (0xC2), of U+2028/2029, the bidi and zero-width controls (0xE2) and of
/// the byte order mark (0xEF).
fn suspicious_byte(b: &u8) -> bool {
    *b < 0x20 || matches!(*b, 0x7f | 0xc2 | 0xe2 | 0xef)
}

/// Whether `c` could drive a terminal or hide or reorder what a reader sees:
/// control characters (C0, DEL, C1, tab included), line and paragraph
/// separators, bidi overrides and isolates, zero-width characters and the
/// byte order mark.
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Plugin-supplied `text` (a tool description, a resource URI...) made safe
/// to print for an operator on one line: every character [`is_dangerous`]
/// flags, tab and newline included, is shown escaped (`\u{1b}`, `\n`), so
/// what a plugin says can neither drive the terminal nor forge lines.
pub fn escape_text(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_dangerous) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_dangerous(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// `text` cut to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_stays_one_line() {
        let forged = "INFO plugin: hi\n2026-01-01T00:00:00Z ERROR wasm_mcp: forged\r\x1b[31m\u{2028}\u{85}\n";
        let escaped = String::from_utf8(escape_event(forged.as_bytes()).into_owned()).unwrap();
        assert_eq!(escaped.matches('\n').count(), 1, "{escaped}");
        assert!(escaped.ends_with('\n'));
        assert!(
            escaped.contains(r"hi\n2026") && escaped.contains(r"\r\u{1b}[31m\u{2028}\u{85}"),
            "{escaped}"
        );
        let plain = "INFO wasm_mcp: all\tfine, ünïcödé\n";
        assert_eq!(&*escape_event(plain.as_bytes()), plain.as_bytes());
    }

    #[test]
    fn plugin_text_for_an_operator_shows_every_control_escaped() {
        let hostile = "desc\0\x1b[31mred\x07\n\t\u{202e}\u{200b}\u{feff}";
        let shown = escape_text(hostile);
        assert!(
            !shown.chars().any(|c| c.is_control() || is_dangerous(c)),
            "{shown:?}"
        );
        assert_eq!(
            shown,
            r"desc\u{0}\u{1b}[31mred\u{7}\n\t\u{202e}\u{200b}\u{feff}"
        );
        assert!(matches!(
            escape_text("plain ünïcödé"),
            std::borrow::Cow::Borrowed("plain ünïcödé")
        ));
    }

    #[test]
    fn log_lines_escape_zero_width_characters_and_the_byte_order_mark() {
        let event = "INFO a\u{200b}b\u{feff}\n".as_bytes();
        let escaped = String::from_utf8(escape_event(event).into_owned()).unwrap();
        assert_eq!(escaped, "INFO a\\u{200b}b\\u{feff}\n");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Invariant: whatever a plugin says, the escaped text has no
        /// character that could drive a terminal or split the line, and
        /// text with none is shown unchanged.
        #[test]
        fn escaped_text_is_always_printable(chars in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::char::range('\0', '\u{ff}'),
                proptest::char::range('\u{2000}', '\u{2070}'),
                proptest::char::any(),
            ],
            0..64,
        )) {
            let text: String = chars.into_iter().collect();
            let shown = escape_text(&text);
            proptest::prop_assert!(!shown.chars().any(is_dangerous));
            if !text.chars().any(is_dangerous) {
                proptest::prop_assert_eq!(&*shown, text.as_str());
            }
        }
    }
}
