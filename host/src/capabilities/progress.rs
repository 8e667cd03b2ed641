//! `progress.report`: a long call tells its client how far it has come.

use crate::runtime::CallState;
use crate::runtime::bindings::wasm_mcp::plugin::progress::Host;

impl Host for CallState {
    async fn report(
        &mut self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> wasmtime::Result<()> {
        let message = message.map(|m| crate::capabilities::log::truncate(&m, 1024).to_string());
        self.call.notifier.progress(progress, total, message).await;
        Ok(())
    }
}
