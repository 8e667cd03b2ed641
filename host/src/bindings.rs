//! Bindings generated from the WIT contracts this host serves, and nothing
//! else: `wit/plugin.wit` (`wasm-mcp:plugin@0.2.0`, the current one) and
//! `wit/v0.1/plugin.wit` (0.1.0, served unchanged; see
//! [`crate::runtime::compat`]).

/// `wasm-mcp:plugin@0.2.0`. Its interfaces are re-exported below.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// `wasm-mcp:plugin@0.1.0`: only its `tools` export is used; its imports
/// have the same shapes as 0.2's and are served by 0.2's implementations.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "tool-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

pub use v0_2::exports::wasm_mcp::plugin::{completions, prompts, resources, tools};
pub use v0_2::wasm_mcp::plugin::{
    ask, content, elicitation, files, logging, progress, roots, sampling,
};
