//! `logging.log`: plugin diagnostics go to the host's log, under the
//! plugin's name, and to the client as MCP log notifications when it asked
//! for that level (`logging/setLevel`, or a 2026-07-28 request's log level).
#![allow(deprecated)]

use rmcp::model::LoggingLevel;

use crate::runtime::CallState;
use crate::runtime::bindings::wasm_mcp::plugin::logging::{Host, Level};

/// The longest message kept from one `log` call.
const MAX_MESSAGE: usize = 4096;

impl Host for CallState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let plugin = &self.call.plugin;
        let message = truncate(&message, MAX_MESSAGE);
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
