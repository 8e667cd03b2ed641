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

use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

use super::notify::Notifier;
use crate::bindings::logging::{Host, Level};

/// The longest message kept from one `log` call.
const MAX_MESSAGE: usize = 4096;

/// One call's log: the plugin's name, the call's budget and where
/// notifications go.
pub struct Logger {
    pub plugin: Arc<str>,
    pub budget: LogBudget,
    pub notifier: Notifier,
}

/// Serve `logging` to components, each call's [`Logger`] found by `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Logger,
) -> wasmtime::Result<()> {
    crate::bindings::logging::add_to_linker::<T, HasSelf<Logger>>(linker, get)
}

impl Host for Logger {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let message = crate::logging::truncate(&message, MAX_MESSAGE);
        if !self.budget.admit(&self.plugin, message.len()) {
            return Ok(());
        }
        let plugin = &self.plugin;
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
        self.notifier.log(plugin, mcp_level, message).await;
        Ok(())
    }
}

/// What one call may still log, shared by everything that logs for it (the
/// plugin's `log`, refused appends, captured output). Cheap to clone.
#[derive(Clone)]
pub struct LogBudget(Arc<Mutex<Spent>>);

struct Spent {
    lines_left: u64,
    bytes_left: u64,
    limits: (u64, u64),
    /// Lines refused since the budget ran out.
    dropped: u64,
}

impl LogBudget {
    pub fn new(lines: u64, bytes: u64) -> Self {
        LogBudget(Arc::new(Mutex::new(Spent {
            lines_left: lines,
            bytes_left: bytes,
            limits: (lines, bytes),
            dropped: 0,
        })))
    }

    /// Whether a line of `bytes` may be logged for `plugin`. The first
    /// refusal logs one warning saying the rest of the call's log is dropped.
    pub fn admit(&self, plugin: &str, bytes: usize) -> bool {
        let mut spent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = bytes as u64;
        if spent.dropped == 0 && spent.lines_left > 0 && bytes <= spent.bytes_left {
            spent.lines_left -= 1;
            spent.bytes_left -= bytes;
            return true;
        }
        if spent.dropped == 0 {
            let (lines, bytes) = spent.limits;
            tracing::warn!(target: "plugin", %plugin, "this call used its log budget ({lines} lines or {bytes} bytes, `limits.log_lines` and `limits.log_bytes`); the rest of its log is dropped");
        }
        spent.dropped += 1;
        false
    }

    /// Lines refused so far.
    pub fn dropped(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_lines_and_bytes_and_stays_spent() {
        let budget = LogBudget::new(3, 10);
        assert!(budget.admit("p", 4));
        assert!(budget.admit("p", 6));
        assert!(!budget.admit("p", 1), "no bytes left");
        assert!(!budget.admit("p", 0), "spent for good once refused");
        assert_eq!(budget.dropped(), 2);
        let lines = LogBudget::new(2, 1000);
        assert!(lines.admit("p", 1) && lines.admit("p", 1));
        assert!(!lines.admit("p", 1), "no lines left");
    }
}
