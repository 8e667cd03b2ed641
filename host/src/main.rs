//! `wasm-mcp`: an MCP server whose tools are sandboxed WebAssembly components.
//!
//! This file is the command line only: parse, load the config, pick a
//! transport, run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use wasm_mcp_host::audit::AuditLog;
use wasm_mcp_host::config::Config;
use wasm_mcp_host::llm::Provider;
use wasm_mcp_host::reload::{self, Catalog, Reloader};
use wasm_mcp_host::runtime::cache::CompileCache;
use wasm_mcp_host::runtime::{Allocator, Runtime, RuntimeOptions};
use wasm_mcp_host::server::McpServer;
use wasm_mcp_host::{client, embedded, mrtr, scaffold, transport};

#[derive(Parser)]
#[command(
    name = "wasm-mcp",
    version,
    about = "An MCP server whose tools are sandboxed WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How plugins are compiled and instantiated.
#[derive(clap::Args)]
struct RuntimeArgs {
    /// Keep compiled plugins in this folder (default: the config's `cache_dir`,
    /// else $WASM_MCP_CACHE_DIR, $XDG_CACHE_HOME/wasm-mcp or ~/.cache/wasm-mcp).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every plugin at start; read and write no cache.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
    /// Instance allocator: pooling is fastest; auto uses it when the address space allows.
    #[arg(long, value_enum, default_value = "auto")]
    allocator: Allocator,
}

impl RuntimeArgs {
    fn options(&self, config: &Config, audit: Arc<AuditLog>) -> RuntimeOptions {
        let cache = if self.no_cache {
            None
        } else {
            self.cache_dir
                .clone()
                .or_else(|| config.cache_dir.clone())
                .or_else(CompileCache::default_dir)
                .map(CompileCache::new)
        };
        RuntimeOptions {
            cache,
            allocator: self.allocator,
            audit,
            shared: None,
        }
    }
}

// Parsed once at start and matched at once: its size costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the configured plugins' tools over MCP.
    Serve {
        /// The TOML config naming the plugins. Without it, the embedded log
        /// archiver is served, granted `incident_report.txt` in the working folder.
        #[arg(long, short, env = "WASM_MCP_CONFIG")]
        config: Option<PathBuf>,
        /// Address for streamable HTTP (endpoint `/mcp`). Port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8000", conflicts_with = "stdio")]
        listen: SocketAddr,
        /// Serve one client over stdin/stdout instead of HTTP.
        #[arg(long)]
        stdio: bool,
        /// How long a call parked in `sample()` waits for a 2026-07-28
        /// client's retry before its sampling times out.
        #[arg(long, value_name = "SECONDS", default_value_t = mrtr::DEFAULT_TTL.as_secs(),
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        parked_call_ttl: u64,
        /// How many calls may wait for 2026-07-28 clients' retries at once;
        /// `sample()` in a call beyond that is refused.
        #[arg(long, value_name = "COUNT", default_value_t = mrtr::DEFAULT_MAX_PARKED)]
        max_parked_calls: usize,
        /// Seal `requestState` with the keys in FILE (`KEY-ID HEX-KEY` per
        /// line; the first seals, all open), shared by every replica, so any
        /// of them (or this one after a restart) can resume a call another
        /// parked. Without it, a random key per process.
        #[arg(long, value_name = "FILE", env = "WASM_MCP_STATE_KEY_FILE")]
        state_key_file: Option<PathBuf>,
        /// Share state with the other replicas through the Redis at URL
        /// (`redis://[:PASSWORD@]HOST:PORT[/DB]`; prefer the environment
        /// variable when it holds a password): each round's `requestState`
        /// is answered once across replicas, and sampling budgets and
        /// per-client caps count every replica's calls. Without it, per process.
        #[arg(
            long,
            value_name = "URL",
            env = "WASM_MCP_REDIS",
            hide_env_values = true
        )]
        redis: Option<String>,
        /// This replica's name in the ids of the legacy sessions it creates
        /// (`NAME.<uuid>`), so a balancer can send a session's requests back
        /// to it (see deploy/nginx.conf). Letters, digits, `-` and `_`.
        #[arg(long, value_name = "NAME", env = "WASM_MCP_REPLICA_ID",
              value_parser = transport::parse_replica_id)]
        replica_id: Option<String>,
        /// A balancer in front of this server: on its connections the client
        /// is the address it appends to `X-Forwarded-For` (for per-client
        /// caps and the audit). Repeat for several.
        #[arg(long = "trusted-proxy", value_name = "IP")]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Calls one client may have running or parked at once (over HTTP a
        /// client is its address, however many sessions it opens; an IPv6
        /// client is its /64); more are refused.
        #[arg(long, value_name = "COUNT", default_value_t = 32,
              value_parser = clap::value_parser!(u64).range(1..))]
        max_client_calls: u64,
        /// Live HTTP sessions at most; further `initialize` requests get 503.
        #[arg(long, value_name = "COUNT", default_value_t = 1024)]
        max_sessions: usize,
        /// Require `Authorization: Bearer TOKEN` on every HTTP request, the
        /// token read from this file (its first line). WASM_MCP_AUTH_TOKEN
        /// works too.
        #[arg(long, value_name = "FILE", conflicts_with = "auth_token")]
        auth_token_file: Option<PathBuf>,
        /// The token itself. Avoid it: any user can read it in `ps`.
        #[arg(long, value_name = "TOKEN")]
        auth_token: Option<String>,
        /// Another `Host` header value to accept (loopback names always are).
        #[arg(long = "allowed-host", value_name = "HOST")]
        allowed_hosts: Vec<String>,
        /// Another browser `Origin` to accept, e.g. `https://app.example.com:443`
        /// (loopback origins always are; requests without `Origin` are not browsers).
        #[arg(long = "allowed-origin", value_name = "ORIGIN")]
        allowed_origins: Vec<String>,
        /// The largest HTTP request body accepted, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
        max_request_bytes: usize,
        /// HTTP connections open at most, all clients together; more are
        /// answered 503 and closed (default: three quarters of the
        /// file-descriptor limit, `ulimit -n`, at most 1024).
        #[arg(long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
        max_connections: Option<u64>,
        /// HTTP connections one client (an address; an IPv6 client is its
        /// /64) may have open at once; more are answered 503 and closed.
        /// `--trusted-proxy` peers are held to --max-connections only
        /// (default: a quarter of --max-connections, at most 256).
        #[arg(long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
        max_connections_per_client: Option<u64>,
        /// How long a client may take to send a request's head (its line and
        /// headers), and an idle keep-alive connection may wait for the next;
        /// then the connection is closed.
        #[arg(long, value_name = "SECONDS", default_value_t = 10,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout_s: u64,
        /// How long a client may take to send a request's whole body; a
        /// slower one gets 408 and its connection is closed.
        #[arg(long, value_name = "SECONDS", default_value_t = 30,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        body_timeout_s: u64,
        /// Serve Prometheus metrics at /metrics (HTTP only), behind the same
        /// Host, Origin and token checks as /mcp.
        #[arg(long, conflicts_with = "stdio")]
        metrics: bool,
        /// On SIGTERM, how long running requests may take to finish before
        /// the server exits (new ones get 503 at once; `/healthz` says 503).
        #[arg(long, value_name = "SECONDS", default_value_t = 30,
              value_parser = clap::value_parser!(u64).range(0..=3600))]
        shutdown_grace_s: u64,
        /// Reload the plugins when a component file or the config changes
        /// (`SIGHUP` always reloads). Running calls finish on the old version.
        #[arg(long)]
        watch: bool,
        /// Append one JSON line per sampling request to this file (in place
        /// of `[audit] file`).
        #[arg(long, value_name = "FILE")]
        audit_file: Option<PathBuf>,
        /// The host's LLM provider, in place of the config's [llm] section:
        /// plugins whose client cannot sample use it (see `[plugin.sampling] route`).
        #[command(flatten)]
        llm: client::ProviderArgs,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Call a tool and print its result, answering the server's sampling
    /// requests with an LLM (`--llm`). Exits non-zero when the result is an error.
    Call {
        /// The tool to call.
        tool: String,
        /// An argument as key=value (repeatable). Values are text for string
        /// parameters, JSON otherwise.
        #[arg(long = "arg", value_name = "KEY=VALUE")]
        args: Vec<String>,
        /// All arguments as one JSON object (`--arg` values are added to it).
        #[arg(long, value_name = "JSON")]
        args_json: Option<String>,
        #[command(flatten)]
        target: client::Target,
        #[command(flatten)]
        llm: client::LlmArgs,
        /// Print the whole tool result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a plugin project NAME (its language's SDK, the WIT and a config
    /// entry included) that builds as generated.
    New {
        name: String,
        /// The folder to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The language: `rust` (cargo), `python` (componentize-py from PyPI)
        /// or `ts` (componentize-js from npm).
        #[arg(long, value_enum, default_value = "rust")]
        lang: scaffold::Lang,
        /// What it starts as: `ask` (sampling) or `fetch` (fetches a granted
        /// page and summarises it; Rust only).
        #[arg(long, value_enum, default_value = "ask")]
        template: scaffold::Template,
    },
    /// List a server's tools.
    Tools {
        #[command(flatten)]
        target: client::Target,
        /// Print the tools as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a config: compile every plugin, list its tools and grants.
    Check {
        #[arg(long, short, env = "WASM_MCP_CONFIG")]
        config: PathBuf,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One TLS crypto provider for every HTTP client (rmcp's and the LLM APIs').
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A client command's own output is the tool's; keep the log to errors.
    let quiet = matches!(cli.command, Command::Call { .. } | Command::Tools { .. });
    let _log_writer = wasm_mcp_host::logging::init(if quiet {
        "error"
    } else {
        "warn,wasm_mcp=info,plugin=info,audit=info,wasmtime_wasi_http=error"
    });
    // One thread runs every task: a message's work never crosses threads,
    // so no wake-up costs a futex or a context switch. Guests yield at every
    // epoch tick, so a busy one cannot hold the thread; the host scales past
    // one core with more processes (replicas).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Call {
            tool,
            args,
            args_json,
            target,
            llm,
            json,
        } => client::call(tool, args, args_json, target, llm, json).await,
        Command::New {
            name,
            dir,
            lang,
            template,
        } => {
            let created = scaffold::new_plugin(&name, &dir, lang, template)?;
            println!(
                "Created {path}. Next:\n  cd {path}\n  {steps}\n\nTo serve it with other plugins, add this to their config (paths relative to it):\n\n{config}",
                path = created.dir.display(),
                steps = created.steps,
                config = created.config,
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tools { target, json } => client::tools(target, json)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Serve {
            config: config_path,
            listen,
            stdio,
            parked_call_ttl,
            max_parked_calls,
            state_key_file,
            redis,
            replica_id,
            trusted_proxies,
            max_client_calls,
            max_sessions,
            auth_token_file,
            auth_token,
            allowed_hosts,
            allowed_origins,
            max_request_bytes,
            max_connections,
            max_connections_per_client,
            header_timeout_s,
            body_timeout_s,
            metrics,
            shutdown_grace_s,
            watch,
            audit_file,
            llm,
            runtime: runtime_args,
        } => {
            ignore_file_size_signal();
            let auth_token = auth_token_from(auth_token_file, auth_token)?;
            if llm.llm == Some(client::LlmChoice::Human) {
                anyhow::bail!(
                    "--llm human works only for `wasm-mcp call`: a server has no person at its terminal; use --llm anthropic or --llm openai"
                );
            }
            // What the command line adds to the config, on start and on each reload.
            let provider_settings = llm.settings();
            let prepare = move |mut config: Config| -> Result<Config> {
                if let Some(settings) = provider_settings.clone() {
                    config.use_provider(settings);
                }
                if let Some(file) = audit_file.clone() {
                    config.audit.file = Some(file);
                }
                config.check_routes()?;
                Ok(config)
            };
            let config = prepare(match &config_path {
                Some(path) => Config::load(path)?,
                None => embedded::default_config()?,
            })?;
            let provider = provider_for(&config)?;
            let audit = audit_log(&config)?;
            if let Some(name) = &replica_id {
                // Before any lease or claim is named (see `fairness::holder_id`).
                wasm_mcp_host::fairness::name_replica(name);
            }
            let shared = match &redis {
                Some(url) => Some(wasm_mcp_host::shared::Shared::connect(url).await?),
                None => None,
            };
            let mut options = runtime_args.options(&config, audit);
            options.shared = shared.clone();
            let runtime = Arc::new(Runtime::load(&config, &options).await?);
            tracing::info!(config = %config.origin, plugins = runtime.plugins().len(), tools = runtime.tools().count(), "loaded");
            warn_unmetered(&config);
            let catalog = Catalog::new(runtime);
            let reloader = Reloader::new(
                catalog.clone(),
                config_path.clone(),
                Box::new(prepare),
                options,
            );
            reload::reload_on_sighup(reloader.clone())?;
            if watch {
                if config_path.is_none() {
                    tracing::warn!(
                        "--watch without --config: the embedded plugin never changes, so nothing is watched"
                    );
                }
                reloader.watch();
            }
            let state_keys = match &state_key_file {
                Some(path) => wasm_mcp_host::state_key::StateKeys::from_file(path)?,
                None => wasm_mcp_host::state_key::StateKeys::random(),
            };
            let parked = mrtr::ParkedCalls::replicated(
                std::time::Duration::from_secs(parked_call_ttl.max(1)),
                max_parked_calls,
                state_keys,
                shared.clone(),
            );
            let clients = wasm_mcp_host::fairness::ClientLimits::behind(
                max_client_calls as usize,
                shared,
                trusted_proxies.clone(),
            );
            let server = McpServer::with_catalog(catalog, parked, clients, provider);
            if stdio {
                transport::serve_stdio(server).await?;
            } else {
                let shutdown = CancellationToken::new();
                let on_signal = shutdown.clone();
                tokio::spawn(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    on_signal.cancel();
                });
                let drain = wasm_mcp_host::drain::Drain::new();
                drain.on_sigterm(
                    std::time::Duration::from_secs(shutdown_grace_s),
                    shutdown.clone(),
                )?;
                let options = transport::HttpOptions {
                    drain,
                    allowed_hosts,
                    allowed_origins,
                    auth_token,
                    max_request_bytes,
                    max_sessions,
                    metrics,
                    replica_id,
                    connections: connection_limits(
                        max_connections,
                        max_connections_per_client,
                        header_timeout_s,
                        trusted_proxies,
                    ),
                    body_timeout: std::time::Duration::from_secs(body_timeout_s),
                };
                transport::serve_http(server, listen, options, shutdown).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            config,
            runtime: runtime_args,
        } => {
            let config = Config::load(&config)?;
            provider_for(&config)?;
            let audit = Arc::new(AuditLog::log_only());
            let runtime = Runtime::load(&config, &runtime_args.options(&config, audit)).await?;
            print!("{}", describe(&config, &runtime));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The HTTP connection limits from the command line, defaults filled in
/// from the process's file-descriptor limit.
fn connection_limits(
    max_connections: Option<u64>,
    max_per_client: Option<u64>,
    header_timeout_s: u64,
    trusted_proxies: Vec<std::net::IpAddr>,
) -> wasm_mcp_host::connections::ConnectionLimits {
    use wasm_mcp_host::connections;
    let max_total = max_connections.map_or_else(connections::default_max_total, |n| n as usize);
    connections::ConnectionLimits {
        max_total,
        max_per_client: max_per_client.map_or_else(
            || connections::default_max_per_client(max_total),
            |n| n as usize,
        ),
        header_timeout: std::time::Duration::from_secs(header_timeout_s),
        exempt: trusted_proxies,
    }
}

/// The host's provider, its key read now: a missing key stops the start.
fn provider_for(config: &Config) -> Result<Option<Arc<Provider>>> {
    use anyhow::Context as _;
    config
        .llm
        .as_ref()
        .map(|settings| Provider::new(settings).context("[llm]"))
        .transpose()
        .map(|provider| provider.map(Arc::new))
}

/// The audit log: the host's log, and the file when one is named.
fn audit_log(config: &Config) -> Result<Arc<AuditLog>> {
    Ok(Arc::new(match &config.audit.file {
        Some(file) => AuditLog::to_file(file, config.audit.prompts)?,
        None => AuditLog::log_only(),
    }))
}

/// Say so when the host pays for a plugin's sampling with no token budget.
fn warn_unmetered(config: &Config) {
    if config.llm.is_none() {
        return;
    }
    for plugin in &config.plugins {
        let route = plugin.sampling.route(true);
        if route != wasm_mcp_host::config::SamplingRoute::Client
            && plugin.sampling.tokens_per_day.is_none()
        {
            tracing::warn!(
                plugin = %plugin.name,
                route = route.name(),
                "the host's LLM provider pays for this plugin's sampling with no daily token budget; set `sampling.tokens_per_day` (and `requests_per_minute`) in its [plugin.sampling]"
            );
        }
    }
}

/// The report `wasm-mcp check` prints.
fn describe(config: &Config, runtime: &Runtime) -> String {
    use std::fmt::Write;
    // What a plugin says (names, descriptions, URIs) is shown escaped: it
    // must not drive the operator's terminal or forge lines of the report.
    use wasm_mcp_host::logging::escape_text as shown;
    let mut out = format!("config {}: OK\n", config.origin);
    if let Some(llm) = &config.llm {
        let _ = writeln!(
            out,
            "\nLLM provider: {} at {}, model {}, key from {}, timeout {} s, {} retries",
            llm.kind.name(),
            llm.base_url(),
            llm.model_shown(),
            llm.key,
            llm.timeout.as_secs(),
            llm.retries
        );
    }
    if let Some(file) = &config.audit.file {
        let _ = writeln!(
            out,
            "audit: {} (prompts {})",
            file.display(),
            if config.audit.prompts {
                "recorded"
            } else {
                "not recorded"
            }
        );
    }
    for (plugin, plugin_config) in runtime.plugins().iter().zip(&config.plugins) {
        let _ = writeln!(
            out,
            "\nplugin `{}` ({}, contract {})",
            shown(&plugin.name),
            shown(&plugin.source),
            plugin.world.version()
        );
        let pinned = if plugin_config.sha256.is_some() {
            "pinned"
        } else {
            "pin it with this line"
        };
        let _ = writeln!(out, "  sha256 = \"{}\"   # {pinned}", plugin.digest);
        for tool in &plugin.tools {
            let _ = writeln!(
                out,
                "  tool  {}: {}",
                shown(&tool.name),
                shown(tool.description.as_deref().unwrap_or(""))
            );
        }
        let offers = &plugin.offers;
        for prompt in &offers.prompts {
            let _ = writeln!(out, "  prompt  {}", shown(&prompt.name));
        }
        for resource in &offers.resources {
            let _ = writeln!(out, "  resource  {}", shown(&resource.uri));
        }
        for template in &offers.templates {
            let _ = writeln!(
                out,
                "  resource template  {}",
                shown(&template.uri_template)
            );
        }
        if plugin_config.grants.is_empty() {
            let _ = writeln!(out, "  may append to nothing");
        }
        for grant in &plugin_config.grants {
            let what = if grant.is_folder() {
                "files inside"
            } else {
                "file"
            };
            let _ = writeln!(
                out,
                "  may append to {what} {} ({})",
                grant.pattern,
                grant.host_path().display()
            );
        }
        let http = &plugin_config.http;
        if http.grants.is_empty() {
            let _ = writeln!(out, "  may fetch nothing");
        }
        for grant in &http.grants {
            let methods: Vec<&str> = grant.methods.iter().map(|m| m.as_str()).collect();
            let mut line = format!("  may fetch {} {}", methods.join(","), grant.url);
            if grant.private {
                line.push_str(" (internal addresses allowed)");
            }
            if !grant.headers.is_empty() {
                let names: Vec<&str> = grant.headers.iter().map(|(n, _)| n.as_str()).collect();
                let _ = write!(line, " adding secret headers {}", names.join(", "));
            }
            let _ = writeln!(out, "{line}");
        }
        if !plugin_config.settings.is_empty() {
            let keys: Vec<&str> = plugin_config.settings.keys().map(String::as_str).collect();
            let _ = writeln!(out, "  settings: {}", keys.join(", "));
        }
        let _ = writeln!(
            out,
            "  {}",
            describe_sampling(&plugin_config.sampling, config.llm.is_some())
        );
    }
    out
}

/// One plugin's sampling route, caps and budgets, in one line.
fn describe_sampling(policy: &wasm_mcp_host::config::SamplingPolicy, has_provider: bool) -> String {
    use wasm_mcp_host::config::SamplingRoute;
    let route = policy.route(has_provider);
    let who = match route {
        SamplingRoute::Client => "the calling client",
        SamplingRoute::Provider => "the host's provider",
        SamplingRoute::ClientOrProvider => "the calling client, else the host's provider",
    };
    let budget = |value: Option<u64>| value.map_or("unlimited".to_string(), |v| v.to_string());
    format!(
        "sampling: route {} ({who}); max {} tokens a request, {} requests a call, {} s timeout; budgets: {} requests/minute, {} tokens/call, {} tokens/day",
        route.name(),
        policy.max_tokens,
        policy.max_requests,
        policy.timeout_s,
        budget(policy.requests_per_minute.map(u64::from)),
        budget(policy.tokens_per_call),
        budget(policy.tokens_per_day),
    )
}

/// The bearer token: from `--auth-token-file`, else `WASM_MCP_AUTH_TOKEN`,
/// else `--auth-token` (with a warning: the command line is public).
fn auth_token_from(
    file: Option<PathBuf>,
    on_command_line: Option<String>,
) -> Result<Option<String>> {
    use anyhow::Context as _;
    if let Some(file) = file {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read the token file {}", file.display()))?;
        let token = text.lines().next().unwrap_or_default().trim().to_string();
        anyhow::ensure!(
            !token.is_empty(),
            "the token file {} is empty: put the token on its first line",
            file.display()
        );
        return Ok(Some(token));
    }
    if let Some(token) = std::env::var("WASM_MCP_AUTH_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        return Ok(Some(token));
    }
    let token = on_command_line.filter(|t| !t.is_empty());
    if token.is_some() {
        tracing::warn!(
            "--auth-token puts the token on the command line, where any user of this machine can read it (ps); use --auth-token-file or WASM_MCP_AUTH_TOKEN"
        );
    }
    Ok(token)
}

/// A file that reaches the process's size limit (`ulimit -f`) sends
/// SIGXFSZ, whose default action kills the process. Handled, the write fails
/// with `EFBIG` instead, and only that append fails.
fn ignore_file_size_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let xfsz = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
    match signal(xfsz) {
        Ok(mut received) => {
            tokio::spawn(async move { while received.recv().await.is_some() {} });
        }
        Err(error) => tracing::warn!("cannot handle SIGXFSZ: {error}"),
    }
}
