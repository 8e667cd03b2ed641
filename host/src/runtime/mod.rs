//! The wasmtime side: one engine, one linker, and per plugin one compiled,
//! pre-instantiated component. Each tool call gets a fresh [`Store`] with an
//! empty WASI context, so no call can see another's memory or state and a
//! trap ends only that call.

pub mod cache;
mod compat;
mod cpu;
pub mod exports;
mod output;
mod state;
mod template;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use rmcp::model::{
    CallToolResult, CompletionInfo, GetPromptResult, JsonObject, ReadResourceResult, Tool,
};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Instance, InstancePre, Linker};
use wasmtime::{
    Config as EngineConfig, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
    Trap, UpdateDeadline,
};

use cache::{CompileCache, Origin};

use crate::audit::AuditLog;
use crate::capabilities::files::Grants;
use crate::capabilities::http::HttpPolicy;
use crate::capabilities::sampling::budget::SharedBudget;
use crate::capabilities::settings::Settings;
use crate::config::{
    ComponentSource, Config, ElicitationPolicy, Limits, PluginConfig, RootsPolicy, SamplingPolicy,
};
use exports::{Answered, CompletionTarget, ListedTool, Offers, OutputSchema, Refusal, World};
pub use state::{CallContext, CallState};

/// What `list-prompts`, `list-resources` and `list-templates` returned.
type OfferLists = (
    Vec<serde_json::Value>,
    Vec<serde_json::Value>,
    Vec<serde_json::Value>,
);

/// How often the engine's epoch advances: the granularity of CPU limits.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// How much of each pooled linear memory and table stays resident between
/// calls. A Rust guest's stack (1 MiB), data and first heap pages fit.
const MEMORY_KEEP_RESIDENT: usize = 2 * 1024 * 1024;
const TABLE_KEEP_RESIDENT: usize = 64 * 1024;
/// The longest a plugin's `list-tools` may take at load.
const LOAD_WALL_TIME: Duration = Duration::from_secs(10);
/// The most tools one plugin may export, and the largest schema of one.
const MAX_TOOLS: usize = 1000;
const MAX_SCHEMA_BYTES: usize = 256 * 1024;

/// What a loaded plugin is: its compiled component, grants, limits and tools.
pub struct Plugin {
    pub name: String,
    /// Before each tool name the plugin exports (`tool_prefix` in the config).
    tool_prefix: String,
    pub source: String,
    pub grants: Arc<Grants>,
    pub tools: Vec<Tool>,
    pub limits: Limits,
    pub sampling_policy: SamplingPolicy,
    pub elicitation_policy: ElicitationPolicy,
    pub roots_policy: RootsPolicy,
    /// Sampling budgets shared by all the plugin's calls.
    pub budget: Arc<SharedBudget>,
    /// Where its sampling requests are recorded.
    pub audit: Arc<AuditLog>,
    /// What it may fetch.
    pub http: Arc<HttpPolicy>,
    /// What it reads through `wasi:config/store`.
    pub settings: Settings,
    /// Its component's SHA-256 (lowercase hex).
    pub digest: String,
    /// Prompts, resources and resource templates it offers.
    pub offers: Offers,
    /// Output schemas by tool name (as listed, prefix included).
    output_schemas: HashMap<String, Arc<OutputSchema>>,
    /// Permits for calls running (or parked) at once.
    in_flight: Arc<Semaphore>,
    pre: InstancePre<CallState>,
    /// Which contract it targets, and its exports.
    pub world: World,
}

/// Why a tool call produced no result. Each becomes an `isError` tool result.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("{0}")]
    Failed(String),
    #[error("trapped: {0}")]
    Trapped(String),
    /// A configured limit ended the call; the text names the limit.
    #[error("{message}")]
    Limit {
        /// The limit's config key (or name), for metrics.
        key: &'static str,
        message: String,
    },
    #[error("the call was cancelled")]
    Cancelled,
    /// No such prompt or resource.
    #[error("{0}")]
    NotFound(String),
    /// The replicas' shared store (Redis, `--redis`) failed, so the call
    /// was not run: not the plugin's doing, and not one of its limits.
    #[error("{0}")]
    SharedStore(String),
}

impl CallFailure {
    /// A limit ended the call: `key` names it for metrics, `message` for people.
    pub fn limit(key: &'static str, message: String) -> Self {
        CallFailure::Limit { key, message }
    }

    /// The outcome's name in metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CallFailure::InvalidArguments(_) => "invalid_arguments",
            CallFailure::Failed(_) => "failed",
            CallFailure::Trapped(_) => "trapped",
            CallFailure::Limit { .. } => "limit",
            CallFailure::Cancelled => "cancelled",
            CallFailure::NotFound(_) => "not_found",
            CallFailure::SharedStore(_) => "shared_store",
        }
    }

    /// Why a client was not admitted (`--max-client-calls`): its cap, or
    /// the shared store that counts it across replicas failing.
    pub fn not_admitted(why: String) -> Self {
        if crate::shared::is_store_failure(&why) {
            CallFailure::SharedStore(why)
        } else {
            CallFailure::limit("--max-client-calls", why)
        }
    }
}

/// All loaded plugins and the tool index over them.
pub struct Runtime {
    plugins: Vec<Arc<Plugin>>,
    by_tool: HashMap<String, (usize, usize)>,
    /// Which plugin offers each prompt (by name) and resource (by URI).
    by_prompt: HashMap<String, usize>,
    by_resource: HashMap<String, usize>,
    /// Which plugin offers each resource template (by URI template).
    by_template: HashMap<String, usize>,
    /// Which instance allocator the engine got.
    pub allocator: Allocator,
}

/// How instances get their memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Allocator {
    /// The pooling allocator when the address space allows it, else on demand.
    Auto,
    /// Preallocated slots, sized from the plugins' concurrency limits: the
    /// fastest instantiation.
    Pooling,
    /// mmap per instance.
    OnDemand,
}

/// How to build the runtime.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    pub cache: Option<CompileCache>,
    pub allocator: Allocator,
    /// Where sampling requests are recorded.
    pub audit: Arc<AuditLog>,
    /// Replicas' shared state: sampling budgets are counted there.
    pub shared: Option<Arc<crate::shared::Shared>>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            cache: CompileCache::default_dir().map(CompileCache::new),
            allocator: Allocator::Auto,
            audit: Arc::new(AuditLog::log_only()),
            shared: None,
        }
    }
}

impl Runtime {
    /// Compile and pre-instantiate every plugin of `config`, list their tools
    /// and open their grants. Fails on the first problem, naming the plugin.
    pub async fn load(config: &Config, options: &RuntimeOptions) -> Result<Runtime> {
        Self::load_after(config, options, None).await
    }

    /// [`Runtime::load`] to replace `previous` (a reload): a plugin of the
    /// same name and sampling policy keeps spending from the same budgets,
    /// so rebuilding a plugin does not give it a fresh day of tokens.
    pub async fn load_after(
        config: &Config,
        options: &RuntimeOptions,
        previous: Option<&Runtime>,
    ) -> Result<Runtime> {
        let (engine, allocator) = new_engine(config, options.allocator)?;
        let linker = new_linker(&engine)?;
        let mut plugins: Vec<Arc<Plugin>> = Vec::with_capacity(config.plugins.len());
        let mut by_tool: HashMap<String, (usize, usize)> = HashMap::new();
        let mut by_prompt = HashMap::new();
        let mut by_resource = HashMap::new();
        let mut by_template = HashMap::new();
        for plugin_config in &config.plugins {
            let budget = previous
                .and_then(|runtime| {
                    runtime
                        .plugins
                        .iter()
                        .find(|p| p.name == plugin_config.name)
                })
                .filter(|old| old.sampling_policy == plugin_config.sampling)
                .map(|old| old.budget.clone());
            let plugin = Plugin::load(&engine, &linker, plugin_config, options, budget)
                .await
                .with_context(|| format!("plugin `{}`", plugin_config.name))?;
            let index = plugins.len();
            for (tool_index, tool) in plugin.tools.iter().enumerate() {
                if let Some((other, _)) = by_tool.insert(tool.name.to_string(), (index, tool_index))
                {
                    let other = &plugins[other];
                    bail!(
                        "tool `{}` is exported by both plugin `{}` and plugin `{}`: tool names must be unique; remove one of the plugins from the config",
                        tool.name,
                        other.name,
                        plugin.name
                    );
                }
            }
            let offers = &plugin.offers;
            let names = [
                (
                    "prompt",
                    &mut by_prompt,
                    offers
                        .prompts
                        .iter()
                        .map(|p| p.name.clone())
                        .collect::<Vec<_>>(),
                ),
                (
                    "resource",
                    &mut by_resource,
                    offers.resources.iter().map(|r| r.uri.clone()).collect(),
                ),
                (
                    "resource template",
                    &mut by_template,
                    offers
                        .templates
                        .iter()
                        .map(|t| t.uri_template.clone())
                        .collect(),
                ),
            ];
            for (what, index_of, keys) in names {
                for key in keys {
                    if let Some(other) = index_of.insert(key.clone(), index) {
                        bail!(
                            "{what} `{key}` is offered by both plugin `{}` and plugin `{}`: prompt names, resource URIs and templates must be unique; remove one of the plugins from the config",
                            plugins[other].name,
                            plugin.name
                        );
                    }
                }
            }
            plugins.push(Arc::new(plugin));
        }
        Ok(Runtime {
            plugins,
            by_tool,
            by_prompt,
            by_resource,
            by_template,
            allocator,
        })
    }

    /// Every prompt of every plugin, in config order.
    pub fn prompts(&self) -> impl Iterator<Item = &rmcp::model::Prompt> {
        self.plugins.iter().flat_map(|p| p.offers.prompts.iter())
    }

    /// Every resource of every plugin, in config order.
    pub fn resources(&self) -> impl Iterator<Item = &rmcp::model::Resource> {
        self.plugins.iter().flat_map(|p| p.offers.resources.iter())
    }

    /// Every resource template of every plugin, in config order.
    pub fn templates(&self) -> impl Iterator<Item = &rmcp::model::ResourceTemplate> {
        self.plugins.iter().flat_map(|p| p.offers.templates.iter())
    }

    /// Whether any plugin exports `prompts`, `resources` or `completions`
    /// and offers something through it (what the server declares).
    pub fn offers_prompts(&self) -> bool {
        !self.by_prompt.is_empty()
    }

    pub fn offers_resources(&self) -> bool {
        !self.by_resource.is_empty() || !self.by_template.is_empty()
    }

    pub fn offers_completions(&self) -> bool {
        self.plugins.iter().any(|p| p.world.has_completions())
            && (self.offers_prompts() || !self.by_template.is_empty())
    }

    /// The plugin that offers prompt `name`.
    pub fn find_prompt(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.by_prompt.get(name).map(|&i| &self.plugins[i])
    }

    /// The plugin that offers resource `uri`: the one listing it, else the
    /// first whose template matches it.
    pub fn find_resource(&self, uri: &str) -> Option<&Arc<Plugin>> {
        if let Some(&index) = self.by_resource.get(uri) {
            return Some(&self.plugins[index]);
        }
        self.plugins
            .iter()
            .find(|p| p.offers.matchers.iter().any(|m| m.matches(uri)))
    }

    /// The plugin that offers resource template `uri_template`.
    pub fn find_template(&self, uri_template: &str) -> Option<&Arc<Plugin>> {
        self.by_template
            .get(uri_template)
            .map(|&i| &self.plugins[i])
    }

    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// Every tool of every plugin, in config order.
    pub fn tools(&self) -> impl Iterator<Item = &Tool> {
        self.plugins.iter().flat_map(|p| p.tools.iter())
    }

    /// The plugin that provides `tool` and the tool's description.
    pub fn find(&self, tool: &str) -> Option<(&Arc<Plugin>, &Tool)> {
        let &(plugin, index) = self.by_tool.get(tool)?;
        let plugin = &self.plugins[plugin];
        Some((plugin, &plugin.tools[index]))
    }
}

impl Plugin {
    async fn load(
        engine: &Engine,
        linker: &Linker<CallState>,
        config: &PluginConfig,
        options: &RuntimeOptions,
        budget: Option<Arc<SharedBudget>>,
    ) -> Result<Plugin> {
        let source = config.component.to_string();
        let started = std::time::Instant::now();
        let (component, origin, digest) = compile(
            engine,
            &config.component,
            config.sha256.as_deref(),
            options.cache.as_ref(),
        )?;
        tracing::debug!(plugin = %config.name, ?origin, ms = started.elapsed().as_secs_f64() * 1000.0, "component ready");
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            anyhow!(
                "component {source} needs imports this host does not provide (it must target a world of wit/plugin.wit, `wasm-mcp:plugin@0.2.0` or 0.1.0, and WASI 0.2 only): {e:#}"
            )
        })?;
        let world = World::detect(&pre, &source)?;
        let quota_bytes = config.limits.quota_mib.saturating_mul(1024 * 1024);
        let grants = Arc::new(Grants::open(
            &config.grants,
            quota_bytes,
            config.limits.max_files,
        )?);
        let mut plugin = Plugin {
            name: config.name.clone(),
            tool_prefix: config.tool_prefix.clone(),
            source,
            grants,
            tools: Vec::new(),
            limits: config.limits,
            sampling_policy: config.sampling,
            elicitation_policy: config.elicitation,
            roots_policy: config.roots,
            budget: budget.unwrap_or_else(|| {
                let budget = SharedBudget::new(&config.sampling);
                Arc::new(match &options.shared {
                    Some(shared) => budget.counted_in(shared.clone(), &config.name),
                    None => budget,
                })
            }),
            audit: options.audit.clone(),
            http: config.http.clone(),
            settings: crate::capabilities::settings::shared(&config.settings),
            digest,
            offers: Offers::default(),
            output_schemas: HashMap::new(),
            in_flight: Arc::new(Semaphore::new(config.limits.concurrent_calls)),
            pre,
            world,
        };
        let (listed, offered) = plugin.list_at_load().await?;
        plugin.describe_tools(listed)?;
        let (prompts, resources, templates) = offered;
        plugin.offers = Offers::check(prompts, resources, templates)?;
        tracing::debug!(plugin = %plugin.name, contract = plugin.world.version(), "plugin loaded");
        Ok(plugin)
    }

    /// Ask the plugin for its tools (and prompts, resources and templates)
    /// once, at load. The guest runs under the plugin's limits, and a wall
    /// clock of at most [`LOAD_WALL_TIME`]: a plugin that hangs here must
    /// not hang the host.
    async fn list_at_load(&self) -> Result<(Vec<ListedTool>, OfferLists)> {
        let call = CallContext::without_client(self, "listing its tools", "host".into());
        let mut store = self.new_store(call);
        let cpu_used = store.data().cpu.used.clone();
        let wall_time = LOAD_WALL_TIME.min(Duration::from_secs(self.limits.wall_time_s));
        let run = async {
            let instance = self.pre.instantiate_async(&mut store).await.map_err(|e| {
                anyhow!(
                    "cannot instantiate it: {}",
                    instantiation_failure(store.data(), &e)
                )
            })?;
            let tools = exports::list_tools(&self.world, &mut store, &instance)
                .await
                .map_err(|e| anyhow!("`list-tools` failed: {}", classify_trap(store.data(), &e)))?;
            // Offers are listed by the same instance: both are the load's
            // listing, under one CPU meter and clock.
            let offers = exports::list_offers(&self.world, &mut store, &instance)
                .await
                .map_err(|e| {
                    anyhow!(
                        "listing prompts or resources failed: {}",
                        classify_trap(store.data(), &e)
                    )
                })?;
            anyhow::Ok((tools, offers))
        };
        tokio::time::timeout(wall_time, cpu::Metered::new(run, cpu_used))
            .await
            .map_err(|_| {
                anyhow!(
                    "`list-tools` did not return within {} s (or listing its prompts and resources did not); a plugin must list at once",
                    wall_time.as_secs_f64()
                )
            })?
    }

    /// Check the listed tools and describe them as MCP lists them.
    fn describe_tools(&mut self, listed: Vec<ListedTool>) -> Result<()> {
        if listed.is_empty() {
            bail!("component {} exports no tools", self.source);
        }
        if listed.len() > MAX_TOOLS {
            bail!(
                "component {} lists {} tools; a plugin may export at most {MAX_TOOLS}",
                self.source,
                listed.len()
            );
        }
        let mut names = std::collections::HashSet::with_capacity(listed.len());
        for tool in listed {
            validate_tool_name(&tool.name)?;
            if !names.insert(tool.name.clone()) {
                bail!(
                    "`list-tools` names tool `{}` twice: each tool of a plugin needs its own name",
                    tool.name
                );
            }
            for (what, schema) in [
                ("input-schema", Some(&tool.input_schema)),
                ("output-schema", tool.output_schema.as_ref()),
            ] {
                if let Some(schema) = schema
                    && schema.len() > MAX_SCHEMA_BYTES
                {
                    bail!(
                        "tool `{}`: `{what}` has {} bytes; at most {MAX_SCHEMA_BYTES} are allowed",
                        tool.name,
                        schema.len()
                    );
                }
            }
            let schema: JsonObject = serde_json::from_str(&tool.input_schema).map_err(|e| {
                anyhow!(
                    "tool `{}`: `input-schema` is not a JSON object: {e}",
                    tool.name
                )
            })?;
            if schema.get("type").and_then(|t| t.as_str()) != Some("object") {
                bail!(
                    "tool `{}`: `input-schema` must describe an object (`\"type\": \"object\"`)",
                    tool.name
                );
            }
            crate::param_headers::check_declarations(&tool.name, &schema)
                .map_err(|why| anyhow!(why))?;
            let name = format!("{}{}", self.tool_prefix, tool.name);
            validate_tool_name(&name)?;
            let (described, output_schema) = exports::describe_tool(name.clone(), &tool, schema)?;
            if let Some(output_schema) = output_schema {
                self.output_schemas.insert(name, output_schema);
            }
            self.tools.push(described);
        }
        Ok(())
    }

    /// Calls running or parked now, each holding an instance (or about to).
    pub fn calls_in_flight(&self) -> usize {
        self.limits
            .concurrent_calls
            .saturating_sub(self.in_flight.available_permits())
    }

    /// Benchmarks only: the cost of a fresh store, and of a fresh store plus
    /// an instance, without calling the guest.
    #[doc(hidden)]
    pub async fn bench_setup(&self, instantiate: bool) -> Result<()> {
        let call = CallContext::without_client(self, "a benchmark", "host".into());
        let mut store = self.new_store(call);
        if instantiate {
            self.pre.instantiate_async(&mut store).await?;
        }
        Ok(())
    }

    /// A store with this plugin's memory and CPU limits.
    fn new_store(&self, call: CallContext) -> Store<CallState> {
        let mut store = Store::new(self.pre.component().engine(), CallState::new(call));
        store.limiter(|state| &mut state.memory);
        // On every tick while wasm runs: stop the call if its metered CPU
        // time is over budget, else yield so a busy guest shares its thread.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut context| {
            let cpu = &mut context.data_mut().cpu;
            if cpu.used.get() > cpu.budget {
                cpu.hit = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            // Through tokio's yield, which wakes the call only after the
            // event loop has polled for I/O: on one thread, a computing
            // guest would otherwise keep other clients' messages unread.
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        store
    }

    /// Run `tool` in a fresh instance. The store, and with it everything the
    /// call allocated, is dropped when this returns or is cancelled.
    pub async fn call(
        &self,
        tool: &str,
        arguments: &str,
        call: CallContext,
    ) -> Result<CallToolResult, CallFailure> {
        // The name the plugin itself exports.
        let guest_tool = tool.strip_prefix(self.tool_prefix.as_str()).unwrap_or(tool);
        let schema = self.output_schemas.get(tool).cloned();
        let value = self
            .run(call, async |world, store, instance| {
                exports::call_tool(world, store, instance, guest_tool, arguments).await
            })
            .await?;
        let value = exports::check_tool_result(value, schema.as_deref())
            .map_err(|why| CallFailure::Failed(format!("returned an invalid result: {why}")))?;
        self.to_mcp(exports::complete_result(value))
    }

    /// Fill in prompt `name` in a fresh instance.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: &[(String, String)],
        call: CallContext,
    ) -> Result<GetPromptResult, CallFailure> {
        let value = self
            .run(call, async |world, store, instance| {
                exports::get_prompt(world, store, instance, name, arguments).await
            })
            .await?;
        self.to_mcp(exports::complete_result(value))
    }

    /// Read resource `uri` in a fresh instance.
    pub async fn read_resource(
        &self,
        uri: &str,
        call: CallContext,
    ) -> Result<ReadResourceResult, CallFailure> {
        let value = self
            .run(call, async |world, store, instance| {
                exports::read_resource(world, store, instance, uri).await
            })
            .await?;
        self.to_mcp(exports::complete_result(value))
    }

    /// Suggest values for an argument of a prompt or template, in a fresh instance.
    pub async fn complete(
        &self,
        target: &CompletionTarget,
        argument: (&str, &str),
        context: &[(String, String)],
        call: CallContext,
    ) -> Result<CompletionInfo, CallFailure> {
        let value = self
            .run(call, async |world, store, instance| {
                exports::complete(world, store, instance, target, argument, context).await
            })
            .await?;
        self.to_mcp(value)
    }

    /// A checked answer in MCP's shape, within `limits.result_bytes`.
    fn to_mcp<T: serde::de::DeserializeOwned>(
        &self,
        value: serde_json::Value,
    ) -> Result<T, CallFailure> {
        let limit = self.limits.result_bytes;
        let size = exports::payload_size(&value);
        if size > limit {
            return Err(CallFailure::limit(
                "limits.result_bytes",
                format!(
                    "result size: the result has {size} bytes, more than {limit} (`limits.result_bytes`; each content block, message or item counts {} bytes beside its text and data)",
                    exports::ITEM_BYTES
                ),
            ));
        }
        exports::to_mcp(value)
            .map_err(|why| CallFailure::Failed(format!("returned an invalid answer: {why}")))
    }

    /// Run one export in a fresh instance under the plugin's limits: a
    /// permit, CPU and wall clock, memory, cancellation. The store, and with
    /// it everything the call allocated, is dropped when this returns or is
    /// cancelled.
    async fn run<F>(&self, call: CallContext, body: F) -> Result<serde_json::Value, CallFailure>
    where
        F: AsyncFnOnce(&World, &mut Store<CallState>, &Instance) -> Answered<serde_json::Value>,
    {
        let Ok(_permit) = self.in_flight.clone().try_acquire_owned() else {
            return Err(CallFailure::limit(
                "limits.concurrent_calls",
                format!(
                    "concurrent calls: {} are already running (`limits.concurrent_calls`)",
                    self.limits.concurrent_calls
                ),
            ));
        };
        let cancel = call.cancel.clone();
        let wall_time = Duration::from_secs(self.limits.wall_time_s);
        let result_limit = self.limits.result_bytes;
        let commit_once = call.commit_once.clone();
        let mut store = self.new_store(call);
        let cpu_used = store.data().cpu.used.clone();
        let run = async {
            let instance = self
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| instantiation_failure(store.data(), &e))?;
            let returned = body(&self.world, &mut store, &instance).await;
            // The plugin returned (a result, or an error of its own): the
            // appends it staged are written now, and only now.
            if returned.is_ok() {
                let files = &mut store.data_mut().files;
                if let Some(once) = commit_once.filter(|_| files.has_staged()) {
                    files
                        .commit_once(&once)
                        .await
                        .map_err(|why| CallFailure::Failed(cap_text(why, result_limit)))?;
                }
                if let Err(why) = store.data_mut().files.commit() {
                    return Err(CallFailure::Failed(cap_text(why, result_limit)));
                }
            }
            match returned {
                Ok(Ok(value)) => Ok(value),
                // Error texts count against the same limit as results.
                Ok(Err(Refusal::InvalidArguments(why))) => {
                    Err(CallFailure::InvalidArguments(cap_text(why, result_limit)))
                }
                Ok(Err(Refusal::Failed(why))) => {
                    Err(CallFailure::Failed(cap_text(why, result_limit)))
                }
                Ok(Err(Refusal::NotFound(why))) => Err(CallFailure::NotFound(cap_text(why, 1024))),
                Ok(Err(Refusal::TooLarge(why))) => {
                    Err(CallFailure::limit("limits.result_bytes", why))
                }
                Err(trap) => Err(classify_trap(store.data(), &trap)),
            }
        };
        tokio::select! {
            outcome = tokio::time::timeout(wall_time, cpu::Metered::new(run, cpu_used)) => outcome.unwrap_or_else(|_| {
                Err(CallFailure::limit("limits.wall_time_s", format!(
                    "wall-clock time: the call ran longer than {} s (`limits.wall_time_s`)",
                    wall_time.as_secs()
                )))
            }),
            () = cancel.cancelled() => Err(CallFailure::Cancelled),
        }
    }
}

/// `text` cut to `limit` bytes, saying so.
fn cap_text(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    format!(
        "{}… ({} more bytes cut: errors count against `limits.result_bytes`)",
        crate::logging::truncate(&text, limit),
        text.len() - crate::logging::truncate(&text, limit).len()
    )
}

/// Why an instance could not be created: the pool is full, a per-call
/// limit refused the component's memories or counts, or its start trapped.
fn instantiation_failure(state: &CallState, error: &wasmtime::Error) -> CallFailure {
    if let Some(full) = error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return CallFailure::limit(
            "instance_pool",
            format!(
                "instance pool: every slot is in use ({full}); the host is at capacity, try again shortly"
            ),
        );
    }
    if state.memory.hit {
        return classify_trap(state, error);
    }
    if error.downcast_ref::<Trap>().is_some() {
        return classify_trap(state, error);
    }
    CallFailure::limit(
        "instantiation",
        format!(
            "instantiation: {error:#} (a call may create at most {} core instances, {} memories and {} tables)",
            state::MAX_INSTANCES,
            state::MAX_MEMORIES,
            state::MAX_TABLES
        ),
    )
}

/// Name the limit behind a trap when one was hit, else describe the trap.
fn classify_trap(state: &CallState, error: &wasmtime::Error) -> CallFailure {
    let limits = &state.limits;
    if state.cpu.hit {
        return CallFailure::limit(
            "limits.cpu_time_ms",
            format!(
                "CPU time: the call computed for more than {} ms (`limits.cpu_time_ms`)",
                limits.cpu_time_ms
            ),
        );
    }
    if state.memory.hit {
        return CallFailure::limit(
            "limits.memory_mib",
            format!(
                "memory: the plugin tried to grow past {} MiB (`limits.memory_mib`)",
                limits.memory_mib
            ),
        );
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => CallFailure::Trapped("stack overflow".into()),
        _ => CallFailure::Trapped(format!("{error:#}")),
    }
}

/// Read, check (against its `sha256` pin, if any) and compile a component;
/// also returns its SHA-256, lowercase hex.
fn compile(
    engine: &Engine,
    source: &ComponentSource,
    pin: Option<&str>,
    cache: Option<&CompileCache>,
) -> Result<(Component, Origin, String)> {
    let bytes: std::borrow::Cow<'_, [u8]> = match source {
        ComponentSource::File(path) => std::fs::read(path)
            .with_context(|| {
                format!(
                    "cannot read component {}: check the `component` path in the config",
                    path.display()
                )
            })?
            .into(),
        ComponentSource::Embedded { bytes, .. } => (*bytes).into(),
    };
    let digest = hex_sha256(&bytes);
    if let Some(pinned) = pin
        && pinned != digest
    {
        bail!(
            "{source} is not the pinned component: its SHA-256 is {digest}, the config's `sha256` is {pinned}. If this build is the one you mean to serve, put its digest in `sha256`"
        );
    }
    if !bytes.starts_with(b"\0asm") {
        bail!(
            "{source} is not a WebAssembly file (no `\\0asm` header): point `component` at the `.wasm` file that `cargo build --target wasm32-wasip2` produced"
        );
    }
    if is_core_module(&bytes) {
        bail!(
            "{source} is a core WebAssembly module, not a component: build it for `wasm32-wasip2` (or run `wasm-tools component new` on it)"
        );
    }
    let compiled = match cache {
        Some(cache) => cache.load(engine, &bytes),
        None => Component::new(engine, &bytes)
            .map(|c| (c, Origin::Compiled))
            .map_err(Into::into),
    };
    let (component, origin) =
        compiled.map_err(|e| anyhow!("cannot compile component {source}: {e:#}"))?;
    Ok((component, origin, digest))
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Core modules have version 1 in the header; components use a layer field.
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(&[1, 0, 0, 0])
}

/// MCP tool names: 1 to 128 of `A-Z a-z 0-9 _ - .`.
fn validate_tool_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        bail!(
            "tool name {name:?} is not valid: MCP tool names are 1 to 128 ASCII letters, digits, `_`, `-` or `.`"
        );
    }
    Ok(())
}

/// The engine, with epoch interruption driven by a ticker thread that lives
/// as long as the engine does, and the pooling allocator when asked or when
/// `auto` finds the address space for it.
fn new_engine(plugins: &Config, allocator: Allocator) -> Result<(Engine, Allocator)> {
    let base = || {
        let mut config = EngineConfig::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config
    };
    let pooled = || {
        let mut config = base();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_for(plugins)));
        Engine::new(&config)
    };
    let (engine, allocator) = match allocator {
        Allocator::Pooling => (
            pooled().map_err(|e| anyhow!("cannot set up the pooling allocator: {e:#}"))?,
            Allocator::Pooling,
        ),
        Allocator::Auto => match pooled() {
            Ok(engine) => (engine, Allocator::Pooling),
            Err(error) => {
                tracing::info!("pooling allocator unavailable, allocating on demand: {error:#}");
                (Engine::new(&base())?, Allocator::OnDemand)
            }
        },
        Allocator::OnDemand => (Engine::new(&base())?, Allocator::OnDemand),
    };
    let engine = spawn_epoch_ticker(engine)?;
    Ok((engine, allocator))
}

/// Pool slots for every call the config allows at once (plus load-time
/// listing), each as large as the largest memory limit.
fn pooling_for(config: &Config) -> PoolingAllocationConfig {
    let instances: u32 = config
        .plugins
        .iter()
        .map(|p| u32::try_from(p.limits.concurrent_calls).unwrap_or(u32::MAX))
        .fold(8u32, u32::saturating_add);
    let max_memory_mib = config
        .plugins
        .iter()
        .map(|p| p.limits.memory_mib)
        .max()
        .unwrap_or(64);
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(4))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_core_instances_per_component(state::MAX_INSTANCES as u32)
        .max_memories_per_component(state::MAX_MEMORIES as u32)
        .max_tables_per_component(state::MAX_TABLES as u32)
        .max_memory_size((max_memory_mib * 1024 * 1024) as usize)
        // A slot's pages stay mapped between calls and only the pages the
        // last call touched are reset (found with PAGEMAP_SCAN where the
        // kernel has it, 6.7+): no madvise, no page faults to map them
        // back, and no TLB shootdown per call.
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
        .table_keep_resident(TABLE_KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto);
    pooling
}

fn spawn_epoch_ticker(engine: Engine) -> Result<Engine> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-mcp-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .context("cannot start the epoch ticker thread")?;
    Ok(engine)
}

/// WASI with nothing granted, and each capability served from its own
/// part of the call's state; 0.1's imports are served by the same code.
fn new_linker(engine: &Engine) -> Result<Linker<CallState>> {
    use crate::capabilities::{ask, elicitation, files, log, progress, roots, sampling, settings};
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    settings::add_to_linker(&mut linker, |s: &mut CallState| {
        wasmtime_wasi_config::WasiConfig::new(&s.settings)
    })?;
    crate::bindings::content::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?;
    sampling::add_to_linker(&mut linker, |s: &mut CallState| &mut s.sampling)?;
    elicitation::add_to_linker(&mut linker, |s: &mut CallState| &mut s.elicitation)?;
    roots::add_to_linker(&mut linker, |s: &mut CallState| &mut s.roots)?;
    ask::add_to_linker(&mut linker, |s: &mut CallState| ask::Questions {
        sampling: &mut s.sampling,
        elicitation: &mut s.elicitation,
        roots: &mut s.roots,
    })?;
    files::add_to_linker(&mut linker, |s: &mut CallState| &mut s.files)?;
    log::add_to_linker(&mut linker, |s: &mut CallState| &mut s.log)?;
    progress::add_to_linker(&mut linker, |s: &mut CallState| &mut s.progress)?;
    compat::add_v0_1_imports(&mut linker)?;
    Ok(linker)
}
