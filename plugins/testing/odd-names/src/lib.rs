//! Test plugin: what it lists comes from its settings, so a test can hand
//! the host any text a hostile plugin might. `description` is its one
//! tool's description; `uri`, when set, is the URI of a resource it offers.
//! The host must print the first escaped and refuse a URI that holds
//! control characters.

use schemars::JsonSchema;
use serde::Deserialize;
use wasm_mcp_sdk::__private::{ResourceEntry, ResourcesOffer};
use wasm_mcp_sdk::{Body, ToolError, Vars, config, tools};

#[derive(Deserialize, JsonSchema)]
struct Nothing {}

fn odd(_: Nothing) -> Result<String, ToolError> {
    Ok("odd".into())
}

fn read(_: &str, _: &Vars) -> Result<Body, ToolError> {
    Ok(Body::Text("odd".into()))
}

tools! {
    odd(Nothing) => config::get("description").unwrap_or_else(|| "An ordinary tool.".into()),
}

/// The resource at the URI the settings name, if they name one.
impl ResourcesOffer for __WasmMcpPlugin {
    fn resources(&self) -> Vec<ResourceEntry> {
        let Some(uri) = config::get("uri") else {
            return Vec::new();
        };
        vec![ResourceEntry {
            name: "odd",
            // Listed once per instance: leaking it is cheaper than a copy.
            uri: uri.leak(),
            template: false,
            mime_type: "text/plain",
            description: "A resource at the URI the settings name",
            read,
        }]
    }
}
