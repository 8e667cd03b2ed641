//! What one store holds: the call's context and a WASI context with no
//! ambient authority.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Plugin;
use super::cpu::CpuUsed;
use super::output::CapturedOutput;
use crate::capabilities::files::Grants;
use crate::capabilities::notify::Notifier;
use crate::capabilities::sampling::{SampleRoute, Unavailable};
use crate::config::{Limits, SamplingPolicy};

/// How much of a plugin's stdout and stderr is kept per call.
const CAPTURED_OUTPUT_CAP: usize = 16 * 1024;

/// Everything a capability may know about the call it serves. Built once per
/// call by the server; nothing reaches back up from it.
#[derive(Clone)]
pub struct CallContext {
    pub plugin: Arc<str>,
    pub grants: Arc<Grants>,
    /// Where `sample()` goes: the calling client, by whatever route its
    /// protocol era needs.
    pub sampling: Arc<dyn SampleRoute>,
    /// Cancelled when the client cancels the call.
    pub cancel: CancellationToken,
    pub limits: Limits,
    pub sampling_policy: SamplingPolicy,
    /// Progress and log notifications to the calling client.
    pub notifier: Notifier,
}

impl CallContext {
    /// A call of `plugin` whose `sample()` goes along `sampling`.
    pub fn new(
        plugin: &Plugin,
        sampling: Arc<dyn SampleRoute>,
        cancel: CancellationToken,
        notifier: Notifier,
    ) -> Self {
        CallContext {
            plugin: plugin.name.as_str().into(),
            grants: plugin.grants.clone(),
            sampling,
            cancel,
            limits: plugin.limits,
            sampling_policy: plugin.sampling_policy,
            notifier,
        }
    }

    /// The context of the load-time `list-tools` call: no client, no sampling.
    pub(super) fn for_loading(plugin: &Plugin) -> Self {
        let nobody =
            Unavailable("no client is calling: the host is listing the plugin's tools".into());
        CallContext::new(
            plugin,
            Arc::new(nobody),
            CancellationToken::new(),
            Notifier::default(),
        )
    }
}

/// Enforces the memory limit and remembers that it did, so the trap that
/// follows a refused allocation can be reported as the limit it is.
pub struct MemoryGuard {
    max_bytes: usize,
    pub hit: bool,
}

/// Tables (function references) are small; this only stops runaway growth.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// A call's CPU budget and what it has used (see [`super::cpu`]).
pub struct CpuBudget {
    pub used: CpuUsed,
    pub budget: std::time::Duration,
    pub hit: bool,
}

/// The data of one store.
pub struct CallState {
    pub call: CallContext,
    pub memory: MemoryGuard,
    pub cpu: CpuBudget,
    /// `sample()` calls made so far in this call.
    pub samples_made: u32,
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
}

impl CallState {
    pub fn new(call: CallContext) -> Self {
        let stdout = CapturedOutput::new(CAPTURED_OUTPUT_CAP);
        let stderr = CapturedOutput::new(CAPTURED_OUTPUT_CAP);
        // Deny by default: no preopened folders, environment, arguments or
        // network (the builder allows none of these unless asked), and the
        // standard streams go to capped buffers, never to the host's.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let memory = MemoryGuard {
            max_bytes: usize::try_from(call.limits.memory_mib * 1024 * 1024).unwrap_or(usize::MAX),
            hit: false,
        };
        let cpu = CpuBudget {
            used: CpuUsed::default(),
            budget: std::time::Duration::from_millis(call.limits.cpu_time_ms),
            hit: false,
        };
        CallState {
            call,
            memory,
            cpu,
            samples_made: 0,
            wasi,
            table: ResourceTable::new(),
            stdout,
            stderr,
        }
    }

    /// Log what the guest wrote to stdout and stderr, under its name.
    pub fn log_captured_output(&self) {
        for (stream, output) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let (text, dropped) = output.take();
            for line in text.lines().filter(|l| !l.is_empty()) {
                tracing::info!(target: "plugin", plugin = %self.call.plugin, stream, "{line}");
            }
            if dropped > 0 {
                tracing::warn!(target: "plugin", plugin = %self.call.plugin, stream, dropped, "plugin output over the {CAPTURED_OUTPUT_CAP}-byte cap was dropped");
            }
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
