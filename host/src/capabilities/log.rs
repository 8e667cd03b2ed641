//! `logging.log`: plugin diagnostics go to the host's log, under the
//! plugin's name.

use crate::runtime::CallState;
use crate::runtime::bindings::wasm_mcp::plugin::logging::{Host, Level};

/// The longest message kept from one `log` call.
const MAX_MESSAGE: usize = 4096;

impl Host for CallState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let plugin = &self.call.plugin;
        let message = truncate(&message, MAX_MESSAGE);
        match level {
            Level::Debug => tracing::debug!(target: "plugin", %plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", %plugin, "{message}"),
            Level::Warning => tracing::warn!(target: "plugin", %plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", %plugin, "{message}"),
        }
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
