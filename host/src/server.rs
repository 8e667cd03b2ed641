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
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestMethod,
    CompleteRequestParams, CompleteResult, ContentBlock, CustomRequest, CustomResult,
    GetPromptRequestMethod, GetPromptRequestParams, GetPromptResponse, Implementation,
    ListPromptsRequestMethod, ListPromptsResult, ListResourceTemplatesRequestMethod,
    ListResourceTemplatesResult, ListResourcesRequestMethod, ListResourcesResult, ListToolsResult,
    LoggingLevel, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestMethod,
    ReadResourceRequestParams, ReadResourceResponse, Reference, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, SubscribeRequestMethod, SubscribeRequestParams, Tool,
    UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};

use crate::capabilities::notify::{Notifier, NotifyRoute};
use crate::capabilities::sampling::SampleRoute;
use crate::config::SamplingRoute;
use crate::fairness::{ClientKey, ClientLimits, ClientSlot};
use crate::llm::Provider;
use crate::mrtr::{Job, Outcome, ParkedCalls, Step};
use crate::pages::{self, Page};
use crate::reload::Catalog;
use crate::routes::ClientRoute;
use crate::routes::sampling::ProviderRoute;
use crate::routes::session::Session;
use crate::runtime::exports::CompletionTarget;
use crate::runtime::{CallContext, CallFailure, Plugin, Runtime};

/// One page of a list as its result type (`ListToolsResult`...), with the
/// cursor of the next and cache hints.
macro_rules! list_page {
    ($result:ident, $list:expr, $items:expr, $request:expr) => {{
        let Page { items, next_cursor } = page_of($list, $items, $request)?;
        let mut result = $result::with_all_items(items)
            .with_ttl_ms(LIST_TTL_MS)
            .with_cache_scope(CacheScope::Public);
        result.next_cursor = next_cursor;
        Ok(result)
    }};
}

/// One handler per MCP session (or per request, for 2026-07-28 HTTP); all
/// share the runtime and the parked calls.
#[derive(Clone)]
pub struct McpServer {
    /// The plugins served; a reload swaps them (see [`crate::reload`]).
    catalog: Arc<Catalog>,
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
        Self::with_catalog(Catalog::new(runtime), parked, clients, provider)
    }

    /// A server whose plugins may be swapped by a [`crate::reload::Reloader`].
    pub fn with_catalog(
        catalog: Arc<Catalog>,
        parked: Arc<ParkedCalls>,
        clients: Arc<ClientLimits>,
        provider: Option<Arc<Provider>>,
    ) -> Self {
        McpServer {
            catalog,
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
        McpServer::with_catalog(
            self.catalog.clone(),
            self.parked.clone(),
            self.clients.clone(),
            self.provider.clone(),
        )
    }

    /// The plugins as of now.
    fn runtime(&self) -> Arc<Runtime> {
        self.catalog.current()
    }

    /// Set the gauges that are read rather than counted: parked calls and
    /// instances in use (for `/metrics`).
    pub fn observe_gauges(&self) {
        let metrics = crate::metrics::get();
        metrics.parked_calls.set(self.parked.len() as i64);
        for plugin in self.runtime().plugins() {
            metrics
                .instances_in_use
                .with_label_values(&[plugin.name.as_str()])
                .set(plugin.calls_in_flight() as i64);
        }
    }

    /// Who this request's client is, for its share of call slots: over
    /// HTTP, in either era, its address (canonical, an IPv6 client's /64;
    /// see [`ClientLimits::client_address`]), since one client may open
    /// any number of sessions; over stdio, the one session. (There is one
    /// bearer token for all, so a token names no client.)
    fn client_key(&self, context: &RequestContext<RoleServer>) -> ClientKey {
        let address = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| {
                let peer = parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()?;
                Some(self.clients.client_address(peer.0.ip(), &parts.headers))
            });
        match address {
            Some(ip) => ClientKey::Address(ip),
            None => ClientKey::Session(self.session),
        }
    }

    /// Which route carries `plugin`'s `sample()` in this call: the host's
    /// provider when the plugin's route says so (always, or because this
    /// client cannot sample), else the client.
    fn provider_for(
        &self,
        plugin: &Plugin,
        context: &RequestContext<RoleServer>,
    ) -> Option<Arc<dyn SampleRoute>> {
        let provider = self.provider.as_ref()?;
        let takes_it = match plugin.sampling_policy.route(true) {
            SamplingRoute::Provider => true,
            SamplingRoute::ClientOrProvider => !client_declared_sampling(context),
            SamplingRoute::Client => false,
        };
        takes_it.then(|| Arc::new(ProviderRoute(provider.clone())) as Arc<dyn SampleRoute>)
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

    /// What drives a 2026-07-28 call in this request.
    fn driver(
        &self,
        context: &RequestContext<RoleServer>,
        slot: Option<crate::fairness::ClientSlot>,
        provider: Option<Arc<dyn SampleRoute>>,
        client: Arc<str>,
    ) -> crate::mrtr::Request {
        crate::mrtr::Request {
            slots: slot
                .is_none()
                .then(|| (self.clients.clone(), self.client_key(context))),
            slot,
            capabilities: context.client_capabilities(),
            provider,
            cancel: context.ct.clone(),
            route: self.notify_route(context),
            client,
        }
    }

    /// Run `job` for a 2026-07-28 request: start it, or resume the parked
    /// call its `requestState` names with the client's answers.
    async fn park_or_resume(
        &self,
        plugin: &Arc<Plugin>,
        job: Job,
        request_state: Option<String>,
        answers: Option<rmcp::model::InputResponses>,
        driver: crate::mrtr::Request,
    ) -> Result<Step, McpError> {
        match request_state {
            Some(state) => {
                self.parked
                    .resume(plugin.clone(), &state, answers, job, driver)
                    .await
            }
            None => {
                self.parked
                    .start(plugin.clone(), job, driver, answers)
                    .await
            }
        }
    }

    /// The context of a prompt, resource or completion request: no client
    /// can be asked, and the caller is hashed for the logs.
    async fn context_for(
        &self,
        plugin: &Plugin,
        what: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<(CallContext, ClientSlot), McpError> {
        let (client, slot) = self.admit(context).await?;
        let mut call = CallContext::without_client(plugin, what, client);
        call.cancel = context.ct.clone();
        Ok((call, slot))
    }

    /// The calling client for logs and the audit, as a salted hash: its
    /// session when it has one (two sessions from one address stay apart
    /// in the records), else the key its calls are counted against.
    fn client_id(&self, context: &RequestContext<RoleServer>) -> Arc<str> {
        let identity = if is_2026_era(context) {
            self.client_key(context)
        } else {
            ClientKey::Session(self.session)
        };
        crate::audit::client_hash(&format!("{identity:?}")).into()
    }

    /// One of the calling client's slots for a tool call or prompt, or
    /// `None` for a 2026-07-28 retry (`requestState`), which continues a
    /// call that holds its slot already. The era is checked first: in a
    /// legacy request `requestState` means nothing and earns no free
    /// pass. Tools and prompts both admit here, so they cannot drift.
    async fn admit_call(
        &self,
        context: &RequestContext<RoleServer>,
        carries_request_state: bool,
    ) -> Result<Option<ClientSlot>, String> {
        if carries_request_state && is_2026_era(context) {
            return Ok(None);
        }
        self.clients
            .acquire(self.client_key(context))
            .await
            .map(Some)
    }

    /// The calling client (hashed) and one of its call slots, for a
    /// request that runs a plugin: prompts and resources share each
    /// client's `--max-client-calls` with its tool calls.
    async fn admit(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<(Arc<str>, ClientSlot), McpError> {
        let client = self.client_id(context);
        let slot = self
            .clients
            .acquire(self.client_key(context))
            .await
            .map_err(|why| McpError::internal_error(why, None))?;
        Ok((client, slot))
    }
}

/// How questions reach a legacy (session) client: requests on the call's
/// own response stream.
fn session_route(context: &RequestContext<RoleServer>) -> Arc<dyn ClientRoute> {
    Arc::new(Session {
        peer: context.peer.clone(),
        capabilities: context.client_capabilities(),
    })
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
    outcome: Result<CallToolResult, CallFailure>,
    started: Instant,
) -> Result<CallToolResponse, McpError> {
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    let (kind, limit) = match &outcome {
        Ok(result) if result.is_error == Some(true) => ("tool_error", None),
        Ok(_) => ("ok", None),
        Err(failure @ CallFailure::Limit { key, .. }) => (failure.kind(), Some(*key)),
        Err(failure) => (failure.kind(), None),
    };
    crate::metrics::get().call(&plugin.name, kind, limit, elapsed);
    let result = match outcome {
        Ok(result) => {
            tracing::debug!(tool, plugin = %plugin.name, elapsed_ms, "call succeeded");
            result
        }
        Err(failure) => {
            let shown = failure.to_string();
            let shown = crate::logging::truncate(&shown, 1024);
            tracing::warn!(tool, plugin = %plugin.name, elapsed_ms, "call failed: {shown}");
            let what = match failure {
                CallFailure::Cancelled => {
                    return Err(McpError::internal_error("the call was cancelled", None));
                }
                CallFailure::InvalidArguments(_) => "refused the arguments",
                CallFailure::NotFound(_) => "found no such thing",
                CallFailure::Trapped(_) => "crashed",
                CallFailure::Limit { .. } => "hit a limit",
                CallFailure::Failed(_) => "failed",
                // The plugin did nothing wrong: the host could not run it.
                CallFailure::SharedStore(_) => "was not called",
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
        // Lists change when the plugins are reloaded (`SIGHUP`, `--watch`).
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_logging()
            .build();
        let runtime = self.runtime();
        // Declared only when some plugin offers them.
        if runtime.offers_prompts() {
            let mut prompts = rmcp::model::PromptsCapability::default();
            prompts.list_changed = Some(true);
            capabilities.prompts = Some(prompts);
        }
        if runtime.offers_resources() {
            let mut resources = rmcp::model::ResourcesCapability::default();
            resources.subscribe = Some(true);
            resources.list_changed = Some(true);
            capabilities.resources = Some(resources);
        }
        if runtime.offers_completions() {
            capabilities.completions = Some(Default::default());
        }
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
        list_page!(ListToolsResult, "tools", self.runtime().tools(), request)
    }

    // Prompts, resources and completions are answered only when declared:
    // otherwise "method not found", not an empty list.
    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        if !self.runtime().offers_prompts() {
            return Err(McpError::method_not_found::<ListPromptsRequestMethod>());
        }
        list_page!(
            ListPromptsResult,
            "prompts",
            self.runtime().prompts(),
            request
        )
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if !self.runtime().offers_prompts() {
            return Err(McpError::method_not_found::<GetPromptRequestMethod>());
        }
        let runtime = self.runtime();
        let Some(plugin) = runtime.find_prompt(&request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown prompt `{}`; `prompts/list` names the prompts this server has",
                    crate::logging::truncate(&request.name, 200)
                ),
                None,
            ));
        };
        let arguments = string_arguments(request.arguments.as_ref(), "prompt arguments")?;
        let provider = self.provider_for(plugin, &context);
        let outcome = if is_2026_era(&context) {
            // A prompt may ask the client, like a tool: in this era by rounds.
            let client = self.client_id(&context);
            let slot = self
                .admit_call(&context, request.request_state.is_some())
                .await
                .map_err(|why| McpError::internal_error(why, None))?;
            let driver = self.driver(&context, slot, provider, client);
            let job = Job::Prompt {
                name: request.name.clone(),
                arguments,
            };
            let step = self
                .park_or_resume(
                    plugin,
                    job,
                    request.request_state,
                    request.input_responses,
                    driver,
                )
                .await?;
            match step {
                Step::Done(Outcome::Prompt(outcome)) => outcome,
                Step::Done(Outcome::Tool(_)) => {
                    return Err(McpError::internal_error(
                        "requestState belongs to a tool call, not a prompt",
                        None,
                    ));
                }
                Step::InputRequired(round) => return Ok(GetPromptResponse::InputRequired(round)),
            }
        } else {
            let (client, _slot) = self.admit(&context).await?;
            let call = CallContext::new(
                plugin,
                &request.name,
                client,
                session_route(&context),
                provider,
                context.ct.clone(),
                Notifier::new(Some(self.notify_route(&context))),
            );
            plugin.get_prompt(&request.name, &arguments, call).await
        };
        answer(plugin, "prompts/get", outcome, |why| {
            McpError::invalid_params(why, None)
        })
        .map(Into::into)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        if !self.runtime().offers_resources() {
            return Err(McpError::method_not_found::<ListResourcesRequestMethod>());
        }
        list_page!(
            ListResourcesResult,
            "resources",
            self.runtime().resources(),
            request
        )
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        if !self.runtime().offers_resources() {
            return Err(McpError::method_not_found::<
                ListResourceTemplatesRequestMethod,
            >());
        }
        list_page!(
            ListResourceTemplatesResult,
            "resources/templates",
            self.runtime().templates(),
            request
        )
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if !self.runtime().offers_resources() {
            return Err(McpError::method_not_found::<ReadResourceRequestMethod>());
        }
        let modern = is_2026_era(&context);
        let runtime = self.runtime();
        let Some(plugin) = runtime.find_resource(&request.uri) else {
            return Err(resource_not_found(&request.uri, modern));
        };
        let (call, _slot) = self
            .context_for(plugin, "a resources/read request", &context)
            .await?;
        let outcome = plugin.read_resource(&request.uri, call).await;
        let uri = request.uri.clone();
        let mut read = answer(plugin, "resources/read", outcome, |_| {
            resource_not_found(&uri, modern)
        })?;
        // A plugin may compute a resource anew on each read, per client.
        read.ttl_ms = Some(0);
        read.cache_scope = Some(CacheScope::Private);
        Ok(read.into())
    }

    /// Acknowledged for resources this server has. Plugins compute a
    /// resource when it is read and cannot announce changes, so no update
    /// notification follows.
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if !self.runtime().offers_resources() {
            return Err(McpError::method_not_found::<SubscribeRequestMethod>());
        }
        match self.runtime().find_resource(&request.uri) {
            Some(_) => Ok(()),
            None => Err(resource_not_found(&request.uri, false)),
        }
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if !self.runtime().offers_resources() {
            return Err(McpError::method_not_found::<SubscribeRequestMethod>());
        }
        let _ = request;
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        if !self.runtime().offers_completions() {
            return Err(McpError::method_not_found::<CompleteRequestMethod>());
        }
        let runtime = self.runtime();
        let (plugin, target) = match &request.r#ref {
            Reference::Prompt(prompt) => (
                runtime.find_prompt(&prompt.name),
                CompletionTarget::Prompt(prompt.name.clone()),
            ),
            Reference::Resource(template) => (
                runtime.find_template(&template.uri),
                CompletionTarget::Template(template.uri.clone()),
            ),
            _ => (None, CompletionTarget::Prompt(String::new())),
        };
        let Some(plugin) = plugin else {
            return Err(McpError::invalid_params(
                "unknown reference: `ref` must name a prompt from prompts/list or a URI template from resources/templates/list",
                None,
            ));
        };
        if !plugin.world.has_completions() {
            return Ok(CompleteResult::default());
        }
        let filled: Vec<(String, String)> = request
            .context
            .as_ref()
            .and_then(|c| c.arguments.as_ref())
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let argument = (
            request.argument.name.as_str(),
            request.argument.value.as_str(),
        );
        let (call, _slot) = self
            .context_for(plugin, "a completion/complete request", &context)
            .await?;
        let outcome = plugin.complete(&target, argument, &filled, call).await;
        let completion = answer(plugin, "completion/complete", outcome, |why| {
            McpError::invalid_params(why, None)
        })?;
        Ok(CompleteResult::new(completion))
    }

    /// rmcp hands over a request of a known method whose params did not
    /// parse as a custom request; say what is wrong with them (-32602)
    /// instead of "method not found".
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        // Removed in 2026-07-28: "method not found" whatever the params.
        if is_2026_era(&context)
            && matches!(request.method.as_str(), "initialize" | "logging/setLevel")
        {
            return Err(McpError::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                format!(
                    "`{}` is not part of MCP 2026-07-28 (there are no sessions; send the log level in each request's `_meta`)",
                    request.method
                ),
                None,
            ));
        }
        Err(malformed_request(&request.method, request.params.as_ref()))
    }

    /// What `get_info` says, without `resources.subscribe`: in 2026-07-28
    /// subscriptions need `subscriptions/listen`, which this server does
    /// not offer.
    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::DiscoverResult, McpError> {
        let mut info = self.get_info();
        if let Some(resources) = info.capabilities.resources.as_mut() {
            resources.subscribe = None;
        }
        Ok(rmcp::model::DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            info,
        ))
    }

    /// A legacy session is told when the plugins are reloaded.
    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        self.catalog.add_session(context.peer);
    }

    /// 2026-07-28 clients learn of reloads on a `subscriptions/listen`
    /// stream; list changes are the only notifications it carries.
    fn accepted_subscription_filter(
        &self,
        _requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        let mut filter = rmcp::model::SubscriptionFilter::default();
        filter.tools_list_changed = Some(true);
        filter.prompts_list_changed = Some(true);
        filter.resources_list_changed = Some(true);
        Some(filter)
    }

    async fn listen(
        &self,
        subscription: rmcp::service::SubscriptionContext,
    ) -> Result<(), McpError> {
        // Watch for swaps first, before anything that waits: the client was
        // acknowledged already, and a reload that lands while this stream
        // takes its slot (a Redis round trip with `--redis`) must be heard.
        let mut changes = self.catalog.changes();
        let mut offered = Offered::by(&self.runtime());
        // An open stream holds one of its client's slots, so no client can
        // open them without bound.
        let _slot = self
            .clients
            .acquire(self.client_key(subscription.request_context()))
            .await
            .map_err(|why| McpError::invalid_request(why, None))?;
        let wants = subscription.accepted().clone();
        loop {
            tokio::select! {
                () = subscription.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let was = offered;
                    offered = Offered::by(&self.runtime());
                    if notify_listener(subscription.sink(), &wants, was, offered).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.runtime().find(name).map(|(_, tool)| tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let runtime = self.runtime();
        let Some((plugin, _)) = runtime.find(&request.name) else {
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
        let client = self.client_id(&context);
        let slot = match self
            .admit_call(&context, request.request_state.is_some())
            .await
        {
            Ok(slot) => slot,
            Err(why) => {
                let refused = Err(CallFailure::not_admitted(why));
                return tool_result(plugin, &request.name, refused, started);
            }
        };
        let provider = self.provider_for(plugin, &context);
        // In the 2026-07-28 era a question for the client takes a round, so
        // the call runs in its own task and may park; `sample()` on the
        // provider route runs straight through within it.
        if is_2026_era(&context) {
            let driver = self.driver(&context, slot, provider, client);
            let job = Job::Tool {
                name: request.name.to_string(),
                arguments,
            };
            let step = self
                .park_or_resume(
                    plugin,
                    job,
                    request.request_state,
                    request.input_responses,
                    driver,
                )
                .await?;
            return match step {
                Step::Done(Outcome::Tool(outcome)) => {
                    tool_result(plugin, &request.name, outcome, started)
                }
                Step::Done(Outcome::Prompt(_)) => Err(McpError::internal_error(
                    "requestState belongs to a prompt, not a tool call",
                    None,
                )),
                Step::InputRequired(round) => Ok(CallToolResponse::InputRequired(round)),
            };
        }
        let session = session_route(&context);
        let call = CallContext::new(
            plugin,
            &request.name,
            client,
            session,
            provider,
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

/// How long clients may keep a list: the lists change only when the
/// host restarts, and are the same for every client.
const LIST_TTL_MS: u64 = 60_000;

/// One page of `items` for a list request.
fn page_of<'a, T: Clone + 'a>(
    list: &str,
    items: impl Iterator<Item = &'a T>,
    request: Option<PaginatedRequestParams>,
) -> Result<Page<T>, McpError> {
    let cursor = request.and_then(|r| r.cursor);
    pages::page(list, items, cursor.as_deref(), pages::PAGE_SIZE)
}

/// Arguments of a prompt: MCP sends them as strings.
fn string_arguments(
    arguments: Option<&rmcp::model::JsonObject>,
    what: &str,
) -> Result<Vec<(String, String)>, McpError> {
    let Some(arguments) = arguments else {
        return Ok(Vec::new());
    };
    arguments
        .iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => Ok((name.clone(), text.clone())),
            _ => Err(McpError::invalid_params(
                format!("{what}: `{name}` must be a string"),
                None,
            )),
        })
        .collect()
}

/// MCP's "resource not found", naming the URI: -32002 until 2025-11-25,
/// -32602 (invalid params) from 2026-07-28 (SEP-2164).
fn resource_not_found(uri: &str, modern: bool) -> McpError {
    let shown = crate::logging::truncate(uri, 200);
    let message = format!(
        "resource {shown:?} not found; `resources/list` and `resources/templates/list` say what this server has"
    );
    let data = Some(serde_json::json!({ "uri": shown }));
    if modern {
        McpError::invalid_params(message, data)
    } else {
        McpError::resource_not_found(message, data)
    }
}

/// Which lists beside tools a catalog offers: a list that appears or
/// disappears in a reload changed too.
#[derive(Clone, Copy)]
struct Offered {
    prompts: bool,
    resources: bool,
}

impl Offered {
    fn by(runtime: &Runtime) -> Offered {
        Offered {
            prompts: runtime.offers_prompts(),
            resources: runtime.offers_resources(),
        }
    }
}

/// Tell one `subscriptions/listen` stream that the catalog was swapped:
/// the tool list, and the prompt and resource lists offered before or
/// after the swap, as far as the stream accepted them.
async fn notify_listener(
    sink: &rmcp::service::SubscriptionSink,
    wants: &rmcp::model::SubscriptionFilter,
    was: Offered,
    now: Offered,
) -> Result<(), rmcp::service::SubscriptionSendError> {
    if wants.tools_list_changed == Some(true) {
        sink.notify_tool_list_changed().await?;
    }
    if wants.prompts_list_changed == Some(true) && (was.prompts || now.prompts) {
        sink.notify_prompt_list_changed().await?;
    }
    if wants.resources_list_changed == Some(true) && (was.resources || now.resources) {
        sink.notify_resource_list_changed().await?;
    }
    Ok(())
}

/// A prompt, resource or completion answer, or the error that says why
/// there is none: `not_found` for a missing one, `invalid params` for bad
/// arguments, `internal error` naming the plugin otherwise.
fn answer<T>(
    plugin: &Plugin,
    method: &str,
    outcome: Result<T, CallFailure>,
    not_found: impl FnOnce(String) -> McpError,
) -> Result<T, McpError> {
    let failure = match outcome {
        Ok(answer) => return Ok(answer),
        Err(failure) => failure,
    };
    let shown = failure.to_string();
    tracing::warn!(plugin = %plugin.name, method, "request failed: {}", crate::logging::truncate(&shown, 1024));
    Err(match failure {
        CallFailure::NotFound(why) => not_found(why),
        CallFailure::InvalidArguments(why) => McpError::invalid_params(why, None),
        CallFailure::Cancelled => McpError::internal_error("the request was cancelled", None),
        other => McpError::internal_error(format!("plugin `{}`: {other}", plugin.name), None),
    })
}

/// The error for a request rmcp could not parse: `invalid params` naming
/// what is wrong for the methods this server answers, else `method not found`.
fn malformed_request(method: &str, params: Option<&serde_json::Value>) -> McpError {
    let shown = crate::logging::truncate(method, 100);
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
