//! The host side of each WIT interface a plugin may import: one module per
//! interface, each implementing that interface's generated `Host` trait on
//! the per-call [`CallState`](crate::runtime::CallState).

pub mod files;
pub mod log;
pub mod notify;
pub mod progress;
pub mod sampling;
