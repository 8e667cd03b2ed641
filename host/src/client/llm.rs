//! LLM providers for the client side of sampling: the Anthropic Messages
//! API, the OpenAI Chat Completions API (as OpenAI, Ollama, llama.cpp and
//! vLLM serve it), and a human at the terminal.
//!
//! Each converts MCP's `sampling/createMessage` to its API and back. Max
//! tokens are always passed through; requests are retried with backoff on
//! 429 and 5xx (honouring `Retry-After`) and time out. API keys go only into
//! request headers, never into messages or logs.
#![allow(deprecated)]

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, Role, SamplingMessage,
    SamplingMessageContentBlock,
};
use serde_json::{Value, json};

/// The default Anthropic model: a current Sonnet.
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";

/// Which API answers sampling requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderKind {
    Anthropic,
    Openai,
    Human,
}

/// A configured provider.
pub struct Provider {
    kind: ProviderKind,
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    model: Option<String>,
    max_retries: u32,
}

impl Provider {
    /// A provider of `kind`; keys come from `ANTHROPIC_API_KEY` or
    /// `OPENAI_API_KEY`.
    pub fn new(
        kind: ProviderKind,
        model: Option<String>,
        base_url: Option<String>,
        timeout: Duration,
        max_retries: u32,
    ) -> Result<Provider> {
        let key = |var: &str| std::env::var(var).ok().filter(|k| !k.is_empty());
        let (api_key, default_base) = match kind {
            ProviderKind::Anthropic => {
                let key = key("ANTHROPIC_API_KEY").ok_or_else(|| {
                    anyhow!("--llm anthropic needs an API key: set ANTHROPIC_API_KEY")
                })?;
                (Some(key), "https://api.anthropic.com")
            }
            ProviderKind::Openai => (key("OPENAI_API_KEY"), "https://api.openai.com/v1"),
            ProviderKind::Human => (None, ""),
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Provider {
            kind,
            http,
            base_url: base_url
                .unwrap_or_else(|| default_base.to_string())
                .trim_end_matches('/')
                .to_string(),
            api_key,
            model,
            max_retries,
        })
    }

    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// Answer one sampling request.
    pub async fn complete(
        &self,
        request: &CreateMessageRequestParams,
    ) -> Result<CreateMessageResult> {
        match self.kind {
            ProviderKind::Anthropic => self.anthropic(request).await,
            ProviderKind::Openai => self.openai(request).await,
            ProviderKind::Human => human(request).await,
        }
    }

    /// `--model`, else the first model hint, else the provider's default.
    fn model_for(&self, request: &CreateMessageRequestParams, default: &str) -> String {
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
            _ => default.to_string(),
        }
    }

    async fn anthropic(&self, request: &CreateMessageRequestParams) -> Result<CreateMessageResult> {
        let messages = request
            .messages
            .iter()
            .map(anthropic_message)
            .collect::<Result<Vec<_>>>()?;
        let mut body = json!({
            "model": self.model_for(request, DEFAULT_ANTHROPIC_MODEL),
            "max_tokens": request.max_tokens,
            "messages": messages,
        });
        if let Some(system) = &request.system_prompt {
            body["system"] = json!(system);
        }
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        if let Some(stop) = request.stop_sequences.as_ref().filter(|s| !s.is_empty()) {
            body["stop_sequences"] = json!(stop);
        }
        let url = format!("{}/v1/messages", self.base_url);
        let key = self.api_key.as_deref().unwrap_or_default();
        let response = self
            .send(|| {
                self.http
                    .post(&url)
                    .header("x-api-key", key)
                    .header("anthropic-version", "2023-06-01")
                    .json(&body)
            })
            .await?;
        let text: String = response["content"]
            .as_array()
            .ok_or_else(|| anyhow!("the Anthropic API answered without `content`"))?
            .iter()
            .filter(|block| block["type"] == "text")
            .filter_map(|block| block["text"].as_str())
            .collect();
        let stop = match response["stop_reason"].as_str() {
            Some("end_turn") => Some(CreateMessageResult::STOP_REASON_END_TURN.to_string()),
            Some("max_tokens") => Some(CreateMessageResult::STOP_REASON_END_MAX_TOKEN.to_string()),
            Some("stop_sequence") => {
                Some(CreateMessageResult::STOP_REASON_END_SEQUENCE.to_string())
            }
            Some("tool_use") => Some(CreateMessageResult::STOP_REASON_TOOL_USE.to_string()),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        Ok(result(
            text,
            response["model"].as_str().unwrap_or("anthropic"),
            stop,
        ))
    }

    async fn openai(&self, request: &CreateMessageRequestParams) -> Result<CreateMessageResult> {
        let mut messages = Vec::new();
        if let Some(system) = &request.system_prompt {
            messages.push(json!({"role": "system", "content": system}));
        }
        for message in &request.messages {
            messages.push(openai_message(message)?);
        }
        let mut body = json!({
            "model": self.model_for(request, DEFAULT_OPENAI_MODEL),
            "max_tokens": request.max_tokens,
            "messages": messages,
        });
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        if let Some(stop) = request.stop_sequences.as_ref().filter(|s| !s.is_empty()) {
            body["stop"] = json!(stop);
        }
        let url = format!("{}/chat/completions", self.base_url);
        let response = self
            .send(|| {
                let request = self.http.post(&url).json(&body);
                match &self.api_key {
                    Some(key) => request.bearer_auth(key),
                    None => request,
                }
            })
            .await?;
        let choice = &response["choices"][0];
        let text = choice["message"]["content"].as_str().ok_or_else(|| {
            anyhow!("the Chat Completions API answered without `choices[0].message.content`")
        })?;
        let stop = match choice["finish_reason"].as_str() {
            Some("stop") => Some(CreateMessageResult::STOP_REASON_END_TURN.to_string()),
            Some("length") => Some(CreateMessageResult::STOP_REASON_END_MAX_TOKEN.to_string()),
            Some("tool_calls") => Some(CreateMessageResult::STOP_REASON_TOOL_USE.to_string()),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        Ok(result(
            text.to_string(),
            response["model"].as_str().unwrap_or("openai"),
            stop,
        ))
    }

    /// POST with bounded retries on 429 and 5xx, honouring `Retry-After`.
    async fn send(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Value> {
        let mut attempt = 0;
        loop {
            let outcome = build().send().await;
            let retry_in = match outcome {
                Ok(response) if response.status().is_success() => {
                    return response
                        .json()
                        .await
                        .context("the provider answered with invalid JSON");
                }
                Ok(response) => {
                    let status = response.status();
                    let retryable = status.as_u16() == 429 || status.is_server_error();
                    let wait = retry_after(&response);
                    let body = response.text().await.unwrap_or_default();
                    let detail = crate::capabilities::log::truncate(&body, 500).to_string();
                    if !retryable || attempt >= self.max_retries {
                        bail!("the {:?} API answered {status}: {detail}", self.kind);
                    }
                    tracing::warn!("{:?} API answered {status}; retrying", self.kind);
                    wait.unwrap_or_else(|| backoff(attempt))
                }
                Err(error) if error.is_timeout() => {
                    bail!("the {:?} API did not answer in time ({error})", self.kind)
                }
                Err(error) if attempt < self.max_retries && error.is_connect() => backoff(attempt),
                Err(error) => bail!(
                    "cannot reach the {:?} API at {}: {error}",
                    self.kind,
                    self.base_url
                ),
            };
            attempt += 1;
            tokio::time::sleep(retry_in).await;
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

fn result(text: String, model: &str, stop: Option<String>) -> CreateMessageResult {
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

fn anthropic_message(message: &SamplingMessage) -> Result<Value> {
    let content = message
        .content
        .iter()
        .map(|block| match block {
            SamplingMessageContentBlock::Text(t) => Ok(json!({"type": "text", "text": t.text})),
            SamplingMessageContentBlock::Image(i) => Ok(json!({
                "type": "image",
                "source": {"type": "base64", "media_type": i.mime_type, "data": i.data}
            })),
            SamplingMessageContentBlock::Audio(_) => {
                bail!(
                    "the Anthropic API does not accept audio; use --llm openai with an audio model"
                )
            }
            _ => bail!("tool use in sampling is not supported by `wasm-mcp call`"),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"role": role(&message.role), "content": content}))
}

fn openai_message(message: &SamplingMessage) -> Result<Value> {
    let content = message
        .content
        .iter()
        .map(|block| match block {
            SamplingMessageContentBlock::Text(t) => Ok(json!({"type": "text", "text": t.text})),
            SamplingMessageContentBlock::Image(i) => Ok(json!({
                "type": "image_url",
                "image_url": {"url": format!("data:{};base64,{}", i.mime_type, i.data)}
            })),
            SamplingMessageContentBlock::Audio(a) => Ok(json!({
                "type": "input_audio",
                "input_audio": {"data": a.data, "format": a.mime_type.rsplit('/').next().unwrap_or("wav")}
            })),
            _ => bail!("tool use in sampling is not supported by `wasm-mcp call`"),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"role": role(&message.role), "content": content}))
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
    Ok(result(
        answer,
        "human",
        Some(CreateMessageResult::STOP_REASON_END_TURN.to_string()),
    ))
}

/// What a sampling request asks, for a person to read.
pub fn describe(request: &CreateMessageRequestParams) -> String {
    let mut out = String::new();
    if let Some(system) = &request.system_prompt {
        out.push_str(&format!("system prompt: {system}\n"));
    }
    for message in &request.messages {
        for block in message.content.iter() {
            let shown = match block {
                SamplingMessageContentBlock::Text(t) => t.text.clone(),
                SamplingMessageContentBlock::Image(i) => format!("[image, {}]", i.mime_type),
                SamplingMessageContentBlock::Audio(a) => format!("[audio, {}]", a.mime_type),
                _ => "[other content]".into(),
            };
            out.push_str(&format!("{}: {shown}\n", role(&message.role)));
        }
    }
    out.push_str(&format!("max tokens: {}", request.max_tokens));
    out
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
}
