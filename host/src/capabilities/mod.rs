//! The host side of each WIT interface a plugin may import: one module per
//! interface. Each owns its per-call context, implements its interface's
//! generated `Host` trait on that context, and offers an `add_to_linker`
//! that finds the context in any store's data by a projection. None of them
//! knows the runtime: the runtime's per-call state only aggregates them.

use std::sync::Arc;

pub mod ask;
pub mod elicitation;
pub mod files;
pub mod http;
pub mod log;
pub mod notify;
pub mod progress;
pub mod roots;
pub mod sampling;
pub mod settings;

/// Who is calling, for logs and audit records.
#[derive(Clone, Debug)]
pub struct Caller {
    pub plugin: Arc<str>,
    /// The tool called, as the client named it (or what the host is doing).
    pub tool: Arc<str>,
    /// The calling client, as a salted hash (see [`crate::audit`]).
    pub client: Arc<str>,
}
