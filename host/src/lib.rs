//! The `wasm-mcp` host as a library: what the binary (`main.rs`) and the
//! benchmarks (`benches/`) share.

pub mod audit;
pub mod authority;
pub mod bindings;
pub mod capabilities;
pub mod client;
pub mod config;
pub mod connections;
pub mod drain;
pub mod embedded;
pub mod fairness;
pub mod interpolate;
pub mod jsonrpc;
pub mod llm;
pub mod logging;
pub mod metrics;
pub mod mrtr;
pub mod pages;
pub mod param_headers;
pub mod reload;
pub mod replica_sessions;
pub mod routes;
pub mod runtime;
pub mod scaffold;
pub mod server;
pub mod shared;
pub mod state_key;
pub mod transport;
