//! The Anthropic Messages API (`POST /v1/messages`): MCP's sampling request
//! in its shape, and its answer (text, stop reason, usage) back in MCP's.
#![allow(deprecated)]

use anyhow::{Result, anyhow, bail};
use rmcp::model::{CreateMessageRequestParams, CreateMessageResult, SamplingMessage};
use serde_json::{Value, json};

use super::{Completion, Usage, answer, role};

/// The request body for `model`.
pub fn body(request: &CreateMessageRequestParams, model: &str) -> Result<Value> {
    let messages = request
        .messages
        .iter()
        .map(message)
        .collect::<Result<Vec<_>>>()?;
    let mut body = json!({
        "model": model,
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
    Ok(body)
}

/// The answer in MCP's shape, with the usage the API reported (cache reads
/// and writes count as input).
pub fn completion(response: &Value) -> Result<Completion> {
    let text: String = response["content"]
        .as_array()
        .ok_or_else(|| anyhow!("the Anthropic API answered without `content`"))?
        .iter()
        .filter(|block| block["type"] == "text")
        .filter_map(|block| block["text"].as_str())
        .collect();
    let stop = response["stop_reason"].as_str().map(|reason| match reason {
        "end_turn" => CreateMessageResult::STOP_REASON_END_TURN.to_string(),
        "max_tokens" => CreateMessageResult::STOP_REASON_END_MAX_TOKEN.to_string(),
        "stop_sequence" => CreateMessageResult::STOP_REASON_END_SEQUENCE.to_string(),
        "tool_use" => CreateMessageResult::STOP_REASON_TOOL_USE.to_string(),
        other => other.to_string(),
    });
    let usage = &response["usage"];
    let count = |key: &str| usage[key].as_u64().unwrap_or(0);
    let usage = usage.is_object().then(|| Usage {
        input_tokens: count("input_tokens")
            + count("cache_creation_input_tokens")
            + count("cache_read_input_tokens"),
        output_tokens: count("output_tokens"),
    });
    Ok(Completion {
        result: answer(
            text,
            response["model"].as_str().unwrap_or("anthropic"),
            stop,
        ),
        usage,
    })
}

fn message(message: &SamplingMessage) -> Result<Value> {
    use rmcp::model::SamplingMessageContentBlock as Block;
    let content = message
        .content
        .iter()
        .map(|block| match block {
            Block::Text(t) => Ok(json!({"type": "text", "text": t.text})),
            Block::Image(i) => Ok(json!({
                "type": "image",
                "source": {"type": "base64", "media_type": i.mime_type, "data": i.data}
            })),
            Block::Audio(_) => {
                bail!("the Anthropic API does not accept audio; use an `openai` provider with an audio model")
            }
            _ => bail!("tool use in sampling is not supported"),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"role": role(&message.role), "content": content}))
}
