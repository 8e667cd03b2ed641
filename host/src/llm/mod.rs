//! LLM providers: the Anthropic Messages API and the Chat Completions API
//! (OpenAI, Ollama, vLLM, llama.cpp), shared by the server's provider route
//! for `sample()` and by `wasm-mcp call`, so both convert MCP's
//! `sampling/createMessage` the same way.
//!
//! Max tokens are always passed through; requests are retried with backoff
//! on 429 and 5xx (honouring `Retry-After`) and time out. The API key is a
//! [`Secret`]: it goes only into a request header marked sensitive, and any
//! provider text that echoes it is scrubbed before it reaches an error.
#![allow(deprecated)]

mod anthropic;
mod openai;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rmcp::model::{CreateMessageRequestParams, CreateMessageResult, Role, SamplingMessage};
use serde_json::Value;

/// The default Anthropic model: a current Sonnet.
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";

/// Which API a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The Anthropic Messages API.
    Anthropic,
    /// The Chat Completions API, as OpenAI and compatible servers speak it.
    Openai,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Openai => "openai",
        }
    }

    /// The environment variable that holds this API's key by convention.
    pub fn key_variable(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
            ProviderKind::Openai => "OPENAI_API_KEY",
        }
    }

    fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::Openai => "https://api.openai.com/v1",
        }
    }

    fn default_model(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => DEFAULT_ANTHROPIC_MODEL,
            ProviderKind::Openai => DEFAULT_OPENAI_MODEL,
        }
    }
}

/// An API key. Its `Debug` never shows it, so it cannot leak through a log
/// line, an error or a panic message that formats a containing struct.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where a provider's key comes from: the *name* of an environment variable
/// or a file, never the key itself (configs are shared and committed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Env(String),
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env(name) => write!(f, "${name}"),
            KeySource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

impl KeySource {
    /// The key, if the variable is set or the file has one (its first line).
    pub fn read(&self) -> Result<Option<Secret>> {
        let value = match self {
            KeySource::Env(name) => std::env::var(name).ok(),
            KeySource::File(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the API key file {}", path.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            ),
        };
        Ok(value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(Secret::new))
    }
}

/// Everything that makes a provider, as the config or the command line says.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    /// Pinned model; without it, the request's model hints, then the default.
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub key: KeySource,
    pub timeout: Duration,
    pub retries: u32,
}

impl ProviderSettings {
    /// Settings with the API's conventions: its key variable, its base URL.
    pub fn new(kind: ProviderKind) -> Self {
        ProviderSettings {
            kind,
            model: None,
            base_url: None,
            key: KeySource::Env(kind.key_variable().into()),
            timeout: Duration::from_secs(120),
            retries: 3,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(self.kind.default_base_url())
            .trim_end_matches('/')
    }

    /// The model requests ask for, unless hints choose (shown by `check`).
    pub fn model_shown(&self) -> String {
        match &self.model {
            Some(model) => model.clone(),
            None => format!(
                "{} (or the plugin's model hints)",
                self.kind.default_model()
            ),
        }
    }
}

/// Tokens one request consumed, as the provider reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

/// An answer and what it cost, when the provider said.
pub struct Completion {
    pub result: CreateMessageResult,
    pub usage: Option<Usage>,
}

/// A configured provider.
pub struct Provider {
    kind: ProviderKind,
    http: reqwest::Client,
    base_url: String,
    api_key: Option<Secret>,
    model: Option<String>,
    max_retries: u32,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider from `settings`, its key read now. Anthropic needs a key;
    /// a Chat Completions server may not (Ollama, llama.cpp).
    pub fn new(settings: &ProviderSettings) -> Result<Provider> {
        let api_key = settings.key.read()?;
        if api_key.is_none() && settings.kind == ProviderKind::Anthropic {
            bail!(
                "the anthropic provider needs an API key: set {} (or name another source with `api_key_env` or `api_key_file` in [llm])",
                match &settings.key {
                    KeySource::Env(name) => name.clone(),
                    KeySource::File(path) => format!("a key in {}", path.display()),
                }
            );
        }
        let base_url = settings.base_url().to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| anyhow!("the base URL {base_url:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("the base URL {base_url:?} must be http:// or https://");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            bail!(
                "the base URL must not hold credentials (they would show in errors and logs): put the key in an environment variable or file"
            );
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            // Loopback servers (Ollama) suffer delayed-ACK stalls on reused
            // idle connections; remote APIs gain little from pooling here.
            .pool_max_idle_per_host(0)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Provider {
            kind: settings.kind,
            http,
            base_url,
            api_key,
            model: settings.model.clone(),
            max_retries: settings.retries,
        })
    }

    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// Answer one sampling request.
    pub async fn complete(&self, request: &CreateMessageRequestParams) -> Result<Completion> {
        let model = self.model_for(request);
        match self.kind {
            ProviderKind::Anthropic => {
                let body = anthropic::body(request, &model)?;
                let url = format!("{}/v1/messages", self.base_url);
                let response = self
                    .send(|| {
                        let mut request = self
                            .http
                            .post(&url)
                            .header("anthropic-version", "2023-06-01")
                            .json(&body);
                        if let Some(key) = self.key_header() {
                            request = request.header("x-api-key", key);
                        }
                        request
                    })
                    .await?;
                anthropic::completion(&response)
            }
            ProviderKind::Openai => {
                let body = openai::body(request, &model)?;
                let url = format!("{}/chat/completions", self.base_url);
                let response = self
                    .send(|| {
                        let mut request = self.http.post(&url).json(&body);
                        if let Some(key) = &self.api_key {
                            // bearer_auth marks the header sensitive.
                            request = request.bearer_auth(key.expose());
                        }
                        request
                    })
                    .await?;
                openai::completion(&response)
            }
        }
    }

    fn key_header(&self) -> Option<reqwest::header::HeaderValue> {
        let mut value =
            reqwest::header::HeaderValue::from_str(self.api_key.as_ref()?.expose()).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// The pinned model, else the first model hint the API can take, else
    /// the API's default.
    fn model_for(&self, request: &CreateMessageRequestParams) -> String {
        if let Some(model) = &self.model {
            return model.clone();
        }
        let hint = request
            .model_preferences
            .as_ref()
            .and_then(|p| p.hints.as_ref())
            .and_then(|hints| hints.iter().find_map(|h| h.name.clone()));
        match (self.kind, hint) {
            (ProviderKind::Anthropic, Some(hint)) if hint.starts_with("claude-") => hint,
            (ProviderKind::Anthropic, Some(hint)) if hint.contains("haiku") => {
                "claude-haiku-4-5".into()
            }
            (ProviderKind::Anthropic, Some(hint)) if hint.contains("opus") => {
                "claude-opus-4-1".into()
            }
            (ProviderKind::Openai, Some(hint)) => hint,
            (kind, _) => kind.default_model().to_string(),
        }
    }

    /// POST with bounded retries on 429 and 5xx, honouring `Retry-After`.
    async fn send(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Value> {
        let api = self.kind.name();
        let mut attempt = 0;
        loop {
            let outcome = build().send().await;
            let retry_in = match outcome {
                Ok(response) if response.status().is_success() => {
                    return response.json().await.map_err(|e| {
                        anyhow!(
                            "the {api} API answered with invalid JSON: {}",
                            self.scrub(&e.to_string())
                        )
                    });
                }
                Ok(response) => {
                    let status = response.status();
                    let retryable = status.as_u16() == 429 || status.is_server_error();
                    let wait = retry_after(&response);
                    let body = response.text().await.unwrap_or_default();
                    let detail = self.scrub(crate::logging::truncate(&body, 500));
                    if !retryable || attempt >= self.max_retries {
                        bail!("the {api} API answered {status}: {detail}");
                    }
                    tracing::warn!("the {api} API answered {status}; retrying");
                    wait.unwrap_or_else(|| backoff(attempt))
                }
                Err(error) if error.is_timeout() => {
                    bail!(
                        "the {api} API did not answer in time ({})",
                        self.scrub(&error.to_string())
                    )
                }
                Err(error) if attempt < self.max_retries && error.is_connect() => backoff(attempt),
                Err(error) => bail!(
                    "cannot reach the {api} API at {}: {}",
                    self.base_url,
                    self.scrub(&error.to_string())
                ),
            };
            attempt += 1;
            tokio::time::sleep(retry_in).await;
        }
    }

    /// `text` with every occurrence of the key replaced: a provider's error
    /// body may echo it.
    fn scrub(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "[redacted]"),
            _ => text.to_string(),
        }
    }
}

/// 0.5 s, 1 s, 2 s, ... capped at 8 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4))).min(Duration::from_secs(8))
}

/// `Retry-After` in seconds, capped at a minute.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    parse_retry_after(response.headers().get("retry-after")?.to_str().ok()?)
}

/// A `Retry-After` number of seconds, capped at a minute; anything that is
/// not a finite number (`NaN`, `inf`, an HTTP date) means "use the backoff".
fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    seconds
        .is_finite()
        .then(|| Duration::from_secs_f64(seconds.clamp(0.0, 60.0)))
}

/// An assistant answer in MCP's shape.
pub fn answer(text: String, model: &str, stop: Option<String>) -> CreateMessageResult {
    let mut result =
        CreateMessageResult::new(SamplingMessage::assistant_text(text), model.to_string());
    result.stop_reason = stop;
    result
}

fn role(role: &Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_finite_seconds_only() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("3600"), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("-4"), Some(Duration::ZERO));
        for unusable in [
            "NaN",
            "nan",
            "inf",
            "-inf",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "",
        ] {
            assert_eq!(parse_retry_after(unusable), None, "{unusable}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let settings = ProviderSettings::new(ProviderKind::Openai);
        let mut provider = Provider::new(&settings).unwrap();
        provider.api_key = Some(Secret::new("sk-very-secret".into()));
        assert!(!format!("{provider:?}").contains("sk-very-secret"));
        assert!(!format!("{:?}", provider.api_key).contains("sk-very-secret"));
        assert_eq!(
            provider.scrub("bad key sk-very-secret given"),
            "bad key [redacted] given"
        );
    }

    #[test]
    fn usage_is_read_from_both_apis() {
        let anthropic = serde_json::json!({
            "content": [{"type": "text", "text": "hi"}], "model": "m", "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2}
        });
        let done = anthropic::completion(&anthropic).unwrap();
        assert_eq!(
            done.usage,
            Some(Usage {
                input_tokens: 12,
                output_tokens: 5
            })
        );
        let openai = serde_json::json!({
            "choices": [{"message": {"content": "hi"}, "finish_reason": "length"}], "model": "m",
            "usage": {"prompt_tokens": 7, "completion_tokens": 3}
        });
        let done = openai::completion(&openai).unwrap();
        assert_eq!(
            done.usage,
            Some(Usage {
                input_tokens: 7,
                output_tokens: 3
            })
        );
        assert_eq!(done.result.stop_reason.as_deref(), Some("maxTokens"));
    }
}
