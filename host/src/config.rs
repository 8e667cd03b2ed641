//! The TOML configuration: which plugins to load and what each may touch.
//!
//! Parsing is strict (unknown keys are errors that name the key) and every
//! path is resolved against the config file's folder, so a config means the
//! same thing whatever folder the host is started from. The result is a
//! validated, typed [`Config`]; nothing downstream re-checks these rules.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::capabilities::http::{HttpPolicy, RawHttp};
use crate::llm::{KeySource, ProviderKind, ProviderSettings};

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the config came from, for messages (`embedded default` or a path).
    pub origin: String,
    pub plugins: Vec<PluginConfig>,
    /// The compile cache folder, if the config names one.
    pub cache_dir: Option<PathBuf>,
    /// The host's own LLM provider (`[llm]`), for plugins whose sampling
    /// route allows it.
    pub llm: Option<ProviderSettings>,
    /// Where sampling audit records go (`[audit]`).
    pub audit: AuditSettings,
}

/// The `[audit]` section: every sampling request leaves a record in the
/// host's log, and in this JSON-lines file when one is named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSettings {
    pub file: Option<PathBuf>,
    /// Put each request's prompt in its record (off by default: prompts may
    /// hold what the tool's user would not want kept).
    pub prompts: bool,
}

/// One plugin: its component, its grants, its limits.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub name: String,
    /// Put before each of the plugin's tool names, so one component can be
    /// loaded twice (say, with different grants) without a name clash.
    pub tool_prefix: String,
    pub component: ComponentSource,
    pub grants: Vec<Grant>,
    pub limits: Limits,
    pub sampling: SamplingPolicy,
    pub elicitation: ElicitationPolicy,
    pub roots: RootsPolicy,
    /// What it may fetch (`[plugin.http]`); nothing without grants.
    pub http: Arc<HttpPolicy>,
    /// What it reads through `wasi:config/store` (`[plugin.config]`).
    pub settings: BTreeMap<String, String>,
    /// The component's SHA-256 it must have (`sha256`), lowercase hex.
    pub sha256: Option<String>,
}

/// How a plugin may ask its callers' users (`[plugin.elicitation]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElicitationPolicy {
    /// Questions one tool call may ask.
    pub max_requests: u32,
    /// How long one question may wait for the user, in seconds.
    pub timeout_s: u64,
}

impl Default for ElicitationPolicy {
    fn default() -> Self {
        ElicitationPolicy {
            max_requests: 10,
            timeout_s: 600,
        }
    }
}

/// How a plugin may ask its callers for their roots (`[plugin.roots]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RootsPolicy {
    /// Roots requests one tool call may make.
    pub max_requests: u32,
    /// How long one request may wait for the client, in seconds.
    pub timeout_s: u64,
}

impl Default for RootsPolicy {
    fn default() -> Self {
        RootsPolicy {
            max_requests: 10,
            timeout_s: 60,
        }
    }
}

/// What one plugin may consume. Every limit is per plugin; defaults are safe
/// for untrusted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory per call (instance), in MiB.
    pub memory_mib: u64,
    /// CPU time per call, in milliseconds; time waiting on the host (for
    /// sampling, say) does not count.
    pub cpu_time_ms: u64,
    /// Wall-clock time per call, in seconds, waits included.
    pub wall_time_s: u64,
    /// Size of a call's arguments (as JSON), in bytes.
    pub arguments_bytes: usize,
    /// Size of a tool result, in bytes.
    pub result_bytes: usize,
    /// Size of one `append`, in bytes.
    pub append_bytes: usize,
    /// Size each granted file, or the files in each granted folder, may grow
    /// to, in MiB.
    pub quota_mib: u64,
    /// Files each granted folder may hold (files cost inodes as well as
    /// bytes); creating one more is refused.
    pub max_files: u64,
    /// Calls of this plugin running (or parked) at once.
    pub concurrent_calls: usize,
    /// Lines one call may put in the host's log (its `log` calls, captured
    /// output, refused appends) and send as log notifications.
    pub log_lines: u64,
    /// Bytes of those lines.
    pub log_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 64,
            cpu_time_ms: 10_000,
            wall_time_s: 600,
            arguments_bytes: 1024 * 1024,
            result_bytes: 1024 * 1024,
            append_bytes: 1024 * 1024,
            quota_mib: 100,
            max_files: 10_000,
            concurrent_calls: 256,
            log_lines: 1000,
            log_bytes: 64 * 1024,
        }
    }
}

/// How a plugin may spend LLM tokens, its clients' or the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingPolicy {
    /// Where `sample()` goes; unset, the calling client, or the host's
    /// provider when the client cannot sample and `[llm]` is configured.
    pub route: Option<SamplingRoute>,
    /// The most tokens one request may ask for; larger requests are lowered
    /// to this cap (the plugin wanted "enough"; someone pays).
    pub max_tokens: u32,
    /// `sample()` calls allowed in one tool call.
    pub max_requests: u32,
    /// How long one sampling request may wait for its answer, in seconds.
    pub timeout_s: u64,
    /// Requests per minute across all the plugin's calls (a token bucket
    /// that holds a minute's worth).
    pub requests_per_minute: Option<u32>,
    /// Tokens (input and output) one tool call may use.
    pub tokens_per_call: Option<u64>,
    /// Tokens (input and output) all the plugin's calls may use per UTC day.
    pub tokens_per_day: Option<u64>,
}

impl Default for SamplingPolicy {
    fn default() -> Self {
        SamplingPolicy {
            route: None,
            max_tokens: 4096,
            max_requests: 10,
            timeout_s: 300,
            requests_per_minute: None,
            tokens_per_call: None,
            tokens_per_day: None,
        }
    }
}

impl SamplingPolicy {
    /// The route in force: as written, else `client-or-provider` when the
    /// host has a provider, else `client` (0.1's behaviour).
    pub fn route(&self, has_provider: bool) -> SamplingRoute {
        self.route.unwrap_or(if has_provider {
            SamplingRoute::ClientOrProvider
        } else {
            SamplingRoute::Client
        })
    }

    /// Whether any budget is set.
    pub fn has_budgets(&self) -> bool {
        self.requests_per_minute.is_some()
            || self.tokens_per_call.is_some()
            || self.tokens_per_day.is_some()
    }
}

/// Who answers a plugin's `sample()`. The plugin cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplingRoute {
    /// The calling client (MCP sampling, or an `input_required` round).
    Client,
    /// Always the host's provider (`[llm]`); the host pays.
    Provider,
    /// The calling client when it declared sampling, else the provider.
    ClientOrProvider,
}

impl SamplingRoute {
    pub fn name(self) -> &'static str {
        match self {
            SamplingRoute::Client => "client",
            SamplingRoute::Provider => "provider",
            SamplingRoute::ClientOrProvider => "client-or-provider",
        }
    }
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone)]
pub enum ComponentSource {
    File(PathBuf),
    /// Built into the host binary (the embedded default).
    Embedded {
        name: &'static str,
        bytes: &'static [u8],
    },
}

impl std::fmt::Display for ComponentSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComponentSource::File(path) => write!(f, "{}", path.display()),
            ComponentSource::Embedded { name, .. } => write!(f, "<embedded {name}>"),
        }
    }
}

/// Permission to append to one file, or to any file inside one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// As written in the config and as the plugin names it: `incident_report.txt`, `logs/`.
    pub pattern: String,
    /// The folder the pattern is relative to (the config file's folder).
    pub base: PathBuf,
}

impl Grant {
    /// A grant written with a trailing `/` covers every file inside that folder.
    pub fn is_folder(&self) -> bool {
        self.pattern.ends_with('/')
    }

    /// The host path this grant names.
    pub fn host_path(&self) -> PathBuf {
        self.base.join(self.pattern.trim_end_matches('/'))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    cache_dir: Option<PathBuf>,
    llm: Option<RawLlm>,
    audit: Option<RawAudit>,
    #[serde(default, rename = "plugin")]
    plugins: Vec<RawPlugin>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLlm {
    kind: ProviderKind,
    model: Option<String>,
    base_url: Option<String>,
    api_key_env: Option<String>,
    api_key_file: Option<PathBuf>,
    /// Only so that a key written here gets a message that says why not.
    api_key: Option<toml::Value>,
    timeout_s: Option<u64>,
    retries: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    file: Option<PathBuf>,
    #[serde(default)]
    prompts: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    name: Option<String>,
    #[serde(default)]
    tool_prefix: String,
    component: PathBuf,
    #[serde(default)]
    append: Vec<String>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    sampling: SamplingPolicy,
    #[serde(default)]
    elicitation: ElicitationPolicy,
    #[serde(default)]
    roots: RootsPolicy,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
    sha256: Option<String>,
}

impl Config {
    /// Read and validate the config file at `path`.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let base = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(base)
            .with_context(|| format!("cannot resolve the folder of {}", path.display()))?;
        Self::parse(&text, &base, &path.display().to_string())
            .with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parse config text whose relative paths are relative to `base`.
    pub fn parse(text: &str, base: &Path, origin: &str) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text)?;
        if raw.plugins.is_empty() {
            bail!("no plugins: add at least one [[plugin]] table with a `component` path");
        }
        let mut names = HashSet::new();
        let mut plugins = Vec::with_capacity(raw.plugins.len());
        for (index, plugin) in raw.plugins.into_iter().enumerate() {
            let component = base.join(&plugin.component);
            let name = match plugin.name {
                Some(name) => name,
                None => component
                    .file_stem()
                    .map(|s| s.to_string_lossy().replace('_', "-"))
                    .unwrap_or_else(|| format!("plugin-{index}")),
            };
            validate_plugin_name(&name)
                .with_context(|| format!("[[plugin]] number {}", index + 1))?;
            if !names.insert(name.clone()) {
                bail!(
                    "two plugins are named `{name}`: give each [[plugin]] a distinct `name = \"...\"`"
                );
            }
            let mut grants = Vec::with_capacity(plugin.append.len());
            for pattern in plugin.append {
                validate_grant_pattern(&pattern)
                    .with_context(|| format!("plugin `{name}`: append grant {pattern:?}"))?;
                let grant = Grant {
                    pattern,
                    base: base.to_path_buf(),
                };
                if !grants.contains(&grant) {
                    grants.push(grant);
                }
            }
            validate_limits(&plugin.limits, &plugin.sampling)
                .and_then(|()| validate_asking(&plugin.elicitation, &plugin.roots))
                .with_context(|| format!("plugin `{name}`"))?;
            let http = HttpPolicy::from_raw(plugin.http, base)
                .with_context(|| format!("plugin `{name}`: [plugin.http]"))?;
            let settings = crate::capabilities::settings::from_raw(plugin.config, base)
                .with_context(|| format!("plugin `{name}`"))?;
            let sha256 = plugin
                .sha256
                .map(|digest| validate_digest(&digest).with_context(|| format!("plugin `{name}`")))
                .transpose()?;
            plugins.push(PluginConfig {
                name,
                tool_prefix: plugin.tool_prefix,
                component: ComponentSource::File(component),
                grants,
                limits: plugin.limits,
                sampling: plugin.sampling,
                elicitation: plugin.elicitation,
                roots: plugin.roots,
                http: Arc::new(http),
                settings,
                sha256,
            });
        }
        let config = Config {
            origin: origin.to_string(),
            plugins,
            cache_dir: raw.cache_dir.map(|dir| base.join(dir)),
            llm: raw.llm.map(|llm| llm.settings(base)).transpose()?,
            audit: raw
                .audit
                .map(|audit| AuditSettings {
                    file: audit.file.map(|file| base.join(file)),
                    prompts: audit.prompts,
                })
                .unwrap_or_default(),
        };
        config.check_routes()?;
        Ok(config)
    }

    /// Serve with `settings` as the provider (`serve --llm`), in place of
    /// any `[llm]` section.
    pub fn use_provider(&mut self, settings: ProviderSettings) {
        self.llm = Some(settings);
    }

    /// Every plugin whose route needs the host's provider has one.
    pub fn check_routes(&self) -> Result<()> {
        if self.llm.is_some() {
            return Ok(());
        }
        for plugin in &self.plugins {
            if plugin.sampling.route == Some(SamplingRoute::Provider) {
                bail!(
                    "plugin `{}`: `sampling.route = \"provider\"` needs the host's LLM provider: add an [llm] section (for example `llm = {{ kind = \"anthropic\" }}`) or serve with --llm",
                    plugin.name
                );
            }
        }
        Ok(())
    }
}

impl RawLlm {
    fn settings(self, base: &Path) -> Result<ProviderSettings> {
        if self.api_key.is_some() {
            bail!(
                "[llm] `api_key`: never write the key into the config (configs are shared and committed); name where it is instead: `api_key_env = \"VARIABLE\"` or `api_key_file = \"path\"`"
            );
        }
        let mut settings = ProviderSettings::new(self.kind);
        settings.key = match (self.api_key_env, self.api_key_file) {
            (Some(_), Some(_)) => {
                bail!("[llm]: give `api_key_env` or `api_key_file`, not both")
            }
            (Some(name), None) if name.is_empty() => {
                bail!("[llm] `api_key_env` is empty: name an environment variable")
            }
            (Some(name), None) => KeySource::Env(name),
            (None, Some(file)) => KeySource::File(base.join(file)),
            (None, None) => settings.key,
        };
        settings.model = self.model.filter(|m| !m.is_empty());
        settings.base_url = self.base_url;
        if let Some(timeout) = self.timeout_s {
            if !(1..=3600).contains(&timeout) {
                bail!("[llm] `timeout_s` is {timeout}; it must be 1 to 3600");
            }
            settings.timeout = std::time::Duration::from_secs(timeout);
        }
        if let Some(retries) = self.retries {
            if retries > 10 {
                bail!("[llm] `retries` is {retries}; it may be at most 10");
            }
            settings.retries = retries;
        }
        Ok(settings)
    }
}

/// A day, in seconds: the longest any wait may be set to.
const DAY_S: u64 = 24 * 60 * 60;

/// Zero or more than a day makes no sense for a wait or a count of questions.
fn validate_asking(elicitation: &ElicitationPolicy, roots: &RootsPolicy) -> Result<()> {
    for (key, value, max) in [
        (
            "elicitation.max_requests",
            u64::from(elicitation.max_requests),
            1000,
        ),
        ("elicitation.timeout_s", elicitation.timeout_s, DAY_S),
        ("roots.max_requests", u64::from(roots.max_requests), 1000),
        ("roots.timeout_s", roots.timeout_s, DAY_S),
    ] {
        if value == 0 || value > max {
            bail!("`{key}` = {value} is out of range: use 1 to {max}");
        }
    }
    Ok(())
}

fn validate_limits(limits: &Limits, sampling: &SamplingPolicy) -> Result<()> {
    let zero = [
        ("limits.memory_mib", limits.memory_mib == 0),
        ("limits.cpu_time_ms", limits.cpu_time_ms == 0),
        ("limits.wall_time_s", limits.wall_time_s == 0),
        ("limits.arguments_bytes", limits.arguments_bytes == 0),
        ("limits.result_bytes", limits.result_bytes == 0),
        ("limits.append_bytes", limits.append_bytes == 0),
        ("limits.quota_mib", limits.quota_mib == 0),
        ("limits.concurrent_calls", limits.concurrent_calls == 0),
        ("limits.max_files", limits.max_files == 0),
        ("limits.log_lines", limits.log_lines == 0),
        ("limits.log_bytes", limits.log_bytes == 0),
        ("sampling.max_tokens", sampling.max_tokens == 0),
        ("sampling.timeout_s", sampling.timeout_s == 0),
        (
            "sampling.requests_per_minute",
            sampling.requests_per_minute == Some(0),
        ),
        (
            "sampling.tokens_per_call",
            sampling.tokens_per_call == Some(0),
        ),
        (
            "sampling.tokens_per_day",
            sampling.tokens_per_day == Some(0),
        ),
    ];
    if let Some((key, _)) = zero.iter().find(|(_, is_zero)| *is_zero) {
        bail!("`{key}` must be at least 1 (leave it out for the default)");
    }
    if limits.memory_mib > 4096 {
        bail!("`limits.memory_mib` is at most 4096: a wasm32 instance cannot address more");
    }
    // Upper bounds keep every derived duration and size far from overflow.
    let too_large = [
        ("limits.cpu_time_ms", limits.cpu_time_ms, DAY_S * 1000),
        ("limits.wall_time_s", limits.wall_time_s, DAY_S),
        (
            "limits.concurrent_calls",
            limits.concurrent_calls as u64,
            100_000,
        ),
        ("limits.quota_mib", limits.quota_mib, 1 << 30),
        ("sampling.timeout_s", sampling.timeout_s, DAY_S),
        (
            "sampling.requests_per_minute",
            u64::from(sampling.requests_per_minute.unwrap_or(0)),
            1_000_000,
        ),
    ];
    if let Some((key, value, max)) = too_large.iter().find(|(_, value, max)| value > max) {
        bail!("`{key}` is {value}; it may be at most {max}");
    }
    Ok(())
}

/// A `sha256` pin: 64 hexadecimal digits, as `wasm-mcp check` prints them.
fn validate_digest(digest: &str) -> Result<String> {
    let digest = digest.trim().to_ascii_lowercase();
    let digest = digest.strip_prefix("sha256:").unwrap_or(&digest);
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "`sha256` must be 64 hexadecimal digits (copy it from `wasm-mcp check`), not {digest:?}"
        );
    }
    Ok(digest.to_string())
}

fn validate_plugin_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !valid {
        bail!(
            "plugin name {name:?} is not valid: use 1 to 64 ASCII letters, digits, `-`, `_` or `.`"
        );
    }
    Ok(())
}

/// A grant is a relative, `/`-separated path without `.` or `..` parts; a
/// trailing `/` makes it a folder grant.
pub fn validate_grant_pattern(pattern: &str) -> Result<()> {
    let body = pattern.strip_suffix('/').unwrap_or(pattern);
    if body.is_empty() {
        bail!(
            "is empty or the whole config folder: name a file (`report.txt`) or a subfolder (`logs/`)"
        );
    }
    check_relative_path(body).map_err(|why| anyhow::anyhow!("{why}"))
}

/// Why `path` is not a plain relative path, if it is not. Shared by grant
/// patterns and the paths plugins ask to append to.
pub fn check_relative_path(path: &str) -> std::result::Result<(), String> {
    if path.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    if path.starts_with('/') || path.contains('\\') || path.contains(':') {
        return Err(
            "must be a relative path with `/` separators (no leading `/`, `\\` or drive letter)"
                .into(),
        );
    }
    for part in path.split('/') {
        match part {
            "" => return Err("has an empty path segment (`//` or a trailing `/`)".into()),
            "." | ".." => return Err(format!("has a `{part}` segment; name the path directly")),
            _ if part.len() > 255 => return Err("has a segment longer than 255 bytes".into()),
            _ => {}
        }
    }
    if path.len() > 4096 {
        return Err("is longer than 4096 bytes".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/srv/tools"), "test")
    }

    #[test]
    fn resolves_paths_against_the_config_folder() {
        let config = parse(
            r#"
            [[plugin]]
            component = "build/log_archiver.wasm"
            append = ["incident_report.txt", "logs/"]
            "#,
        )
        .unwrap();
        let plugin = &config.plugins[0];
        assert_eq!(plugin.name, "log-archiver");
        assert!(
            matches!(&plugin.component, ComponentSource::File(p) if p == Path::new("/srv/tools/build/log_archiver.wasm"))
        );
        assert_eq!(
            plugin.grants[0].host_path(),
            Path::new("/srv/tools/incident_report.txt")
        );
        assert!(!plugin.grants[0].is_folder());
        assert!(plugin.grants[1].is_folder());
        assert_eq!(plugin.grants[1].host_path(), Path::new("/srv/tools/logs"));
    }

    #[test]
    fn limits_default_and_can_be_set() {
        let config = parse(
            "[[plugin]]\ncomponent = \"a.wasm\"\n[plugin.limits]\nmemory_mib = 8\n[plugin.sampling]\nmax_tokens = 50\n",
        )
        .unwrap();
        let plugin = &config.plugins[0];
        assert_eq!(plugin.limits.memory_mib, 8);
        assert_eq!(plugin.limits.cpu_time_ms, Limits::default().cpu_time_ms);
        assert_eq!(plugin.sampling.max_tokens, 50);
        assert_eq!(
            plugin.sampling.max_requests,
            SamplingPolicy::default().max_requests
        );
        let err =
            parse("[[plugin]]\ncomponent = \"a.wasm\"\n[plugin.limits]\nmemory = 8\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `memory`"),
            "{err:#}"
        );
        let err = parse("[[plugin]]\ncomponent = \"a.wasm\"\n[plugin.limits]\ncpu_time_ms = 0\n")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("`limits.cpu_time_ms` must be at least 1"),
            "{err:#}"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse("[[plugin]]\ncomponent = \"a.wasm\"\nappend_to = [\"x\"]\n").unwrap_err();
        assert!(format!("{err:#}").contains("append_to"), "{err:#}");
        let err = parse("plugins = []\n").unwrap_err();
        assert!(format!("{err:#}").contains("plugins"), "{err:#}");
    }

    #[test]
    fn escaping_grants_are_refused() {
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../b",
            "./a",
            "a//b",
            "",
            "/",
            "a\\b",
            "c:x",
        ] {
            let text = format!("[[plugin]]\ncomponent = \"a.wasm\"\nappend = [{bad:?}]\n");
            let err = parse(&text).unwrap_err();
            assert!(
                format!("{err:#}").contains("append grant"),
                "{bad}: {err:#}"
            );
        }
    }

    #[test]
    fn duplicate_plugin_names_are_refused() {
        let err =
            parse("[[plugin]]\ncomponent = \"a.wasm\"\n[[plugin]]\ncomponent = \"x/a.wasm\"\n")
                .unwrap_err();
        assert!(
            format!("{err:#}").contains("two plugins are named `a`"),
            "{err:#}"
        );
    }

    #[test]
    fn providers_routes_and_budgets_parse() {
        let config = parse(
            "llm = { kind = \"openai\", base_url = \"http://127.0.0.1:11434/v1\", api_key_file = \"key.txt\" }\n[audit]\nfile = \"audit.jsonl\"\n[[plugin]]\ncomponent = \"a.wasm\"\n[plugin.sampling]\nrequests_per_minute = 5\ntokens_per_day = 1000\n[[plugin]]\ncomponent = \"b.wasm\"\n[plugin.sampling]\nroute = \"client\"\n",
        )
        .unwrap();
        let llm = config.llm.as_ref().unwrap();
        assert_eq!(llm.kind, ProviderKind::Openai);
        assert_eq!(llm.key, KeySource::File("/srv/tools/key.txt".into()));
        assert_eq!(
            config.audit.file.as_deref(),
            Some(Path::new("/srv/tools/audit.jsonl"))
        );
        let [a, b] = &config.plugins[..] else {
            panic!()
        };
        assert_eq!(a.sampling.route(true), SamplingRoute::ClientOrProvider);
        assert_eq!(a.sampling.requests_per_minute, Some(5));
        assert_eq!(b.sampling.route(true), SamplingRoute::Client);
        assert_eq!(
            SamplingPolicy::default().route(false),
            SamplingRoute::Client
        );
        let err =
            parse("[[plugin]]\ncomponent = \"a.wasm\"\n[plugin.sampling]\nroute = \"provider\"\n")
                .unwrap_err();
        assert!(
            format!("{err:#}").contains("needs the host's LLM provider"),
            "{err:#}"
        );
        let err = parse(
            "[llm]\nkind = \"anthropic\"\napi_key = \"sk-1\"\n[[plugin]]\ncomponent = \"a.wasm\"\n",
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("never write the key"),
            "{err:#}"
        );
        assert!(!format!("{err:#}").contains("sk-1"), "{err:#}");
        let err =
            parse("[llm]\nkind = \"gemini\"\n[[plugin]]\ncomponent = \"a.wasm\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("anthropic"), "{err:#}");
        let err =
            parse("[[plugin]]\ncomponent = \"a.wasm\"\n[plugin.sampling]\ntokens_per_day = 0\n")
                .unwrap_err();
        assert!(
            format!("{err:#}").contains("`sampling.tokens_per_day` must be at least 1"),
            "{err:#}"
        );
    }

    #[test]
    fn an_empty_config_says_what_to_add() {
        let err = parse("").unwrap_err();
        assert!(format!("{err:#}").contains("[[plugin]]"), "{err:#}");
    }
}
