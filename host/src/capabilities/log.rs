//! `logging.log`: plugin diagnostics go to the host's log, under the
//! plugin's name, and to the client as MCP log notifications when it asked
//! for that level (`logging/setLevel`, or a 2026-07-28 request's log level).
//!
//! A plugin must not be able to flood either: every call has a budget of
//! lines and bytes ([`LogBudget`], `limits.log_lines` and `limits.log_bytes`)
//! that also covers the host's own lines about the call's refused appends and
//! captured output. Past it, one line says the rest was dropped. Forged
//! lines are stopped in the log writer ([`crate::logging`]), which escapes
//! control characters in everything it writes.
#![allow(deprecated)]

use rmcp::model::LoggingLevel;

use crate::runtime::CallState;
use crate::runtime::bindings::wasm_mcp::plugin::logging::{Host, Level};

/// The longest message kept from one `log` call.
const MAX_MESSAGE: usize = 4096;

impl Host for CallState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let message = truncate(&message, MAX_MESSAGE);
        if !self.log_budget.admit(&self.call.plugin, message.len()) {
            return Ok(());
        }
        let plugin = &self.call.plugin;
        let mcp_level = match level {
            Level::Debug => {
                tracing::debug!(target: "plugin", %plugin, "{message}");
                LoggingLevel::Debug
            }
            Level::Info => {
                tracing::info!(target: "plugin", %plugin, "{message}");
                LoggingLevel::Info
            }
            Level::Warning => {
                tracing::warn!(target: "plugin", %plugin, "{message}");
                LoggingLevel::Warning
            }
            Level::Error => {
                tracing::error!(target: "plugin", %plugin, "{message}");
                LoggingLevel::Error
            }
        };
        self.call.notifier.log(plugin, mcp_level, message).await;
        Ok(())
    }
}

/// What one call may still log.
pub struct LogBudget {
    lines_left: u64,
    bytes_left: u64,
    limits: (u64, u64),
    /// Lines refused since the budget ran out.
    dropped: u64,
}

impl LogBudget {
    pub fn new(lines: u64, bytes: u64) -> Self {
        LogBudget {
            lines_left: lines,
            bytes_left: bytes,
            limits: (lines, bytes),
            dropped: 0,
        }
    }

    /// Whether a line of `bytes` may be logged for `plugin`. The first
    /// refusal logs one warning saying the rest of the call's log is dropped.
    pub fn admit(&mut self, plugin: &str, bytes: usize) -> bool {
        let bytes = bytes as u64;
        if self.dropped == 0 && self.lines_left > 0 && bytes <= self.bytes_left {
            self.lines_left -= 1;
            self.bytes_left -= bytes;
            return true;
        }
        if self.dropped == 0 {
            let (lines, bytes) = self.limits;
            tracing::warn!(target: "plugin", %plugin, "this call used its log budget ({lines} lines or {bytes} bytes, `limits.log_lines` and `limits.log_bytes`); the rest of its log is dropped");
        }
        self.dropped += 1;
        false
    }

    /// Lines refused so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
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
    fn the_budget_counts_lines_and_bytes_and_stays_spent() {
        let mut budget = LogBudget::new(3, 10);
        assert!(budget.admit("p", 4));
        assert!(budget.admit("p", 6));
        assert!(!budget.admit("p", 1), "no bytes left");
        assert!(!budget.admit("p", 0), "spent for good once refused");
        assert_eq!(budget.dropped(), 2);
        let mut lines = LogBudget::new(2, 1000);
        assert!(lines.admit("p", 1) && lines.admit("p", 1));
        assert!(!lines.admit("p", 1), "no lines left");
    }
}
