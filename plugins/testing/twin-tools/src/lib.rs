//! Test plugin: `list-tools` names one tool twice. The host must refuse it
//! with a clear error, not crash.

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "tool-plugin" });

use exports::wasm_mcp::plugin::tools::{CallError, Guest, Tool};

struct Twins;

impl Guest for Twins {
    fn list_tools() -> Vec<Tool> {
        let twin = || Tool {
            name: "twin".into(),
            title: None,
            description: "One of two tools with the same name.".into(),
            input_schema: r#"{"type": "object"}"#.into(),
        };
        vec![twin(), twin()]
    }

    fn call(_: String, _: String) -> Result<String, CallError> {
        Ok("twin".into())
    }
}

export!(Twins);
