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
    // Fast path: nothing below 0x20 but tab, no DEL, and no lead byte of a
    // C1 control (0xC2) or of U+2028/2029 and the bidi controls (0xE2).
    let suspicious = |b: &u8| (*b < 0x20 && *b != b'\t') || matches!(*b, 0x7f | 0xc2 | 0xe2);
    if !body.iter().any(suspicious) {
        return event.into();
    }
    let mut out = String::with_capacity(event.len() + 16);
    for c in String::from_utf8_lossy(body).chars() {
        let dangerous = (c.is_control() && c != '\t')
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if dangerous {
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
}
