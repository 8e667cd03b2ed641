//! Shared test harness: builds the plugins from source, starts the real
//! `wasm-mcp` binary, and connects rmcp's client to it with a sampling
//! handler that answers from a script and records what it was asked.
#![allow(dead_code, deprecated)]

pub mod fake_llm;
pub mod sdks;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    CreateMessageRequestParams, CreateMessageResult, ErrorCode, Implementation,
    InputRequiredResult, ProtocolVersion, SamplingMessage,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData as McpError, ServiceExt,
};
use serde_json::Value;

/// The `wasm-mcp` binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_wasm-mcp")
}

/// The compile cache the servers under test use (never the user's own).
pub fn test_cache_dir() -> PathBuf {
    repo_root().join("target/test-compile-cache")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Build every plugin in `plugins/` (once per test process) and return the
/// folder holding the `.wasm` components.
pub fn plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let plugins = repo_root().join("plugins");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .current_dir(&plugins)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--workspace",
            ])
            .arg("--target-dir")
            .arg(plugins.join("target"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("cannot run cargo to build the plugins");
        assert!(
            output.status.success(),
            "building the plugins failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        plugins.join("target/wasm32-wasip2/release")
    })
}

/// The built component of plugin crate `name` (`log-archiver`, `probe`...).
pub fn component(name: &str) -> PathBuf {
    // Libraries are named with `_`, binaries keep their `-`.
    [name.replace('-', "_"), name.to_string()]
        .iter()
        .map(|stem| plugins_dir().join(format!("{stem}.wasm")))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("no component for `{name}` in {}", plugins_dir().display()))
}

/// A scratch folder holding a config file; the host runs with it as its
/// working folder, so relative grants land here.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A workspace whose `wasm-mcp.toml` is `config`.
    pub fn with_config(config: &str) -> Self {
        let workspace = Self::new();
        std::fs::write(workspace.config(), config).unwrap();
        workspace
    }

    /// A workspace serving [`standard_config`], with its `logs/` folder.
    pub fn standard() -> Self {
        let workspace = Self::with_config(&standard_config());
        std::fs::create_dir(workspace.path("logs")).unwrap();
        workspace
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn config(&self) -> PathBuf {
        self.path("wasm-mcp.toml")
    }

    /// Every file below the workspace, with its size: to show nothing
    /// changed. (A jail in `hostile.rs` also checks the folder beside it.)
    pub fn snapshot(&self) -> std::collections::BTreeMap<PathBuf, u64> {
        fn walk(dir: &Path, into: &mut std::collections::BTreeMap<PathBuf, u64>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let meta = entry.path().symlink_metadata().unwrap();
                if meta.is_dir() {
                    walk(&entry.path(), into);
                } else {
                    into.insert(entry.path(), meta.len());
                }
            }
        }
        let mut files = std::collections::BTreeMap::new();
        walk(self.dir.path(), &mut files);
        files
    }

    pub fn read(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.path(relative)).ok()
    }
}

/// A config serving the log archiver and the probe, each with its grants.
pub fn standard_config() -> String {
    format!(
        r#"
[[plugin]]
name = "log-archiver"
component = {:?}
append = ["incident_report.txt"]

[[plugin]]
name = "probe"
component = {:?}
append = ["probe.txt", "logs/"]

[[plugin]]
name = "two-step"
component = {:?}
append = ["two-step.txt"]
"#,
        component("log-archiver"),
        component("probe"),
        component("two-step"),
    )
}

/// A progress notification: (progress, total, message).
pub type ProgressSeen = (f64, Option<f64>, Option<String>);
/// A log notification: (level, logger, message).
pub type LogSeen = (String, Option<String>, String);

/// How the scripted client answers a sampling request.
pub type Answer =
    Arc<dyn Fn(&CreateMessageRequestParams) -> Result<CreateMessageResult, McpError> + Send + Sync>;

/// How the scripted client answers an elicitation request.
pub type ElicitAnswer = Arc<
    dyn Fn(&rmcp::model::ElicitRequestParams) -> Result<rmcp::model::ElicitResult, McpError>
        + Send
        + Sync,
>;

/// An MCP client that answers sampling (and, when asked to, elicitation and
/// roots) from a script and records every request it receives.
#[derive(Clone)]
pub struct ScriptedClient {
    sampling: bool,
    elicitation: Option<ElicitAnswer>,
    roots: Option<Vec<&'static str>>,
    /// Every elicitation request received.
    pub elicited: Arc<Mutex<Vec<rmcp::model::ElicitRequestParams>>>,
    /// How many times the client was asked for its roots.
    pub roots_asked: Arc<Mutex<u32>>,
    /// How long each answer takes (an async wait: the client stays responsive).
    delay: Duration,
    protocol: ProtocolVersion,
    answer: Answer,
    pub asked: Arc<Mutex<Vec<CreateMessageRequestParams>>>,
    /// Request ids the server said it no longer needs (`notifications/cancelled`).
    pub cancelled: Arc<Mutex<Vec<String>>>,
    pub progress: Arc<Mutex<Vec<ProgressSeen>>>,
    pub logs: Arc<Mutex<Vec<LogSeen>>>,
    /// How many `notifications/tools/list_changed` arrived.
    pub tool_list_changes: Arc<Mutex<u32>>,
}

impl ScriptedClient {
    /// Declares sampling and answers every request with `text`.
    pub fn replying(text: &str) -> Self {
        let text = text.to_string();
        Self::answering(move |_| Ok(assistant(&text)))
    }

    /// Declares sampling and answers with `answer`.
    pub fn answering(
        answer: impl Fn(&CreateMessageRequestParams) -> Result<CreateMessageResult, McpError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        ScriptedClient {
            sampling: true,
            elicitation: None,
            roots: None,
            elicited: Arc::default(),
            roots_asked: Arc::default(),
            delay: Duration::ZERO,
            protocol: ProtocolVersion::V_2025_11_25,
            answer: Arc::new(answer),
            asked: Arc::default(),
            cancelled: Arc::default(),
            progress: Arc::default(),
            logs: Arc::default(),
            tool_list_changes: Arc::default(),
        }
    }

    /// Declares sampling and answers with the reply of the first `(needle,
    /// reply)` whose needle the first message contains, else `otherwise`.
    pub fn by_prompt(
        rules: &'static [(&'static str, &'static str)],
        otherwise: &'static str,
    ) -> Self {
        Self::answering(move |request| {
            let prompt = request.messages[0]
                .content
                .first()
                .and_then(|c| c.as_text())
                .map(|t| t.text.as_str())
                .unwrap_or_default();
            let reply = rules
                .iter()
                .find(|(needle, _)| prompt.contains(needle))
                .map_or(otherwise, |(_, reply)| reply);
            Ok(assistant(reply))
        })
    }

    /// Declares sampling and refuses every request as a user would (code -1).
    pub fn declining() -> Self {
        Self::answering(|_| {
            Err(McpError::new(
                ErrorCode(-1),
                "User rejected sampling request",
                None,
            ))
        })
    }

    /// Does not declare the sampling capability.
    pub fn without_sampling() -> Self {
        ScriptedClient {
            sampling: false,
            ..Self::replying("unused")
        }
    }

    /// The same client, declaring elicitation and answering with `answer`.
    pub fn eliciting(
        mut self,
        answer: impl Fn(
            &rmcp::model::ElicitRequestParams,
        ) -> Result<rmcp::model::ElicitResult, McpError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.elicitation = Some(Arc::new(answer));
        self
    }

    /// The same client, declaring roots and listing these `file://` URIs.
    pub fn with_roots(mut self, uris: &[&'static str]) -> Self {
        self.roots = Some(uris.to_vec());
        self
    }

    /// The same client, taking `delay` to answer each sampling request.
    pub fn slow(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The same client speaking MCP 2026-07-28: `server/discover`, no
    /// session, sampling through `input_required` rounds.
    pub fn modern(mut self) -> Self {
        self.protocol = ProtocolVersion::V_2026_07_28;
        self
    }

    pub fn is_modern(&self) -> bool {
        self.protocol == ProtocolVersion::V_2026_07_28
    }

    /// Connect over `transport` in this client's protocol era.
    pub async fn connect<T, E, A>(self, transport: T) -> Client
    where
        T: rmcp::transport::IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let running = if self.is_modern() {
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            self.serve_with_lifecycle(transport, lifecycle).await
        } else {
            self.serve(transport).await
        };
        running.expect("MCP handshake failed")
    }

    /// Waits (up to ten seconds) until the log lines received satisfy `done`,
    /// and returns them. A legacy HTTP session receives logs on its standalone
    /// GET stream, so they may arrive after the call's response.
    pub async fn logs_once(&self, done: impl Fn(&[LogSeen]) -> bool) -> Vec<LogSeen> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let logs = self.logs.lock().unwrap().clone();
            if done(&logs) || std::time::Instant::now() > deadline {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The text of every sampling request's messages, one string per request.
    pub fn prompts(&self) -> Vec<String> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .map(|request| {
                request
                    .messages
                    .iter()
                    .flat_map(|m| m.content.iter())
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect()
    }
}

/// A plain assistant text answer.
pub fn assistant(text: &str) -> CreateMessageResult {
    CreateMessageResult::new(
        SamplingMessage::assistant_text(text),
        "scripted-model".into(),
    )
    .with_stop_reason(CreateMessageResult::STOP_REASON_END_TURN)
}

impl ClientHandler for ScriptedClient {
    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        self.asked.lock().unwrap().push(params.clone());
        tokio::time::sleep(self.delay).await;
        (self.answer)(&params)
    }

    async fn create_elicitation(
        &self,
        params: rmcp::model::ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, McpError> {
        self.elicited.lock().unwrap().push(params.clone());
        tokio::time::sleep(self.delay).await;
        match &self.elicitation {
            Some(answer) => answer(&params),
            None => Err(McpError::method_not_found::<
                rmcp::model::ElicitationCreateRequestMethod,
            >()),
        }
    }

    #[allow(deprecated)]
    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ListRootsResult, McpError> {
        *self.roots_asked.lock().unwrap() += 1;
        let roots = self
            .roots
            .iter()
            .flatten()
            .map(|uri| rmcp::model::Root::new(*uri))
            .collect();
        Ok(rmcp::model::ListRootsResult::new(roots))
    }

    async fn on_cancelled(
        &self,
        params: rmcp::model::CancelledNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        if let Some(id) = params.request_id {
            self.cancelled.lock().unwrap().push(id.to_string());
        }
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.progress
            .lock()
            .unwrap()
            .push((params.progress, params.total, params.message));
    }

    async fn on_tool_list_changed(&self, _context: rmcp::service::NotificationContext<RoleClient>) {
        *self.tool_list_changes.lock().unwrap() += 1;
    }

    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        let level = serde_json::to_value(params.level)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        let message = params.data.as_str().unwrap_or_default().to_string();
        self.logs
            .lock()
            .unwrap()
            .push((level, params.logger, message));
    }

    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        if self.sampling {
            capabilities = ClientCapabilities::builder().enable_sampling().build();
        }
        if self.elicitation.is_some() {
            capabilities.elicitation = ClientCapabilities::builder()
                .enable_elicitation()
                .build()
                .elicitation;
        }
        if self.roots.is_some() {
            capabilities.roots = ClientCapabilities::builder().enable_roots().build().roots;
        }
        let mut config = ClientConfig::new(
            capabilities,
            Implementation::new("scripted-client", "1.0.0"),
        );
        config.protocol_version = self.protocol.clone();
        config
    }
}

pub type Client = RunningService<RoleClient, ScriptedClient>;

/// Spawn `wasm-mcp serve --stdio` in `cwd` and connect `client` to it.
pub async fn connect_stdio(client: ScriptedClient, config: Option<&Path>, cwd: &Path) -> Client {
    connect_stdio_with(client, config, cwd, &[]).await
}

/// [`connect_stdio`], with extra `serve` arguments.
pub async fn connect_stdio_with(
    client: ScriptedClient,
    config: Option<&Path>,
    cwd: &Path,
    serve_args: &[&str],
) -> Client {
    connect_stdio_env(client, config, cwd, serve_args, &[], None).await
}

/// [`connect_stdio_with`], with environment variables, and the server's
/// stderr written to `log` (else inherited). Provider keys of the test's
/// own environment never reach the server.
pub async fn connect_stdio_env(
    client: ScriptedClient,
    config: Option<&Path>,
    cwd: &Path,
    serve_args: &[&str],
    env: &[(&str, &str)],
    log: Option<&Path>,
) -> Client {
    let mut command = tokio::process::Command::new(binary());
    command
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .envs(env.iter().copied());
    command
        .current_dir(cwd)
        .arg("serve")
        .arg("--stdio")
        .args(serve_args);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::inherit(),
    };
    let (transport, _stderr) = TokioChildProcess::builder(command)
        .stderr(stderr)
        .spawn()
        .expect("cannot spawn wasm-mcp");
    client.connect(transport).await
}

/// A `wasm-mcp serve` process on a free loopback port, killed on drop.
pub struct HttpServer {
    child: Child,
    pub url: String,
    pub log: Arc<Mutex<String>>,
}

impl HttpServer {
    /// Start the server in `cwd` and wait until it says where it listens.
    pub fn start(config: Option<&Path>, cwd: &Path) -> Self {
        Self::start_with(config, cwd, &[])
    }

    pub fn start_with(config: Option<&Path>, cwd: &Path, extra_args: &[&str]) -> Self {
        Self::start_env(config, cwd, extra_args, &[])
    }

    /// [`HttpServer::start_with`], with environment variables. Provider keys
    /// of the test's own environment never reach the server.
    pub fn start_env(
        config: Option<&Path>,
        cwd: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        // HTTP clients in tests (rmcp's and raw reqwest) need a TLS provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut command = Command::new(binary());
        command
            .env("WASM_MCP_CACHE_DIR", test_cache_dir())
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .envs(env.iter().copied());
        command
            .current_dir(cwd)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let mut child = command.spawn().expect("cannot spawn wasm-mcp");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (found, url) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("wasm-mcp: serving MCP at ")
                    && let Some(found) = found.take()
                {
                    let _ = found.send(url.trim().to_string());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = url
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("wasm-mcp did not start serving:\n{}", log.lock().unwrap())
            });
        HttpServer { child, url, log }
    }

    pub async fn connect(&self, client: ScriptedClient) -> Client {
        let transport = StreamableHttpClientTransport::from_uri(self.url.as_str());
        client.connect(transport).await
    }

    /// The server's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!("--- wasm-mcp log ---\n{log}");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which transport a test runs over.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    Stdio,
    Http,
}

pub const TRANSPORTS: [Transport; 2] = [Transport::Stdio, Transport::Http];

/// A connected client, and the HTTP server process when there is one.
pub struct Session {
    pub client: Client,
    pub server: Option<HttpServer>,
}

pub async fn open(transport: Transport, workspace: &Workspace, client: ScriptedClient) -> Session {
    open_with(transport, workspace, client, &[]).await
}

/// [`open`], with extra `serve` arguments.
pub async fn open_with(
    transport: Transport,
    workspace: &Workspace,
    client: ScriptedClient,
    serve_args: &[&str],
) -> Session {
    let config = workspace.config();
    match transport {
        Transport::Stdio => Session {
            client: connect_stdio_with(client, Some(&config), workspace.dir.path(), serve_args)
                .await,
            server: None,
        },
        Transport::Http => {
            let server = HttpServer::start_with(Some(&config), workspace.dir.path(), serve_args);
            Session {
                client: server.connect(client).await,
                server: Some(server),
            }
        }
    }
}

/// [`open_with`], with environment variables for the server. Over stdio the
/// server's log goes to `server.log` in the workspace.
pub async fn open_env(
    transport: Transport,
    workspace: &Workspace,
    client: ScriptedClient,
    serve_args: &[&str],
    env: &[(&str, &str)],
) -> Session {
    let config = workspace.config();
    match transport {
        Transport::Stdio => Session {
            client: connect_stdio_env(
                client,
                Some(&config),
                workspace.dir.path(),
                serve_args,
                env,
                Some(&workspace.path("server.log")),
            )
            .await,
            server: None,
        },
        Transport::Http => {
            let server =
                HttpServer::start_env(Some(&config), workspace.dir.path(), serve_args, env);
            Session {
                client: server.connect(client).await,
                server: Some(server),
            }
        }
    }
}

/// Call `tool` with JSON `arguments`.
pub async fn call(client: &Client, tool: &str, arguments: serde_json::Value) -> CallToolResult {
    let serde_json::Value::Object(arguments) = arguments else {
        panic!("arguments must be a JSON object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("tools/call {tool} failed at the protocol level: {e}"))
}

/// The text of a tool result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The report the seed's server writes for one log line and explanation.
pub fn seed_report(log_line: &str, explanation: &str) -> String {
    format!(
        "--- INCIDENT REPORT ---\nRAW: {log_line}\nANALYSIS: {explanation}\n{}\n",
        "-".repeat(30)
    )
}

/// The seed client's deadlock log line.
pub const DEADLOCK: &str = "2025-12-21 14:02:11 UTC [821] ERROR: deadlock detected DETAIL: Process 821 waits for ShareLock on transaction 456; process 999 waits for ShareLock on transaction 821. HINT: See server log for query details.";

/// A Python interpreter with the MCP SDK `version` installed, in a venv under
/// `target/python/` made on first use.
pub fn python_with_mcp(version: &str) -> PathBuf {
    let venv = repo_root()
        .join("target/python")
        .join(format!("mcp-{version}"));
    let python = venv.join("bin/python");
    let marker = venv.join("installed");
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if marker.exists() {
        return python;
    }
    let run = |command: &mut Command| {
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        assert!(
            output.status.success(),
            "{command:?} failed (needs python3 with venv, and PyPI):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("mcp=={version}")));
    std::fs::write(marker, version).unwrap();
    python
}

/// Run `tests/python/sampling_client.py` (a client shaped like the seed's,
/// on the Python SDK that `python` has); return its sampling requests and
/// the tool's result.
pub fn run_sampling_client(python: &Path, args: &[&str], cwd: &Path) -> (Vec<Value>, Value) {
    let output = Command::new(python)
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .current_dir(cwd)
        .arg(repo_root().join("tests/python/sampling_client.py"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client failed:\n{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("Session termination failed"), "{stderr}");
    let mut lines = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap());
    let requests = lines.next().unwrap()["sampling_requests"]
        .as_array()
        .unwrap()
        .clone();
    (requests, lines.next().unwrap())
}

/// The seed's one sampling request for [`DEADLOCK`], as its client reads it.
pub fn assert_seed_shaped(requests: &[Value]) {
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request["maxTokens"], 100);
    // The seed's client reads `params.messages[0].content.text`.
    assert_eq!(request["messages"][0]["role"], "user");
    assert_eq!(
        request["messages"][0]["content"]["text"],
        format!(
            "You are a Site Reliability Engineer. Explain this log error in one concise sentence: {DEADLOCK}"
        )
    );
}

/// A bare streamable-HTTP client, like many real ones: it never opens the
/// standalone GET stream, so sampling must arrive on the tool call's own
/// response stream.
pub struct BareClient {
    pub http: reqwest::Client,
    pub url: String,
    pub session: Option<String>,
}

impl BareClient {
    /// Initialize a legacy session declaring sampling, as a bare client does.
    pub async fn connect(url: &str) -> Self {
        let mut client = BareClient {
            http: reqwest::Client::new(),
            url: url.to_string(),
            session: None,
        };
        let init = client
            .post(
                &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {"sampling": {}},
                    "clientInfo": {"name": "bare", "version": "1"}
                }}),
            )
            .send()
            .await
            .unwrap();
        assert!(init.status().is_success(), "{}", init.status());
        client.session = init
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        assert!(client.session.is_some(), "legacy HTTP sessions have an id");
        let _ = init.bytes().await;
        let initialized = client
            .post(&serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .unwrap();
        assert!(initialized.status().is_success());
        client
    }

    pub fn post(&self, body: &serde_json::Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-11-25")
            .body(body.to_string());
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        request
    }
}

/// Reads JSON-RPC messages from an SSE response body, one event at a time.
pub struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    pub fn new(response: reqwest::Response) -> Self {
        EventReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next JSON-RPC message, within 30 s in all: keep-alive pings
    /// do not extend the wait.
    pub async fn next_message(&mut self) -> serde_json::Value {
        tokio::time::timeout(Duration::from_secs(30), self.read_message())
            .await
            .expect(
                "no message within 30 s: the sampling request did not arrive on the call's stream",
            )
    }

    async fn read_message(&mut self) -> serde_json::Value {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:").map(str::trim_start))
                    .collect();
                if !data.is_empty() && !data.concat().is_empty() {
                    return serde_json::from_str(&data.join("\n")).unwrap();
                }
            }
            let chunk = self
                .response
                .chunk()
                .await
                .unwrap()
                .expect("the stream ended before the tool result");
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }
}

// 2026-07-28 rounds, driven by hand.

/// One `tools/call` that must come back `input_required`.
pub async fn round(client: &Client, request: CallToolRequestParams) -> InputRequiredResult {
    match client
        .call_tool_once(request)
        .await
        .expect("tools/call failed")
    {
        CallToolResponse::InputRequired(round) => round,
        CallToolResponse::Complete(result) => {
            panic!("expected input_required, got {}", text(&result))
        }
        _ => panic!("unexpected response"),
    }
}

/// The retry of `request` answering `round` with `answer`.
pub fn retry(
    request: &CallToolRequestParams,
    round: &InputRequiredResult,
    answer: Value,
) -> CallToolRequestParams {
    let key = round
        .input_requests
        .as_ref()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let mut retry = request.clone();
    retry.request_state = round.request_state.clone();
    retry.input_responses = Some(std::collections::BTreeMap::from([(key, answer)]));
    retry
}

pub fn answer(text: &str) -> Value {
    serde_json::to_value(assistant(text)).unwrap()
}

/// The error code and message of a request the server refused.
pub fn refusal(error: rmcp::service::ServiceError) -> (rmcp::model::ErrorCode, String) {
    match error {
        rmcp::service::ServiceError::McpError(error) => (error.code, error.message.to_string()),
        other => panic!("not an MCP error: {other}"),
    }
}
