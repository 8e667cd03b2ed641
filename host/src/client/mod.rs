//! `wasm-mcp call` and `wasm-mcp tools`: the client half of sampling.
//!
//! Many MCP hosts cannot sample, so without a client of our own a user could
//! not run a sampling tool from a terminal, a script or CI. This connects to
//! a server (this binary's own by default), answers its sampling requests
//! with an LLM provider (optionally after a person approves each one), and
//! prints the tool's result. Both protocol eras work: session sampling, and
//! 2026-07-28 `input_required` rounds, which rmcp's client drives.
#![allow(deprecated)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, CreateMessageRequestParams,
    CreateMessageResult, ErrorCode, Implementation, JsonObject, ProtocolVersion, Tool,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData as McpError, ServiceExt,
};
use serde_json::Value;

use crate::llm::{Provider, ProviderKind, ProviderSettings};

/// Which server to talk to.
#[derive(clap::Args)]
pub struct Target {
    /// A streamable HTTP server, e.g. http://127.0.0.1:8000/mcp.
    #[arg(long, conflicts_with = "stdio")]
    server: Option<String>,
    /// A command that serves MCP on stdin/stdout, e.g. "python server.py".
    #[arg(long)]
    stdio: Option<String>,
    /// With neither: this binary's own server (`serve --stdio`) with this config
    /// (or the embedded log archiver).
    #[arg(long, short, env = "WASM_MCP_CONFIG")]
    config: Option<PathBuf>,
    /// Protocol era: auto (2026-07-28 if the server speaks it, else a session),
    /// legacy (a 2025-11-25 session), or modern (2026-07-28 only).
    #[arg(long, value_enum, default_value = "auto")]
    protocol: Era,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Era {
    Auto,
    Legacy,
    Modern,
}

/// Which API answers sampling requests on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LlmChoice {
    Anthropic,
    Openai,
    /// A person at the terminal (`call` only).
    Human,
}

/// An LLM provider from the command line: `call`'s, and `serve`'s shortcut
/// for an `[llm]` section.
#[derive(clap::Args)]
pub struct ProviderArgs {
    /// The LLM provider (key from ANTHROPIC_API_KEY or OPENAI_API_KEY).
    #[arg(long, value_enum)]
    pub llm: Option<LlmChoice>,
    /// The model; otherwise the request's model hints, then the provider's default
    /// (anthropic: claude-sonnet-4-5, openai: gpt-4o-mini).
    #[arg(long, requires = "llm")]
    model: Option<String>,
    /// The provider's API base URL (e.g. http://localhost:11434/v1 for Ollama).
    #[arg(long, requires = "llm")]
    base_url: Option<String>,
    /// Seconds to wait for one provider answer.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    llm_timeout: u64,
    /// Retries on 429 and 5xx answers.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    llm_retries: u32,
}

impl ProviderArgs {
    /// The provider settings these flags name, if `--llm` names an API.
    pub fn settings(&self) -> Option<ProviderSettings> {
        let kind = match self.llm? {
            LlmChoice::Anthropic => ProviderKind::Anthropic,
            LlmChoice::Openai => ProviderKind::Openai,
            LlmChoice::Human => return None,
        };
        let mut settings = ProviderSettings::new(kind);
        settings.model = self.model.clone();
        settings.base_url = self.base_url.clone();
        settings.timeout = Duration::from_secs(self.llm_timeout);
        settings.retries = self.llm_retries;
        Some(settings)
    }
}

/// Who answers sampling requests.
#[derive(clap::Args)]
pub struct LlmArgs {
    #[command(flatten)]
    provider: ProviderArgs,
    /// Show each sampling request and ask before sending it; a refusal reaches
    /// the server as the user's decline.
    #[arg(long)]
    approve: bool,
}

/// Who answers: an API, or the person at the terminal.
enum Answerer {
    Api(Provider),
    Human,
}

/// Answers sampling requests with a provider, after approval if asked.
struct SamplingBridge {
    answerer: Option<Arc<Answerer>>,
    approve: bool,
    tool: String,
    era: Era,
}

impl ClientHandler for SamplingBridge {
    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let Some(answerer) = &self.answerer else {
            return Err(McpError::invalid_request(
                "this client does not sample (no --llm)",
                None,
            ));
        };
        if self.approve && !ask_approval(&self.tool, &params).await {
            return Err(McpError::new(
                ErrorCode(-1),
                "User rejected sampling request",
                None,
            ));
        }
        let provider = match &**answerer {
            Answerer::Human => {
                return human(&params)
                    .await
                    .map_err(|e| McpError::internal_error(format!("{e:#}"), None));
            }
            Answerer::Api(provider) => provider,
        };
        eprintln!(
            "[wasm-mcp] `{}` asked the LLM ({} max tokens)...",
            self.tool, params.max_tokens
        );
        provider
            .complete(&params)
            .await
            .map(|done| done.result)
            .map_err(|e| McpError::internal_error(format!("{e:#}"), None))
    }

    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.answerer.is_some() {
            ClientCapabilities::builder().enable_sampling().build()
        } else {
            ClientCapabilities::default()
        };
        let mut config = ClientConfig::new(
            capabilities,
            Implementation::new("wasm-mcp-call", env!("CARGO_PKG_VERSION")),
        );
        if matches!(self.era, Era::Legacy | Era::Auto) {
            config.protocol_version = ProtocolVersion::V_2025_11_25;
        }
        config
    }
}

/// Show the request on stderr and read y/n from stdin.
async fn ask_approval(tool: &str, request: &CreateMessageRequestParams) -> bool {
    eprintln!("\nTool `{tool}` asks your LLM:\n{}", describe(request));
    eprint!("Send it? [y/N] ");
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    matches!(answer, Ok(Ok(line)) if matches!(line.trim(), "y" | "Y" | "yes"))
}

type Session = RunningService<RoleClient, SamplingBridge>;

async fn connect(target: &Target, bridge: SamplingBridge) -> Result<Session> {
    let own_server = target.server.is_none() && target.stdio.is_none();
    let lifecycle = match target.protocol {
        // Our own server speaks 2026-07-28; no need to probe (a probe times
        // out while a large plugin compiles on a cold cache).
        Era::Auto if own_server => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
        Era::Auto => ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        },
        Era::Legacy => ClientLifecycleMode::Initialize,
        Era::Modern => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    };
    if let Some(url) = &target.server {
        let transport = StreamableHttpClientTransport::from_uri(url.as_str());
        return bridge
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .with_context(|| format!("cannot connect to the MCP server at {url}"));
    }
    let mut command = match &target.stdio {
        Some(line) => {
            let words = shell_words::split(line).context("cannot parse --stdio")?;
            let (program, args) = words
                .split_first()
                .ok_or_else(|| anyhow!("--stdio is empty"))?;
            let mut command = tokio::process::Command::new(program);
            command.args(args);
            command
        }
        None => {
            let me = std::env::current_exe().context("cannot find this executable")?;
            let mut command = tokio::process::Command::new(me);
            command.args(["serve", "--stdio"]);
            if let Some(config) = &target.config {
                command.arg("--config").arg(config);
            }
            command
        }
    };
    command.env(
        "WASM_MCP_LOG",
        std::env::var("WASM_MCP_LOG").unwrap_or_else(|_| "warn".into()),
    );
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("cannot start the MCP server")?;
    let served = match lifecycle {
        ClientLifecycleMode::Initialize => bridge.serve(transport).await,
        lifecycle => bridge.serve_with_lifecycle(transport, lifecycle).await,
    };
    served.context("the MCP handshake with the server failed")
}

/// `wasm-mcp call`.
pub async fn call(
    tool: String,
    args: Vec<String>,
    args_json: Option<String>,
    target: Target,
    llm: LlmArgs,
    json: bool,
) -> Result<ExitCode> {
    let answerer = match (llm.provider.llm, llm.provider.settings()) {
        (None, _) => None,
        (Some(LlmChoice::Human), _) => Some(Answerer::Human),
        (Some(choice), settings) => {
            let settings = settings.ok_or_else(|| anyhow!("--llm {choice:?} names no API"))?;
            Some(Answerer::Api(
                Provider::new(&settings).map_err(|e| anyhow!("--llm: {e:#}"))?,
            ))
        }
    };
    let bridge = SamplingBridge {
        answerer: answerer.map(Arc::new),
        approve: llm.approve,
        tool: tool.clone(),
        era: target.protocol,
    };
    let session = connect(&target, bridge).await?;
    let tools = session
        .list_all_tools()
        .await
        .context("tools/list failed")?;
    let Some(described) = tools.iter().find(|t| t.name == tool) else {
        let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
        bail!(
            "the server has no tool `{tool}`; it has: {}",
            names.join(", ")
        );
    };
    let arguments = build_arguments(described, &args, args_json.as_deref())?;
    let result = session
        .call_tool(CallToolRequestParams::new(tool.clone()).with_arguments(arguments))
        .await
        .map_err(|e| anyhow!("tools/call {tool} failed: {e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        for block in &result.content {
            if let Some(text) = block.as_text() {
                println!("{}", text.text);
            }
        }
    }
    let _ = session.cancel().await;
    Ok(if result.is_error == Some(true) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The human provider: show the request on stderr, read the answer from
/// stdin up to an empty line (or end of input).
async fn human(request: &CreateMessageRequestParams) -> Result<CreateMessageResult> {
    eprintln!("\n{}", describe(request));
    eprintln!("Type the answer; end it with an empty line:");
    let answer = tokio::task::spawn_blocking(|| {
        let mut lines = Vec::new();
        for line in std::io::stdin().lines() {
            let line = line?;
            if line.is_empty() {
                break;
            }
            lines.push(line);
        }
        std::io::Result::Ok(lines.join("\n"))
    })
    .await??;
    Ok(crate::llm::answer(
        answer,
        "human",
        Some(CreateMessageResult::STOP_REASON_END_TURN.to_string()),
    ))
}

/// What a sampling request asks, for a person to read.
pub fn describe(request: &CreateMessageRequestParams) -> String {
    use rmcp::model::{Role, SamplingMessageContentBlock as Block};
    let mut out = String::new();
    if let Some(system) = &request.system_prompt {
        out.push_str(&format!("system prompt: {system}\n"));
    }
    for message in &request.messages {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        for block in message.content.iter() {
            let shown = match block {
                Block::Text(t) => t.text.clone(),
                Block::Image(i) => format!("[image, {}]", i.mime_type),
                Block::Audio(a) => format!("[audio, {}]", a.mime_type),
                _ => "[other content]".into(),
            };
            out.push_str(&format!("{role}: {shown}\n"));
        }
    }
    out.push_str(&format!("max tokens: {}", request.max_tokens));
    out
}

/// `wasm-mcp tools`.
pub async fn tools(target: Target, json: bool) -> Result<()> {
    let bridge = SamplingBridge {
        answerer: None,
        approve: false,
        tool: String::new(),
        era: target.protocol,
    };
    let session = connect(&target, bridge).await?;
    let tools = session
        .list_all_tools()
        .await
        .context("tools/list failed")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&tools)?);
    } else {
        // A server's names and descriptions are shown escaped: they must
        // not drive the terminal.
        use crate::logging::escape_text as shown;
        for tool in &tools {
            println!(
                "{}: {}",
                shown(&tool.name),
                shown(tool.description.as_deref().unwrap_or(""))
            );
            let properties = tool
                .input_schema
                .get("properties")
                .and_then(Value::as_object);
            for (name, schema) in properties.into_iter().flatten() {
                let kind = schema.get("type").and_then(Value::as_str).unwrap_or("any");
                println!("    --arg {}=<{}>", shown(name), shown(kind));
            }
        }
    }
    let _ = session.cancel().await;
    Ok(())
}

/// Arguments from `--args-json` and `--arg key=value`; a value is taken as
/// text when the tool's schema says `string`, else parsed as JSON if it can be.
fn build_arguments(tool: &Tool, args: &[String], args_json: Option<&str>) -> Result<JsonObject> {
    let mut arguments = match args_json {
        Some(text) => match serde_json::from_str(text).context("--args-json is not valid JSON")? {
            Value::Object(object) => object,
            _ => bail!("--args-json must be a JSON object"),
        },
        None => JsonObject::new(),
    };
    for arg in args {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| anyhow!("--arg {arg:?} must look like key=value"))?;
        // A schema may have no `properties` (or not this key): then guess.
        let declared = tool
            .input_schema
            .get("properties")
            .and_then(|properties| properties.get(key))
            .and_then(|property| property.get("type"))
            .and_then(Value::as_str);
        let value = if declared == Some("string") {
            Value::String(value.to_string())
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()))
        };
        arguments.insert(key.to_string(), value);
    }
    Ok(arguments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool_with_schema(schema: Value) -> Tool {
        let Value::Object(schema) = schema else {
            panic!()
        };
        Tool::new("t", "a tool", Arc::new(schema))
    }

    #[test]
    fn arguments_follow_the_schema_and_survive_a_schema_without_properties() {
        let typed = tool_with_schema(serde_json::json!({
            "type": "object", "properties": {"n": {"type": "string"}}
        }));
        let args = build_arguments(&typed, &["n=42".into(), "m=42".into()], None).unwrap();
        assert_eq!(args["n"], "42", "a string parameter stays text");
        assert_eq!(args["m"], 42, "an undeclared one is JSON when it parses");
        let bare = tool_with_schema(serde_json::json!({"type": "object"}));
        let args = build_arguments(&bare, &["x=true".into(), "y=hi".into()], None).unwrap();
        assert_eq!(args["x"], true);
        assert_eq!(args["y"], "hi");
    }
}
