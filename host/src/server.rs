//! The MCP face of the host: `tools/list` and `tools/call` dispatched to the
//! runtime. It builds each call's [`CallContext`] (which plugin, which route
//! for sampling, which client, which cancellation token) and turns every
//! failure into a tool result with `isError: true`; there is no tool logic
//! here.

// Sampling capability checks use SEP-2577-deprecated items on purpose: MCP
// sampling is still supported, and it is how `sample()` reaches legacy clients.
#![allow(deprecated)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestMethod,
    CompleteRequestParams, CompleteResult, ContentBlock, CustomRequest, CustomResult,
    Implementation, ListPromptsRequestMethod, ListPromptsResult,
    ListResourceTemplatesRequestMethod, ListResourceTemplatesResult, ListResourcesRequestMethod,
    ListResourcesResult, ListToolsResult, LoggingLevel, PaginatedRequestParams, ProtocolVersion,
    ServerCapabilities, ServerConfig, SetLevelRequestParams, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};

use crate::capabilities::notify::{Notifier, NotifyRoute};
use crate::capabilities::sampling::{ClientSession, SampleRoute, Unavailable};
use crate::config::SamplingRoute;
use crate::fairness::{ClientKey, ClientLimits};
use crate::llm::Provider;
use crate::llm::route::ProviderRoute;
use crate::mrtr::{ParkedCalls, Step};
use crate::runtime::{CallContext, CallFailure, Plugin, Runtime};

/// One handler per MCP session (or per request, for 2026-07-28 HTTP); all
/// share the runtime and the parked calls.
#[derive(Clone)]
pub struct McpServer {
    runtime: Arc<Runtime>,
    parked: Arc<ParkedCalls>,
    clients: Arc<ClientLimits>,
    /// The host's own LLM provider, for plugins whose route allows it.
    provider: Option<Arc<Provider>>,
    /// This handler's session, for per-client limits.
    session: u64,
    /// This session's `logging/setLevel` (legacy sessions only).
    log_level: Arc<Mutex<Option<LoggingLevel>>>,
}

/// Numbers sessions for per-client limits.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

impl McpServer {
    pub fn new(
        runtime: Arc<Runtime>,
        parked: Arc<ParkedCalls>,
        clients: Arc<ClientLimits>,
        provider: Option<Arc<Provider>>,
    ) -> Self {
        McpServer {
            runtime,
            parked,
            clients,
            provider,
            session: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            log_level: Arc::default(),
        }
    }

    /// A handler for a new session: shared runtime, parked calls and client
    /// limits; its own log level.
    pub fn for_session(&self) -> Self {
        McpServer::new(
            self.runtime.clone(),
            self.parked.clone(),
            self.clients.clone(),
            self.provider.clone(),
        )
    }

    /// Set the gauges that are read rather than counted: parked calls and
    /// instances in use (for `/metrics`).
    pub fn observe_gauges(&self) {
        let metrics = crate::metrics::get();
        metrics.parked_calls.set(self.parked.len() as i64);
        for plugin in self.runtime.plugins() {
            metrics
                .instances_in_use
                .with_label_values(&[plugin.name.as_str()])
                .set(plugin.calls_in_flight() as i64);
        }
    }

    /// Who this request's client is: its session, or, for a 2026-07-28
    /// request over HTTP (no session), its address.
    fn client_key(&self, context: &RequestContext<RoleServer>) -> ClientKey {
        let address = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
            })
            .map(|info| info.0.ip());
        match address {
            Some(ip) if is_2026_era(context) => ClientKey::Address(ip),
            _ => ClientKey::Session(self.session),
        }
    }

    /// Which route carries `plugin`'s `sample()` in this call: the host's
    /// provider when the plugin's route says so (always, or because this
    /// client cannot sample), else the client.
    fn provider_for(
        &self,
        plugin: &Plugin,
        context: &RequestContext<RoleServer>,
    ) -> Option<Arc<Provider>> {
        let provider = self.provider.as_ref()?;
        match plugin.sampling_policy.route(true) {
            SamplingRoute::Provider => Some(provider.clone()),
            SamplingRoute::ClientOrProvider if !client_declared_sampling(context) => {
                Some(provider.clone())
            }
            _ => None,
        }
    }

    /// Where this request's progress and log notifications go.
    fn notify_route(&self, context: &RequestContext<RoleServer>) -> NotifyRoute {
        let log_level = if is_2026_era(context) {
            context.meta.log_level()
        } else {
            *self.log_level.lock().unwrap_or_else(|e| e.into_inner())
        };
        NotifyRoute {
            peer: context.peer.clone(),
            progress_token: context.meta.get_progress_token(),
            log_level,
        }
    }

    /// How `sample()` reaches a legacy (session) client.
    fn session_route(&self, context: &RequestContext<RoleServer>) -> Arc<dyn SampleRoute> {
        if client_declared_sampling(context) {
            Arc::new(ClientSession {
                peer: context.peer.clone(),
            })
        } else {
            Arc::new(Unavailable(
                "the calling client did not declare the MCP `sampling` capability, so the tool cannot ask its LLM; use a client that supports sampling, or give the server an LLM provider ([llm] in its config, or `serve --llm`)".into(),
            ))
        }
    }
}

fn client_declared_sampling(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .is_some_and(|caps| caps.sampling.is_some())
}

/// MCP 2026-07-28 and later: no sessions, sampling by multi round-trip results.
fn is_2026_era(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// The tool result for a call's outcome; failures become `isError` results
/// naming the plugin and the cause.
fn tool_result(
    plugin: &Plugin,
    tool: &str,
    outcome: Result<String, CallFailure>,
    started: Instant,
) -> Result<CallToolResponse, McpError> {
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    let (kind, limit) = match &outcome {
        Ok(_) => ("ok", None),
        Err(failure @ CallFailure::Limit { key, .. }) => (failure.kind(), Some(*key)),
        Err(failure) => (failure.kind(), None),
    };
    crate::metrics::get().call(&plugin.name, kind, limit, elapsed);
    let result = match outcome {
        Ok(text) => {
            tracing::info!(tool, plugin = %plugin.name, elapsed_ms, "call succeeded");
            CallToolResult::success(vec![ContentBlock::text(text)])
        }
        Err(failure) => {
            let shown = failure.to_string();
            let shown = crate::capabilities::log::truncate(&shown, 1024);
            tracing::warn!(tool, plugin = %plugin.name, elapsed_ms, "call failed: {shown}");
            let what = match failure {
                CallFailure::Cancelled => {
                    return Err(McpError::internal_error("the call was cancelled", None));
                }
                CallFailure::InvalidArguments(_) => "refused the arguments",
                CallFailure::Trapped(_) => "crashed",
                CallFailure::Limit { .. } => "hit a limit",
                CallFailure::Failed(_) => "failed",
            };
            CallToolResult::error(vec![ContentBlock::text(format!(
                "plugin `{}` {what}: {failure}",
                plugin.name
            ))])
        }
    };
    Ok(result.into())
}

impl ServerHandler for McpServer {
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) = Some(request.level);
        Ok(())
    }

    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_logging()
            .build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new("wasm-mcp", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "Tools run as sandboxed WebAssembly plugins; some ask your LLM for help through MCP sampling."
                .into(),
        );
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            let shown = crate::capabilities::log::truncate(&cursor, 100);
            return Err(McpError::invalid_params(
                format!(
                    "unknown cursor {shown:?}: this server lists every tool in one page and never issues a cursor; call tools/list without one"
                ),
                None,
            ));
        }
        Ok(ListToolsResult::with_all_items(
            self.runtime.tools().cloned().collect(),
        ))
    }

    // Prompts, resources and completions are not declared, so they are not
    // answered: "method not found", not an empty list.
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Err(McpError::method_not_found::<ListPromptsRequestMethod>())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Err(McpError::method_not_found::<ListResourcesRequestMethod>())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Err(McpError::method_not_found::<
            ListResourceTemplatesRequestMethod,
        >())
    }

    async fn complete(
        &self,
        _request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        Err(McpError::method_not_found::<CompleteRequestMethod>())
    }

    /// rmcp hands over a request of a known method whose params did not
    /// parse as a custom request; say what is wrong with them (-32602)
    /// instead of "method not found".
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        Err(malformed_request(&request.method, request.params.as_ref()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.runtime.find(name).map(|(_, tool)| tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some((plugin, _)) = self.runtime.find(&request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool `{}`; `tools/list` names the tools this server has",
                    request.name
                ),
                None,
            ));
        };
        let arguments =
            serde_json::Value::Object(request.arguments.unwrap_or_default()).to_string();
        if arguments.len() > plugin.limits.arguments_bytes {
            return Err(McpError::invalid_params(
                format!(
                    "the arguments are {} bytes of JSON; tool `{}` accepts at most {} (`limits.arguments_bytes` of plugin `{}`)",
                    arguments.len(),
                    request.name,
                    plugin.limits.arguments_bytes,
                    plugin.name
                ),
                None,
            ));
        }
        let started = Instant::now();
        let route = self.notify_route(&context);
        let client_key = self.client_key(&context);
        let client: Arc<str> = crate::audit::client_hash(&format!("{client_key:?}")).into();
        // A retry continues a call that holds its client's slot already.
        let slot = if request.request_state.is_some() {
            None
        } else {
            match self.clients.acquire(client_key) {
                Ok(slot) => Some(slot),
                Err(why) => {
                    let refused = Err(CallFailure::limit("--max-client-calls", why));
                    return tool_result(plugin, &request.name, refused, started);
                }
            }
        };
        let provider = self.provider_for(plugin, &context);
        // Client sampling in the 2026-07-28 era takes rounds, so the call
        // parks; with the provider it runs straight through in either era.
        if is_2026_era(&context) && (request.request_state.is_some() || provider.is_none()) {
            let driver = crate::mrtr::Request {
                slot,
                can_sample: client_declared_sampling(&context),
                cancel: context.ct.clone(),
                route,
                client,
            };
            let step = match request.request_state {
                Some(state) => {
                    self.parked
                        .resume(
                            &state,
                            request.input_responses,
                            &request.name,
                            &arguments,
                            driver,
                        )
                        .await?
                }
                None => {
                    self.parked
                        .start(plugin.clone(), request.name.to_string(), arguments, driver)
                        .await?
                }
            };
            return match step {
                Step::Done(outcome) => tool_result(plugin, &request.name, outcome, started),
                Step::InputRequired(round) => Ok(CallToolResponse::InputRequired(round)),
            };
        }
        let sampling: Arc<dyn SampleRoute> = match provider {
            Some(provider) => Arc::new(ProviderRoute(provider)),
            None => self.session_route(&context),
        };
        let call = CallContext::new(
            plugin,
            &request.name,
            client,
            sampling,
            context.ct.clone(),
            Notifier::new(Some(route)),
        );
        // Awaited on this task, never spawned: legacy sampling relies on the
        // request's task-local id to ride the call's own response stream.
        let outcome = plugin.call(&request.name, &arguments, call).await;
        drop(slot);
        tool_result(plugin, &request.name, outcome, started)
    }
}

/// The error for a request rmcp could not parse: `invalid params` naming
/// what is wrong for the methods this server answers, else `method not found`.
fn malformed_request(method: &str, params: Option<&serde_json::Value>) -> McpError {
    let shown = crate::capabilities::log::truncate(method, 100);
    let params = params.unwrap_or(&serde_json::Value::Null);
    let why = match method {
        "tools/call" => {
            if !params.get("name").is_some_and(|n| n.is_string()) {
                "`params.name` must be a string: the name of a tool from tools/list".to_string()
            } else if params
                .get("arguments")
                .is_some_and(|a| !a.is_object() && !a.is_null())
            {
                "`params.arguments` must be a JSON object mapping parameter names to values"
                    .to_string()
            } else {
                describe_serde_error::<CallToolRequestParams>(params)
            }
        }
        "tools/list" => describe_serde_error::<PaginatedRequestParams>(params),
        "logging/setLevel" => describe_serde_error::<SetLevelRequestParams>(params),
        "initialize" | "ping" | "server/discover" => "the params do not fit the method".into(),
        _ => {
            return McpError::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                format!("method {shown:?} is not served here"),
                None,
            );
        }
    };
    McpError::invalid_params(format!("invalid params for {shown}: {why}"), None)
}

/// Why `params` does not parse as `T`.
fn describe_serde_error<T: serde::de::DeserializeOwned>(params: &serde_json::Value) -> String {
    match serde_json::from_value::<T>(params.clone()) {
        Err(error) => error.to_string(),
        Ok(_) => "the params do not fit the method".into(),
    }
}
