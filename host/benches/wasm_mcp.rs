//! Where a call's time and a host's memory go.
//!
//! `cargo bench --bench wasm_mcp` builds the plugins and the release binary,
//! then measures, in one run so that ratios compare like with like:
//! - component costs: compile, load from the cache, and one call's wasm step
//!   (fresh instance + guest call), with the pooling and on-demand allocators;
//! - end to end: a sampled `process_log_entry` over stdio and HTTP, in both
//!   protocol eras, sequential and 16 at once, against a client that answers
//!   sampling at once;
//! - 10,000 calls parked in `sample()` at once, in both eras: RSS and the time
//!   to resume them all;
//! - start to the first `tools/list` with 10 plugins, cold and warm cache;
//!   idle RSS;
//! - the same tool (the log archiver) in Rust, Python and TypeScript: size,
//!   compile, cached load, and the wasm step per call.
//!
//! Set `BENCH_QUICK=1` for a fast smoke run with small counts, and
//! `BENCH_PERF=<folder>` to record a `perf` profile of each measured server,
//! `BENCH_BINARY=<path>` to measure another build of `wasm-mcp`, and
//! `BENCH_SMAPS=<folder>` to see where parked calls' memory lies.
#![allow(deprecated)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
    CreateMessageRequestParams, CreateMessageResult, Implementation, ProtocolVersion,
    SamplingMessage,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData as McpError, ServiceExt,
};
use serde_json::json;
use tokio::sync::Semaphore;
use wasm_mcp_host::bindings::sampling::Error as SampleError;
use wasm_mcp_host::capabilities::sampling::{BoxFuture, RouteName, SampleRoute, Sampled};
use wasm_mcp_host::config::{Config, Grant, Limits, PluginConfig, SamplingPolicy};
use wasm_mcp_host::routes::Nobody;
use wasm_mcp_host::runtime::cache::CompileCache;
use wasm_mcp_host::runtime::exports;
use wasm_mcp_host::runtime::{Allocator, CallContext, Plugin, Runtime, RuntimeOptions};

fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

fn scaled(full: usize, quick_count: usize) -> usize {
    if quick() { quick_count } else { full }
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let plugins = build_plugins();
    println!("# wasm-mcp benchmarks\n");
    println!(
        "machine: {} cores, {}\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_model()
    );
    // BENCH_ONLY=component|contract|end-to-end|parked|resume|startup|languages runs one section.
    let only = std::env::var("BENCH_ONLY").ok();
    let runs = |section: &str| only.as_deref().is_none_or(|o| o == section);
    runtime.block_on(async {
        if runs("component") {
            component_costs(&plugins).await;
        }
        if runs("contract") {
            contract_costs(&plugins).await;
        }
        if runs("end-to-end") {
            end_to_end().await;
        }
        if runs("parked") {
            parked(&plugins).await;
        }
        if runs("resume") {
            resume(&plugins, None).await;
            // The same with the replicas sharing Redis: each retry claims its
            // round there, and each call records its commit.
            let redis = RedisServer::start();
            resume(&plugins, Some(&redis.url)).await;
        }
        if runs("startup") {
            startup(&plugins).await;
        }
        if runs("languages") {
            languages(&plugins).await;
        }
    });
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Build the plugin workspace; return its release folder.
fn build_plugins() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let plugins = root.join("plugins");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&plugins)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--workspace",
            "--quiet",
        ])
        .arg("--target-dir")
        .arg(plugins.join("target"))
        .status()
        .unwrap();
    assert!(status.success());
    plugins.join("target/wasm32-wasip2/release")
}

struct Stats {
    samples: Vec<Duration>,
}

impl Stats {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Stats { samples }
    }
    fn pct(&self, p: f64) -> Duration {
        self.samples[((self.samples.len() - 1) as f64 * p).round() as usize]
    }
    fn p50(&self) -> Duration {
        self.pct(0.5)
    }
    fn p99(&self) -> Duration {
        self.pct(0.99)
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

// ---------------------------------------------------------------- contract

/// What contract 0.2's richer results cost per call: the same 43-byte text
/// from a 0.1 tool (`probe_result`) and a 0.2 one (`test_simple_text`,
/// a content block checked and converted by the host), in one runtime; and
/// the host's result conversion alone.
async fn contract_costs(plugins: &Path) {
    println!("## Contract 0.1 vs 0.2 (in process)\n");
    let scratch = tempfile::tempdir().unwrap();
    let mut fixture = plugin_config(
        "conformance",
        &plugins.join("conformance.wasm"),
        scratch.path(),
        64,
    );
    fixture.grants.clear();
    let config = Config {
        origin: "bench".into(),
        plugins: vec![
            plugin_config("probe", &plugins.join("probe.wasm"), scratch.path(), 64),
            fixture,
        ],
        cache_dir: None,
        llm: None,
        audit: Default::default(),
    };
    let runtime = Runtime::load(&config, &RuntimeOptions::default())
        .await
        .unwrap();
    let calls = if quick() { 200 } else { 5000 };
    let (probe, _) = runtime.find("probe_result").unwrap();
    let (fixture, _) = runtime.find("test_simple_text").unwrap();
    let old = time_runs(calls, || {
        probe.call("probe_result", r#"{"bytes":43}"#, in_process(probe))
    })
    .await;
    let new = time_runs(calls, || {
        fixture.call("test_simple_text", "{}", in_process(fixture))
    })
    .await;
    let conversions = if quick() { 1000 } else { 100_000 };
    let direct = time_sync(conversions, || {
        rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text(
            "This is a simple text response for testing.",
        )])
    });
    let checked = time_sync(conversions, || {
        let value = json!({"content": [{"type": "text", "text": "This is a simple text response for testing."}], "isError": false});
        let value = exports::check_tool_result(value, None).unwrap();
        let _ = exports::payload_size(&value);
        exports::to_mcp::<rmcp::model::CallToolResult>(exports::complete_result(value)).unwrap()
    });
    println!(
        "| call ({calls} sequential, {:?} allocator) | p50 | p99 |\n| --- | --- | --- |",
        runtime.allocator
    );
    println!(
        "| 0.1 `probe_result`, 43 bytes of text | {} | {} |",
        us(old.p50()),
        us(old.p99())
    );
    println!(
        "| 0.2 `test_simple_text`, one text block | {} | {} |",
        us(new.p50()),
        us(new.p99())
    );
    println!(
        "\nResult conversion alone, mean of {conversions}: direct `CallToolResult::success` {:.2} µs, checked JSON path {:.2} µs\n",
        direct.as_secs_f64() * 1e6,
        checked.as_secs_f64() * 1e6
    );
}

/// The mean time of `runs` runs of `run`.
fn time_sync<T>(runs: u32, mut run: impl FnMut() -> T) -> Duration {
    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(run());
    }
    started.elapsed() / runs
}

// ---------------------------------------------------------------- component

/// Answers every sampling request at once, in-process.
struct Instant_;

impl SampleRoute for Instant_ {
    fn name(&self) -> RouteName {
        RouteName {
            route: "client",
            via: "session",
        }
    }

    fn sample(
        &self,
        _: CreateMessageRequestParams,
        _: Duration,
    ) -> BoxFuture<'_, Result<Sampled, SampleError>> {
        Box::pin(std::future::ready(Ok(Sampled {
            result: answer(),
            usage: None,
        })))
    }
}

fn answer() -> CreateMessageResult {
    CreateMessageResult::new(
        SamplingMessage::assistant_text("A deadlock."),
        "bench".into(),
    )
}

fn plugin_config(
    name: &str,
    component: &Path,
    grant_base: &Path,
    concurrent_calls: usize,
) -> PluginConfig {
    PluginConfig {
        name: name.into(),
        tool_prefix: String::new(),
        component: wasm_mcp_host::config::ComponentSource::File(component.to_path_buf()),
        grants: vec![Grant {
            pattern: "incident_report.txt".into(),
            base: grant_base.to_path_buf(),
        }],
        limits: Limits {
            concurrent_calls,
            quota_mib: 100_000,
            ..Limits::default()
        },
        sampling: SamplingPolicy::default(),
        elicitation: Default::default(),
        roots: Default::default(),
        http: Default::default(),
        settings: Default::default(),
        sha256: None,
    }
}

async fn component_costs(plugins: &Path) {
    println!("## Component costs (in process)\n");
    let scratch = tempfile::tempdir().unwrap();
    let archiver = plugins.join("log_archiver.wasm");
    let probe = plugins.join("probe.wasm");
    let config = Config {
        origin: "bench".into(),
        plugins: vec![
            plugin_config("log-archiver", &archiver, scratch.path(), 64),
            plugin_config("probe", &probe, scratch.path(), 64),
        ],
        cache_dir: None,
        llm: None,
        audit: Default::default(),
    };
    let timed = |options: RuntimeOptions| {
        let config = config.clone();
        async move {
            let started = Instant::now();
            let runtime = Runtime::load(&config, &options).await.unwrap();
            (started.elapsed(), runtime)
        }
    };
    let cache_dir = scratch.path().join("cache");
    let cached = || RuntimeOptions {
        cache: Some(CompileCache::new(cache_dir.clone())),
        allocator: Allocator::OnDemand,
        ..RuntimeOptions::default()
    };
    let (compile, _) = timed(RuntimeOptions {
        cache: None,
        allocator: Allocator::OnDemand,
        ..RuntimeOptions::default()
    })
    .await;
    let _ = timed(cached()).await; // fill the cache
    let mut warm = Vec::new();
    for _ in 0..5 {
        warm.push(timed(cached()).await.0);
    }
    let warm = Stats::new(warm).p50();
    println!("| step | time |\n| --- | --- |");
    println!(
        "| load 2 plugins, compiling (~110 KB and ~130 KB components) | {} |",
        ms(compile)
    );
    println!("| load 2 plugins from the compile cache | {} |", ms(warm));
    println!(
        "| cache speed-up | {:.0}× |\n",
        compile.as_secs_f64() / warm.as_secs_f64()
    );

    let calls = scaled(5000, 300);
    println!(
        "Per call, {calls} sequential calls (fresh store + instance + guest call), sampling answered in process:\n"
    );
    println!(
        "| allocator | `probe_sample` (no I/O) p50 | p99 | `process_log_entry` (one append) p50 | p99 |\n| --- | --- | --- | --- | --- |"
    );
    let mut p50s = Vec::new();
    let mut breakdown = Vec::new();
    for allocator in [Allocator::Pooling, Allocator::OnDemand] {
        let (_, runtime) = timed(RuntimeOptions {
            cache: Some(CompileCache::new(cache_dir.clone())),
            allocator,
            ..RuntimeOptions::default()
        })
        .await;
        assert_eq!(runtime.allocator, allocator);
        let mut row = Vec::new();
        for (tool, args) in [
            ("probe_sample", json!({"prompt": "hi"}).to_string()),
            (
                "process_log_entry",
                json!({"log_line": "ERROR: deadlock detected"}).to_string(),
            ),
        ] {
            let (plugin, _) = runtime.find(tool).unwrap();
            row.push(time_runs(calls, || plugin.call(tool, &args, in_process(plugin))).await);
        }
        p50s.push(row[0].p50());
        // Where the wasm step goes: store alone, store + instance, a guest
        // call that does nothing but return.
        let (probe, _) = runtime.find("probe_result").unwrap();
        let parts = [
            time_runs(calls, || probe.bench_setup(false)).await.p50(),
            time_runs(calls, || probe.bench_setup(true)).await.p50(),
            time_runs(calls, || {
                probe.call("probe_result", r#"{"bytes":1}"#, in_process(probe))
            })
            .await
            .p50(),
        ];
        breakdown.push((allocator, parts));
        println!(
            "| {allocator:?} | {} | {} | {} | {} |",
            us(row[0].p50()),
            us(row[0].p99()),
            us(row[1].p50()),
            us(row[1].p99())
        );
    }
    println!(
        "\nPooling vs on demand, wasm step p50: {:.2}× faster\n",
        p50s[1].as_secs_f64() / p50s[0].as_secs_f64()
    );
    println!("Where the wasm step goes (p50; each column adds to the one before):\n");
    println!(
        "| allocator | store + WASI context | + instance | + guest call `probe_result` (returns at once) |\n| --- | --- | --- | --- |"
    );
    for (allocator, parts) in breakdown {
        println!(
            "| {allocator:?} | {} | {} | {} |",
            us(parts[0]),
            us(parts[1]),
            us(parts[2])
        );
    }
    println!();
}

/// A call context whose sampling is answered in process.
fn in_process(plugin: &Plugin) -> CallContext {
    CallContext::new(
        plugin,
        "bench",
        "bench".into(),
        Arc::new(Nobody("benchmarks ask no client".into())),
        Some(Arc::new(Instant_)),
        Default::default(),
        Default::default(),
    )
}

/// Statistics of `runs` runs of `run` (each must succeed), after 50 warm-up runs.
async fn time_runs<F, Fut, T, E>(runs: usize, mut run: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs + 50 {
        let started = Instant::now();
        run().await.unwrap();
        if i >= 50 {
            samples.push(started.elapsed());
        }
    }
    Stats::new(samples)
}

// ---------------------------------------------------------------- end to end

/// A client that answers sampling at once, or after `gate` opens.
#[derive(Clone)]
struct Client {
    modern: bool,
    gate: Option<Arc<Semaphore>>,
    asked: Arc<std::sync::atomic::AtomicUsize>,
}

impl ClientHandler for Client {
    async fn create_message(
        &self,
        _: CreateMessageRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(gate) = &self.gate {
            let _permit = gate.acquire().await.unwrap();
        }
        Ok(answer())
    }
    fn get_info(&self) -> ClientConfig {
        let mut config = ClientConfig::new(
            ClientCapabilities::builder().enable_sampling().build(),
            Implementation::new("bench", "1"),
        );
        config.protocol_version = if self.modern {
            ProtocolVersion::V_2026_07_28
        } else {
            ProtocolVersion::V_2025_11_25
        };
        config
    }
}

impl Client {
    fn new(modern: bool) -> Self {
        Client {
            modern,
            gate: None,
            asked: Default::default(),
        }
    }

    async fn connect<T, E, A>(self, transport: T) -> RunningService<RoleClient, Client>
    where
        T: rmcp::transport::IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        if self.modern {
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            self.serve_with_lifecycle(transport, lifecycle)
                .await
                .unwrap()
        } else {
            self.serve(transport).await.unwrap()
        }
    }
}

/// The server binary: this build's, or `BENCH_BINARY` (another build, to
/// compare two in one run).
fn binary() -> String {
    std::env::var("BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_wasm-mcp").into())
}

/// A server process; HTTP when `http`, else connected over stdio by the caller.
struct Server {
    child: Option<std::process::Child>,
    url: String,
    pid: u32,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn serve_http(cwd: &Path, args: &[&str]) -> Server {
    let child = Command::new(binary())
        .current_dir(cwd)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("WASM_MCP_LOG", "error")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server {
        pid: child.id(),
        url: String::new(),
        child: Some(child),
    };
    let stderr = server.child.as_mut().and_then(|c| c.stderr.take()).unwrap();
    let mut stderr = std::io::BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        if let Some(url) = line.strip_prefix("wasm-mcp: serving MCP at ") {
            server.url = url.trim().into();
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return server;
        }
    }
}

async fn connect_stdio(
    cwd: &Path,
    args: &[&str],
    client: Client,
) -> (RunningService<RoleClient, Client>, u32) {
    let mut command = tokio::process::Command::new(binary());
    command
        .current_dir(cwd)
        .args(["serve", "--stdio"])
        .args(args)
        .env("WASM_MCP_LOG", "error");
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = transport.id().unwrap();
    (client.connect(transport).await, pid)
}

/// The CPU time (user + system) process `pid` has used so far. `/proc`
/// counts it in USER_HZ ticks, which Linux fixes at 100 per second.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) end with `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `)`.
    let ticks: u64 = fields
        .get(11..13)
        .map(|t| t.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// With `BENCH_SMAPS=<folder>`, where the parked server's resident memory
/// lies: RSS summed by kind of mapping, written to `<folder>/<label>.txt`.
fn record_smaps(pid: u32, label: &str) {
    let Some(folder) = std::env::var_os("BENCH_SMAPS") else {
        return;
    };
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut by_kind = std::collections::BTreeMap::<String, (u64, u64, u64)>::new();
    let (mut kind, mut size_kib) = (String::new(), 0u64);
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // A mapping: name it by its path, or by its size for anonymous ones.
            let path = line.split_whitespace().nth(5).unwrap_or("");
            let (start, end) = first.split_once('-').unwrap();
            size_kib = (u64::from_str_radix(end, 16).unwrap()
                - u64::from_str_radix(start, 16).unwrap())
                / 1024;
            kind = if path.is_empty() {
                format!("anonymous, {} KiB mappings", size_kib)
            } else {
                path.to_string()
            };
        } else if first == "Rss:" {
            let rss: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            let entry = by_kind.entry(kind.clone()).or_default();
            entry.0 += 1;
            entry.1 += rss;
            entry.2 += size_kib;
        }
    }
    let mut rows: Vec<_> = by_kind
        .into_iter()
        .filter(|(_, (_, rss, _))| *rss > 0)
        .collect();
    rows.sort_by_key(|(_, (_, rss, _))| std::cmp::Reverse(*rss));
    let text: String = rows
        .iter()
        .take(25)
        .map(|(kind, (count, rss, _))| format!("{rss:>10} KiB RSS  {count:>6} mappings  {kind}\n"))
        .collect();
    let folder = PathBuf::from(folder);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(format!("{label}.txt")), text).unwrap();
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn log_line_args(i: usize) -> CallToolRequestParams {
    CallToolRequestParams::new("process_log_entry").with_arguments(
        json!({"log_line": format!("ERROR {i}: deadlock detected")})
            .as_object()
            .unwrap()
            .clone(),
    )
}

/// A bare `tools/call`: the probe returns 16 bytes, no sampling, no I/O.
fn bare_args(_: usize) -> CallToolRequestParams {
    CallToolRequestParams::new("probe_result")
        .with_arguments(json!({"bytes": 16}).as_object().unwrap().clone())
}

async fn measure(
    client: &RunningService<RoleClient, Client>,
    total: usize,
    concurrency: usize,
    args: fn(usize) -> CallToolRequestParams,
) -> (Stats, f64) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let next = next.clone();
        async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return samples;
                }
                let t = Instant::now();
                let result = client.call_tool(args(i)).await.unwrap();
                assert_ne!(result.is_error, Some(true), "{result:?}");
                samples.push(t.elapsed());
            }
        }
    });
    let samples: Vec<Duration> = futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let rate = total as f64 / started.elapsed().as_secs_f64();
    (Stats::new(samples), rate)
}

/// With `BENCH_PERF=<folder>`, a `perf record -g` of the server process
/// while it is measured, written to `<folder>/<label>.data`.
struct Profile(Option<std::process::Child>);

impl Profile {
    fn start(pid: u32, label: &str) -> Profile {
        let Some(folder) = std::env::var_os("BENCH_PERF") else {
            return Profile(None);
        };
        let folder = PathBuf::from(folder);
        std::fs::create_dir_all(&folder).unwrap();
        let child = Command::new("perf")
            .args([
                "record",
                "-F",
                "2999",
                "-g",
                "-q",
                "-p",
                &pid.to_string(),
                "-o",
            ])
            .arg(folder.join(format!("{label}.data")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("BENCH_PERF needs `perf` on PATH");
        std::thread::sleep(Duration::from_millis(300));
        Profile(Some(child))
    }

    fn stop(self) {
        if let Some(mut child) = self.0 {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Stdio,
    /// A client that keeps its connection open between requests, as
    /// browsers, `httpx` (the Python SDK) and `undici` (Node) do.
    Http,
    /// rmcp's default client, which keeps no idle connection
    /// (`pool_max_idle_per_host(0)`): a TCP connection per request.
    HttpNoReuse,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "HTTP",
            Transport::HttpNoReuse => "HTTP, a connection per request",
        }
    }
}

/// rmcp's HTTP client transport with a pooling `reqwest` client.
fn keep_alive_transport(url: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    StreamableHttpClientTransport::with_client(
        reqwest::Client::new(),
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url),
    )
}

/// Sequential and 16-at-once calls over stdio and HTTP in both eras, with
/// latency, calls/s and the server's CPU per call. `config` is written to
/// the server's folder as `wasm-mcp.toml` when given.
async fn matrix(name: &str, config: Option<&str>, args: fn(usize) -> CallToolRequestParams) {
    println!(
        "| transport | era | sequential p50 | p99 | calls/s | server CPU/call | 16 at once p50 | p99 | calls/s | server CPU/call |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let total = scaled(2000, 100);
    for transport in [Transport::Stdio, Transport::Http, Transport::HttpNoReuse] {
        let http = transport != Transport::Stdio;
        for modern in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut server_args = Vec::new();
            if let Some(config) = config {
                let path = dir.path().join("wasm-mcp.toml");
                std::fs::write(&path, config).unwrap();
                server_args = vec!["--config".to_string(), path.to_str().unwrap().to_string()];
            }
            let server_args: Vec<&str> = server_args.iter().map(String::as_str).collect();
            let (client, _server, pid) = if http {
                let server = serve_http(dir.path(), &server_args);
                let url = server.url.as_str();
                let client = if transport == Transport::HttpNoReuse {
                    Client::new(modern)
                        .connect(StreamableHttpClientTransport::from_uri(url))
                        .await
                } else {
                    Client::new(modern).connect(keep_alive_transport(url)).await
                };
                let pid = server.pid;
                (client, Some(server), pid)
            } else {
                let (client, pid) =
                    connect_stdio(dir.path(), &server_args, Client::new(modern)).await;
                (client, None, pid)
            };
            let transport = transport.label();
            let era = if modern { "2026-07-28" } else { "2025-11-25" };
            measure(&client, 50, 1, args).await; // warm up
            let profile = Profile::start(pid, &format!("{name}-{transport}-{era}"));
            let before = cpu_time(pid);
            let (sequential, seq_rate) = measure(&client, total, 1, args).await;
            let between = cpu_time(pid);
            let (concurrent, con_rate) = measure(&client, total, 16, args).await;
            let after = cpu_time(pid);
            profile.stop();
            println!(
                "| {transport} | {era} | {} | {} | {:.0} | {} | {} | {} | {:.0} | {} |",
                ms(sequential.p50()),
                ms(sequential.p99()),
                seq_rate,
                ms((between - before) / total as u32),
                ms(concurrent.p50()),
                ms(concurrent.p99()),
                con_rate,
                ms((after - between) / total as u32),
            );
            let _ = client.cancel().await;
        }
    }
    println!();
}

async fn end_to_end() {
    println!("## End to end: sampled `process_log_entry` (embedded log archiver, release build)\n");
    println!(
        "The client (rmcp, same machine) answers sampling at once. Each call: tools/call, one sampling round trip, one append.\n"
    );
    println!(
        "Server CPU is the server process's user + system time (from `/proc/PID/stat`) over the calls, divided by their number: it does not depend on the client.\n"
    );
    matrix("sampled", None, log_line_args).await;
    println!(
        "## End to end: a bare `tools/call` (the probe returns 16 bytes; no sampling, no I/O)\n"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let probe = root.join("plugins/target/wasm32-wasip2/release/probe.wasm");
    matrix(
        "bare",
        Some(&format!("[[plugin]]\ncomponent = {probe:?}\n")),
        bare_args,
    )
    .await;
    decomposition(scaled(2000, 100)).await;
}

/// Where an end-to-end call's time goes: a bare tool call (no sampling, no
/// I/O), one with a sampling round trip, and the log archiver's (sampling
/// plus an append), each sequential, legacy era.
async fn decomposition(total: usize) {
    println!(
        "Where the time goes (sequential p50, 2025-11-25; each row adds one thing to the one above):\n"
    );
    println!("| call | stdio | HTTP |\n| --- | --- | --- |");
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let release = root.join("plugins/target/wasm32-wasip2/release");
    let config = dir.path().join("wasm-mcp.toml");
    std::fs::write(
        &config,
        format!(
            "[[plugin]]\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n[[plugin]]\ncomponent = {:?}\n",
            release.join("log_archiver.wasm"),
            release.join("probe.wasm")
        ),
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let cases = [
        (
            "`probe_result`: tools/call round trip + wasm step",
            "probe_result",
            json!({"bytes": 2}),
        ),
        (
            "`probe_sample`: + one sampling round trip",
            "probe_sample",
            json!({"prompt": "hi"}),
        ),
        (
            "`process_log_entry`: + prompt, report and one append",
            "process_log_entry",
            json!({"log_line": "ERROR: deadlock"}),
        ),
    ];
    let mut rows = vec![Vec::new(); cases.len()];
    for http in [false, true] {
        let (client, _server) = if http {
            let server = serve_http(dir.path(), &args);
            let client = Client::new(false)
                .connect(keep_alive_transport(server.url.as_str()))
                .await;
            (client, Some(server))
        } else {
            (
                connect_stdio(dir.path(), &args, Client::new(false)).await.0,
                None,
            )
        };
        for (row, (_, tool, arguments)) in rows.iter_mut().zip(&cases) {
            let params = CallToolRequestParams::new(*tool)
                .with_arguments(arguments.as_object().unwrap().clone());
            let mut samples = Vec::new();
            for i in 0..total + 50 {
                let started = Instant::now();
                client.call_tool(params.clone()).await.unwrap();
                if i >= 50 {
                    samples.push(started.elapsed());
                }
            }
            row.push(Stats::new(samples).p50());
        }
        let _ = client.cancel().await;
    }
    for ((label, _, _), row) in cases.iter().zip(rows) {
        println!("| {label} | {} | {} |", ms(row[0]), ms(row[1]));
    }
    println!();
}

// ---------------------------------------------------------------- parked

async fn parked(_plugins: &Path) {
    let count = scaled(10_000, 500);
    println!("## {count} calls parked in `sample()` at once\n");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wasm-mcp.toml");
    std::fs::write(
        &config,
        format!(
            "[[plugin]]\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n[plugin.limits]\nconcurrent_calls = {}\n",
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("plugins/target/wasm32-wasip2/release/log_archiver.wasm"),
            count + 100
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let max_parked = (count + 100).to_string();
    // One client parks them all: raise its per-client share too.
    let args = [
        "--config",
        config.as_str(),
        "--max-parked-calls",
        max_parked.as_str(),
        "--max-client-calls",
        max_parked.as_str(),
    ];
    println!(
        "| era | transport | idle RSS | RSS with all parked | per parked call | park all | resume all |\n| --- | --- | --- | --- | --- | --- | --- |"
    );

    // 2026-07-28: each call answers input_required and parks; retries resume them.
    {
        let server = serve_http(dir.path(), &args);
        let client = Client::new(true)
            .connect(StreamableHttpClientTransport::from_uri(server.url.as_str()))
            .await;
        let idle = rss_mib(server.pid);
        let started = Instant::now();
        let rounds = futures::future::join_all((0..count).map(|i| {
            let client = &client;
            async move {
                let params = log_line_args(i);
                match client.call_tool_once(params.clone()).await.unwrap() {
                    CallToolResponse::InputRequired(round) => (params, round),
                    _ => panic!("expected a round"),
                }
            }
        }))
        .await;
        let park = started.elapsed();
        let full = rss_mib(server.pid);
        record_smaps(server.pid, "parked-HTTP-2026-07-28");
        let started = Instant::now();
        futures::future::join_all(rounds.into_iter().map(|(params, round)| {
            let client = &client;
            async move {
                let key = round
                    .input_requests
                    .as_ref()
                    .unwrap()
                    .keys()
                    .next()
                    .unwrap()
                    .clone();
                let mut retry = params;
                retry.request_state = round.request_state;
                retry.input_responses =
                    Some([(key, serde_json::to_value(answer()).unwrap())].into());
                match client.call_tool_once(retry).await.unwrap() {
                    CallToolResponse::Complete(result) => assert_ne!(result.is_error, Some(true)),
                    _ => panic!("expected the result"),
                }
            }
        }))
        .await;
        let resume = started.elapsed();
        println!(
            "| 2026-07-28 | HTTP | {idle:.1} MiB | {full:.1} MiB | {:.1} KiB | {} | {} |",
            (full - idle) * 1024.0 / count as f64,
            ms(park),
            ms(resume)
        );
        let _ = client.cancel().await;
    }

    // 2025-11-25: calls wait in sample() on one session until the client answers.
    {
        let gate = Arc::new(Semaphore::new(0));
        let mut client = Client::new(false);
        client.gate = Some(gate.clone());
        let asked = client.asked.clone();
        let (session, pid) = connect_stdio(dir.path(), &args, client).await;
        let idle = rss_mib(pid);
        let started = Instant::now();
        let calls = tokio::spawn({
            let peer = session.peer().clone();
            async move {
                futures::future::join_all((0..count).map(|i| {
                    let peer = peer.clone();
                    async move {
                        let result = peer.call_tool(log_line_args(i)).await.unwrap();
                        assert_ne!(result.is_error, Some(true));
                    }
                }))
                .await
            }
        });
        while asked.load(std::sync::atomic::Ordering::Relaxed) < count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let park = started.elapsed();
        let full = rss_mib(pid);
        record_smaps(pid, "parked-stdio-2025-11-25");
        let started = Instant::now();
        gate.add_permits(count);
        calls.await.unwrap();
        let resume = started.elapsed();
        println!(
            "| 2025-11-25 | stdio | {idle:.1} MiB | {full:.1} MiB | {:.1} KiB | {} | {} |",
            (full - idle) * 1024.0 / count as f64,
            ms(park),
            ms(resume)
        );
        let _ = session.cancel().await;
    }
    println!();
}

// ---------------------------------------------------------------- resume

/// A 2026-07-28 call of two rounds (`ask_with_random`), resumed where it
/// parked (the fast path) or by replay on another process sharing the state
/// key, and the size of `requestState` per round.
async fn resume(plugins: &Path, redis: Option<&str>) {
    let count = scaled(300, 30);
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("state.keys");
    std::fs::write(&keys, format!("k1 {}\n", "ab".repeat(32))).unwrap();
    let config = dir.path().join("wasm-mcp.toml");
    std::fs::write(
        &config,
        format!(
            "[[plugin]]\ncomponent = {:?}\n[plugin.limits]\nconcurrent_calls = 1000\n",
            plugins.join("replayable.wasm")
        ),
    )
    .unwrap();
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "--state-key-file",
        keys.to_str().unwrap(),
        // Without Redis, a call replayed elsewhere leaves its first run
        // parked here until it expires, holding a slot of this one client.
        "--max-client-calls",
        "1000",
    ];
    if let Some(url) = redis {
        args.extend(["--redis", url]);
    }
    let (a, b) = (serve_http(dir.path(), &args), serve_http(dir.path(), &args));
    let to_a = Client::new(true)
        .connect(keep_alive_transport(&a.url))
        .await;
    let to_b = Client::new(true)
        .connect(keep_alive_transport(&b.url))
        .await;
    // An answer the size of a short LLM reply (~100 tokens).
    let reply = |text: &str| {
        serde_json::to_value(CreateMessageResult::new(
            SamplingMessage::assistant_text(format!("{text} {}", "lorem ipsum ".repeat(40))),
            "bench".into(),
        ))
        .unwrap()
    };
    let step = |client: &rmcp::Peer<rmcp::RoleClient>, params: CallToolRequestParams| {
        let client = client.clone();
        async move {
            let started = Instant::now();
            let response = client.call_tool_once(params).await.unwrap();
            (started.elapsed(), response)
        }
    };
    let retry =
        |params: &CallToolRequestParams, round: &rmcp::model::InputRequiredResult, answer| {
            let key = round
                .input_requests
                .as_ref()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone();
            let mut retry = params.clone();
            retry.request_state = round.request_state.clone();
            retry.input_responses = Some([(key, answer)].into());
            retry
        };
    let mut sizes = (0, 0);
    let mut times: [Vec<Duration>; 4] = Default::default();
    for i in 0..count {
        let params = CallToolRequestParams::new("ask_with_random");
        let replayed = i % 2 == 1;
        let (_, first) = step(to_a.peer(), params.clone()).await;
        let CallToolResponse::InputRequired(first) = first else {
            panic!("expected round 1")
        };
        // Round 2 where it parked, or on B (which replays round 1).
        let (t1, second) = step(
            if replayed { to_b.peer() } else { to_a.peer() },
            retry(&params, &first, reply("one")),
        )
        .await;
        let CallToolResponse::InputRequired(second) = second else {
            panic!("expected round 2")
        };
        // The end where round 2 parked, or back on A (which replays both).
        let (t2, done) = step(to_a.peer(), retry(&params, &second, reply("two"))).await;
        let CallToolResponse::Complete(result) = done else {
            panic!("expected the result")
        };
        assert_ne!(result.is_error, Some(true));
        let slot = if replayed { 2 } else { 0 };
        times[slot].push(t1);
        times[slot + 1].push(t2);
        sizes = (
            first.request_state.as_ref().map_or(0, String::len),
            second.request_state.as_ref().map_or(0, String::len),
        );
    }
    let shared = if redis.is_some() {
        "with `--redis` (a local redis-server)"
    } else {
        "without Redis"
    };
    println!("## Resuming a 2026-07-28 call: where it parked, or replayed elsewhere, {shared}\n");
    println!(
        "`ask_with_random` (two sampling rounds; answers of ~500 bytes), HTTP keep-alive, {count} calls, alternately resumed where they parked and replayed, latency of each retry:\n"
    );
    println!(
        "| retry | where it parked (p50 / p99) | replayed on another process (p50 / p99) |\n| --- | --- | --- |"
    );
    for (name, local, replay) in [
        ("answers round 1 (replays 1 round)", 0, 2),
        ("answers round 2, completes (replays 2 rounds)", 1, 3),
    ] {
        let (local, replay) = (
            Stats::new(times[local].clone()),
            Stats::new(times[replay].clone()),
        );
        println!(
            "| {name} | {} / {} | {} / {} |",
            ms(local.p50()),
            ms(local.p99()),
            ms(replay.p50()),
            ms(replay.p99())
        );
    }
    println!(
        "\n`requestState` size: {} bytes after round 1 (no answers yet), {} bytes after round 2 (one answer)\n",
        sizes.0, sizes.1
    );
    let _ = to_a.cancel().await;
    let _ = to_b.cancel().await;
}

/// A `redis-server` on a free loopback port, keeping nothing on disk;
/// stopped on drop.
struct RedisServer {
    child: std::process::Child,
    url: String,
}

impl RedisServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the resume bench needs redis-server (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}/0"),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- startup

async fn startup(plugins: &Path) {
    println!("## Start to first `tools/list`, 10 plugins\n");
    let dir = tempfile::tempdir().unwrap();
    // Ten distinct components: the log archiver with a different custom
    // section appended to each, loaded under ten tool prefixes.
    let archiver = std::fs::read(plugins.join("log_archiver.wasm")).unwrap();
    let mut config = String::new();
    for i in 0..10 {
        let mut bytes = archiver.clone();
        let name = b"bench";
        let payload = format!("variant {i}");
        let size = 1 + name.len() + payload.len();
        bytes.push(0);
        bytes.push(size as u8);
        bytes.push(name.len() as u8);
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(payload.as_bytes());
        let file = dir.path().join(format!("archiver{i}.wasm"));
        std::fs::write(&file, bytes).unwrap();
        config.push_str(&format!(
            "[[plugin]]\nname = \"a{i}\"\ntool_prefix = \"a{i}_\"\ncomponent = {file:?}\n"
        ));
    }
    let config_path = dir.path().join("wasm-mcp.toml");
    std::fs::write(&config_path, config).unwrap();
    let cache = dir.path().join("cache");
    let first_list = |fresh_cache: bool| {
        let config_path = config_path.clone();
        let cache = cache.clone();
        let dir = dir.path().to_path_buf();
        async move {
            if fresh_cache {
                let _ = std::fs::remove_dir_all(&cache);
            }
            let started = Instant::now();
            let mut command = tokio::process::Command::new(binary());
            command
                .current_dir(&dir)
                .args(["serve", "--stdio", "--config"])
                .arg(&config_path)
                .arg("--cache-dir")
                .arg(&cache)
                .env("WASM_MCP_LOG", "error");
            let (transport, _) = TokioChildProcess::builder(command)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let pid = transport.id().unwrap();
            let client = Client::new(false).connect(transport).await;
            let tools = client.list_all_tools().await.unwrap();
            let elapsed = started.elapsed();
            assert_eq!(tools.len(), 10);
            let rss = rss_mib(pid);
            let _ = client.cancel().await;
            (elapsed, rss)
        }
    };
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut idle = 0.0;
    for _ in 0..3 {
        cold.push(first_list(true).await.0);
        let (time, rss) = first_list(false).await;
        warm.push(time);
        idle = rss;
    }
    let cold = Stats::new(cold).p50();
    let warm = Stats::new(warm).p50();
    println!("| cache | time to first tools/list (median of 3) |\n| --- | --- |");
    println!("| cold | {} |\n| warm | {} |\n", ms(cold), ms(warm));
    println!(
        "Warm vs cold: {:.1}× faster. RSS after the first tools/list with 10 plugins: {idle:.1} MiB\n",
        cold.as_secs_f64() / warm.as_secs_f64()
    );

    let (client, pid) = connect_stdio(dir.path(), &[], Client::new(false)).await;
    client.list_all_tools().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!(
        "Idle RSS, embedded log archiver after `initialize` and `tools/list`: {:.1} MiB\n",
        rss_mib(pid)
    );
    let _ = client.cancel().await;
}

/// Run `command` in `dir`; panic with its output if it fails.
fn run_in(dir: &Path, command: &mut Command) {
    let output = command.current_dir(dir).output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The log archiver built with the Python SDK (in `target/python/wasm-mcp-sdk`,
/// made as the tests make it) and with the TypeScript SDK (`plugins/`' npm
/// workspaces, installed in place).
fn sdk_archivers(root: &Path) -> [PathBuf; 2] {
    let venv = root.join("target/python/wasm-mcp-sdk");
    if !venv.join("bin/python").exists() {
        run_in(
            root,
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        );
    }
    run_in(
        root,
        Command::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "./plugins/python-sdk",
        ]),
    );
    let python = root.join("target/python/py_log_archiver_bench.wasm");
    run_in(
        &root.join("plugins/py-log-archiver"),
        Command::new(venv.join("bin/python"))
            .args(["-m", "wasm_mcp", "build", "app.py", "-o"])
            .arg(&python),
    );
    let plugins = root.join("plugins");
    run_in(
        &plugins,
        Command::new("npm").args(["install", "--no-fund", "--no-audit"]),
    );
    run_in(&plugins, Command::new("npm").args(["run", "build"]));
    [python, plugins.join("ts-log-archiver/ts_log_archiver.wasm")]
}

async fn languages(plugins: &Path) {
    println!("## The same tool in Rust, Python and TypeScript (in process)\n");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let [python, typescript] = sdk_archivers(root);
    let scratch = tempfile::tempdir().unwrap();
    let calls = scaled(1000, 100);
    println!(
        "`process_log_entry` (one sample answered in process, one append); per call: fresh store + instance + guest call, {calls} sequential calls.\n"
    );
    println!(
        "| language | component | compile | load from cache | wasm step p50, pooling | p99 | p50, on demand | p99 |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for (language, component) in [
        ("Rust (SDK)", plugins.join("log_archiver.wasm")),
        ("Python (componentize-py 0.25)", python),
        ("TypeScript (componentize-js 0.23)", typescript),
    ] {
        let size = std::fs::metadata(&component).unwrap().len();
        let config = Config {
            origin: "bench".into(),
            plugins: vec![plugin_config("archiver", &component, scratch.path(), 64)],
            cache_dir: None,
            llm: None,
            audit: Default::default(),
        };
        let cache_dir = scratch.path().join(format!("cache-{size}"));
        let load = |cache: bool, allocator: Allocator| {
            let config = config.clone();
            let cache = cache.then(|| CompileCache::new(cache_dir.clone()));
            async move {
                let options = RuntimeOptions {
                    cache,
                    allocator,
                    ..RuntimeOptions::default()
                };
                let started = Instant::now();
                let runtime = Runtime::load(&config, &options).await.unwrap();
                (started.elapsed(), runtime)
            }
        };
        let (compile, _) = load(false, Allocator::OnDemand).await;
        let _ = load(true, Allocator::OnDemand).await; // fill the cache
        let mut warm = Vec::new();
        for _ in 0..5 {
            warm.push(load(true, Allocator::OnDemand).await.0);
        }
        let args = json!({"log_line": "ERROR: deadlock detected"}).to_string();
        let mut steps = Vec::new();
        for allocator in [Allocator::Pooling, Allocator::OnDemand] {
            let (_, runtime) = load(true, allocator).await;
            assert_eq!(runtime.allocator, allocator);
            let (plugin, _) = runtime.find("process_log_entry").unwrap();
            steps.push(
                time_runs(calls, || {
                    plugin.call("process_log_entry", &args, in_process(plugin))
                })
                .await,
            );
        }
        println!(
            "| {language} | {:.1} MB | {} | {} | {} | {} | {} | {} |",
            size as f64 / 1e6,
            ms(compile),
            ms(Stats::new(warm).p50()),
            us(steps[0].p50()),
            us(steps[0].p99()),
            us(steps[1].p50()),
            us(steps[1].p99())
        );
    }
    println!();
}
