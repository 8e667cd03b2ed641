//! Test plugin: `list-tools` never returns. The host must not hang loading it.

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "tool-plugin" });

use exports::wasm_mcp::plugin::tools::{CallError, Guest, Tool};

struct Sleepy;

impl Guest for Sleepy {
    fn list_tools() -> Vec<Tool> {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }

    fn call(_: String, _: String) -> Result<String, CallError> {
        Err(CallError::Failed("never listed".into()))
    }
}

export!(Sleepy);
