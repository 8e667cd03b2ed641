//! `wasm-mcp:plugin@0.1.0` components, served unchanged.
//!
//! 0.1's four imports (`sampling`, `files`, `logging`, `progress`) have
//! exactly the shapes of 0.2's, and the component model compares types by
//! shape, not by name: so 0.1's instance names are defined here with 0.2's
//! types, each function calling the same capability code a 0.2 component
//! reaches. 0.1's `tools` export is read in [`super::exports`].

use wasmtime::component::Linker;

use super::state::CallState;
use crate::bindings::{files, logging, progress, sampling};

/// Define 0.1's import instances on `linker`.
pub fn add_v0_1_imports(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker
        .instance("wasm-mcp:plugin/sampling@0.1.0")?
        .func_wrap_async("sample", |mut store, (request,): (sampling::Request,)| {
            Box::new(async move {
                let sampler = &mut store.data_mut().sampling;
                Ok((sampling::Host::sample(sampler, request).await?,))
            })
        })?;
    linker
        .instance("wasm-mcp:plugin/files@0.1.0")?
        .func_wrap_async("append", |mut store, (path, data): (String, Vec<u8>)| {
            Box::new(async move {
                let appender = &mut store.data_mut().files;
                Ok((files::Host::append(appender, path, data).await?,))
            })
        })?;
    linker
        .instance("wasm-mcp:plugin/logging@0.1.0")?
        .func_wrap_async(
            "log",
            |mut store, (level, message): (logging::Level, String)| {
                Box::new(async move {
                    let logger = &mut store.data_mut().log;
                    logging::Host::log(logger, level, message).await
                })
            },
        )?;
    linker
        .instance("wasm-mcp:plugin/progress@0.1.0")?
        .func_wrap_async(
            "report",
            |mut store, (done, total, message): (f64, Option<f64>, Option<String>)| {
                Box::new(async move {
                    let reporter = &mut store.data_mut().progress;
                    progress::Host::report(reporter, done, total, message).await
                })
            },
        )?;
    Ok(())
}
