//! What one store holds: the call's context and a WASI context with no
//! ambient authority.

use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::Plugin;
use super::cpu::CpuUsed;
use super::output::CapturedOutput;
use crate::audit::AuditLog;
use crate::capabilities::Caller;
use crate::capabilities::elicitation::Elicitor;
use crate::capabilities::files::{Appender, Grants, Staged};
use crate::capabilities::http::{HttpGate, HttpPolicy};
use crate::capabilities::log::{LogBudget, Logger};
use crate::capabilities::notify::Notifier;
use crate::capabilities::progress::{ProgressGate, Reporter};
use crate::capabilities::roots::RootsAsker;
use crate::capabilities::sampling::budget::SharedBudget;
use crate::capabilities::sampling::{ClientSampling, SampleRoute, Sampler};
use crate::capabilities::settings::Settings;
use crate::config::{ElicitationPolicy, Limits, RootsPolicy, SamplingPolicy};
use crate::routes::{ClientRoute, Nobody};
use crate::shared::CommitOnce;

/// A fresh seed from the OS.
pub fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the OS random source is unavailable");
    seed
}

/// Another seed from `seed`, for `purpose`: the generators do not share a stream.
fn derived(seed: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::new()
        .chain_update(seed)
        .chain_update(purpose)
        .finalize()
        .into()
}

/// How much of a plugin's stdout and stderr is kept per call.
const CAPTURED_OUTPUT_CAP: usize = 16 * 1024;
/// WASI handles (pollables, streams) one call may hold at once; each costs
/// host memory. wasmtime's default is a million.
pub const MAX_HANDLES: usize = 4096;
/// The most bytes one `get-random-bytes` call may ask the host to allocate
/// (wasmtime's default is 64 MiB).
pub const MAX_RANDOM_BYTES: u64 = 64 * 1024;
/// Core instances, memories and tables one call may create. The memory limit
/// is also the sum over all memories; these stop a component from taking
/// many pool slots (or host structures) at once.
pub const MAX_INSTANCES: usize = 64;
pub const MAX_MEMORIES: usize = 4;
pub const MAX_TABLES: usize = 32;

/// Everything a capability may know about the call it serves. Built once per
/// call by the server; nothing reaches back up from it.
#[derive(Clone)]
pub struct CallContext {
    pub plugin: Arc<str>,
    /// The tool called, as the client named it.
    pub tool: Arc<str>,
    /// The calling client, as a salted hash (see [`crate::audit`]).
    pub client: Arc<str>,
    pub grants: Arc<Grants>,
    /// Where `sample()` goes: the calling client, by whatever route its
    /// protocol era needs, or the host's provider.
    pub sampling: Arc<dyn SampleRoute>,
    /// Where `elicit()` and `list-roots()` go: the calling client.
    pub client_route: Arc<dyn ClientRoute>,
    /// Cancelled when the client cancels the call.
    pub cancel: CancellationToken,
    pub limits: Limits,
    pub sampling_policy: SamplingPolicy,
    pub elicitation_policy: ElicitationPolicy,
    pub roots_policy: RootsPolicy,
    /// The plugin's sampling budgets, shared by its calls.
    pub budget: Arc<SharedBudget>,
    /// Where sampling requests are recorded.
    pub audit: Arc<AuditLog>,
    /// Progress and log notifications to the calling client.
    pub notifier: Notifier,
    /// What the plugin may fetch, and its settings.
    pub http: Arc<HttpPolicy>,
    pub settings: Settings,
    /// Seeds the call's random numbers: a call replayed with the same seed
    /// (to resume it on another replica) draws the same ones.
    pub seed: [u8; 32],
    /// Hold effects (appends) until the plugin returns: set for calls that
    /// may be replayed (2026-07-28 rounds).
    pub stage_effects: bool,
    /// `sample()` requests an earlier run of this call made and had
    /// answered: this run is a replay, and their budget was spent then.
    pub replayed_samples: u32,
    /// Whether this run records its sampling requests now (a replay or a
    /// run handed over to another replica leaves them to another run).
    pub sampling_audit: crate::audit::CallAudit,
    /// With replicas sharing Redis: the staged effects are written only by
    /// the first run of the call to return.
    pub commit_once: Option<CommitOnce>,
}

impl CallContext {
    /// A call of `tool` of `plugin` by `client` (hashed), whose questions
    /// go along `client_route`, and whose `sample()` goes along `sampling`
    /// (the client's route unless the host's provider takes it).
    pub fn new(
        plugin: &Plugin,
        tool: &str,
        client: Arc<str>,
        client_route: Arc<dyn ClientRoute>,
        sampling: Option<Arc<dyn SampleRoute>>,
        cancel: CancellationToken,
        notifier: Notifier,
    ) -> Self {
        let sampling = sampling.unwrap_or_else(|| Arc::new(ClientSampling(client_route.clone())));
        CallContext {
            plugin: plugin.name.as_str().into(),
            tool: tool.into(),
            client,
            grants: plugin.grants.clone(),
            sampling,
            client_route,
            cancel,
            limits: plugin.limits,
            sampling_policy: plugin.sampling_policy,
            elicitation_policy: plugin.elicitation_policy,
            roots_policy: plugin.roots_policy,
            budget: plugin.budget.clone(),
            audit: plugin.audit.clone(),
            notifier,
            http: plugin.http.clone(),
            settings: plugin.settings.clone(),
            seed: random_seed(),
            stage_effects: false,
            replayed_samples: 0,
            sampling_audit: crate::audit::CallAudit::default(),
            commit_once: None,
        }
    }

    /// The same call, drawing its random numbers from `seed`.
    pub fn with_seed(mut self, seed: [u8; 32]) -> Self {
        self.seed = seed;
        self
    }

    /// The same call, its appends held until it returns.
    pub fn staging_effects(mut self) -> Self {
        self.stage_effects = true;
        self
    }

    /// The same call, a replay of a run whose first `samples` requests were
    /// answered (and charged to the budget) already.
    pub fn replaying(mut self, samples: u32) -> Self {
        self.replayed_samples = samples;
        self
    }

    /// The same call, recording its sampling requests only while
    /// `audit` says so (see [`crate::audit::CallAudit`]).
    pub fn audited_as(mut self, audit: crate::audit::CallAudit) -> Self {
        self.sampling_audit = audit;
        self
    }

    /// The same call, its staged effects written only if no other run of
    /// it wrote them (see [`CommitOnce`]).
    pub fn committing_once(mut self, once: Option<CommitOnce>) -> Self {
        self.commit_once = once;
        self
    }

    /// The context of a call no client can be asked in: the load-time
    /// listing (`what` says which), or a prompt, resource or completion.
    pub fn without_client(plugin: &Plugin, what: &str, client: Arc<str>) -> Self {
        let nobody = Nobody(format!(
            "only tool calls may ask the client; this is {what}"
        ));
        CallContext::new(
            plugin,
            what,
            client,
            Arc::new(nobody),
            None,
            CancellationToken::new(),
            Notifier::default(),
        )
    }
}

/// Enforces the memory limit over the whole call (every memory of every
/// core instance in the component, summed) and remembers that it did, so
/// the trap that follows a refused allocation can be reported as the limit
/// it is. Counts of instances, memories and tables are capped too.
pub struct MemoryGuard {
    max_bytes: usize,
    /// Bytes of all the call's memories.
    used_bytes: usize,
    /// Elements of all the call's tables.
    table_elements: usize,
    pub hit: bool,
}

/// Tables (function references) are small; this only stops runaway growth.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryGuard {
    pub fn new(max_bytes: usize) -> Self {
        MemoryGuard {
            max_bytes,
            used_bytes: 0,
            table_elements: 0,
            hit: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.used_bytes - current.min(self.used_bytes)).saturating_add(desired);
        if total > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        self.used_bytes = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total =
            (self.table_elements - current.min(self.table_elements)).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

/// A call's CPU budget and what it has used (see [`super::cpu`]).
pub struct CpuBudget {
    pub used: CpuUsed,
    pub budget: std::time::Duration,
    pub hit: bool,
}

/// The data of one store: the capabilities' per-call contexts, the limits'
/// accounting and a WASI context with nothing in it. It only aggregates;
/// each capability is served from its own field (see `new_linker`).
pub struct CallState {
    pub plugin: Arc<str>,
    pub limits: Limits,
    pub memory: MemoryGuard,
    pub cpu: CpuBudget,
    pub sampling: Sampler,
    pub elicitation: Elicitor,
    pub roots: RootsAsker,
    pub files: Appender,
    pub log: Logger,
    pub progress: Reporter,
    pub http: HttpGate,
    http_ctx: WasiHttpCtx,
    pub settings: Settings,
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
        // Random numbers come from a CSPRNG seeded per call (from the OS, or
        // from the state of the call being replayed).
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .max_random_size(MAX_RANDOM_BYTES)
            .secure_random(StdRng::from_seed(call.seed))
            .insecure_random(StdRng::from_seed(derived(&call.seed, b"insecure")))
            .insecure_random_seed(u128::from_le_bytes(
                derived(&call.seed, b"insecure-seed")[..16]
                    .try_into()
                    .expect("16 bytes"),
            ))
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HANDLES);
        let limits = call.limits;
        let memory = MemoryGuard::new(
            usize::try_from(limits.memory_mib * 1024 * 1024).unwrap_or(usize::MAX),
        );
        let log_budget = LogBudget::new(limits.log_lines, limits.log_bytes);
        let cpu = CpuBudget {
            used: CpuUsed::default(),
            budget: std::time::Duration::from_millis(limits.cpu_time_ms),
            hit: false,
        };
        let caller = Caller {
            plugin: call.plugin.clone(),
            tool: call.tool.clone(),
            client: call.client.clone(),
        };
        let http = HttpGate::new(call.plugin.clone(), call.http);
        CallState {
            plugin: call.plugin.clone(),
            limits,
            memory,
            cpu,
            sampling: Sampler::new(
                caller.clone(),
                call.sampling,
                call.sampling_policy,
                call.budget,
                call.audit,
            )
            .replaying(call.replayed_samples)
            .audited_as(call.sampling_audit),
            elicitation: Elicitor::new(caller, call.client_route.clone(), call.elicitation_policy),
            roots: RootsAsker::new(call.client_route, call.roots_policy),
            files: Appender {
                plugin: call.plugin.clone(),
                grants: call.grants,
                append_bytes: limits.append_bytes,
                log_budget: log_budget.clone(),
                staged: call
                    .stage_effects
                    .then(|| Staged::new(limits.memory_mib.saturating_mul(1024 * 1024))),
            },
            log: Logger {
                plugin: call.plugin,
                budget: log_budget,
                notifier: call.notifier.clone(),
            },
            progress: Reporter {
                gate: ProgressGate::default(),
                notifier: call.notifier,
            },
            http,
            http_ctx: WasiHttpCtx::new(),
            settings: call.settings,
            wasi,
            table,
            stdout,
            stderr,
        }
    }

    /// Log what the guest wrote to stdout and stderr, under its name and
    /// within the call's log budget.
    fn log_captured_output(&mut self) {
        for (stream, output) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let (text, dropped) = output.take();
            for line in text.lines().filter(|l| !l.is_empty()) {
                if self.log.budget.admit(&self.plugin, line.len()) {
                    tracing::info!(target: "plugin", plugin = %self.plugin, stream, "{line}");
                }
            }
            if dropped > 0 {
                tracing::warn!(target: "plugin", plugin = %self.plugin, stream, dropped, "plugin output over the {CAPTURED_OUTPUT_CAP}-byte cap was dropped");
            }
        }
    }
}

/// The store is dropped however the call ends (result, trap, limit,
/// cancellation, expiry), so this is where captured output is logged: it is
/// never lost exactly when it matters.
impl Drop for CallState {
    fn drop(&mut self) {
        self.log_captured_output();
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

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.http,
            table: &mut self.table,
            ctx: &mut self.http_ctx,
        }
    }
}

/// `content` holds only types; its (empty) host side is here.
impl crate::bindings::content::Host for CallState {}
