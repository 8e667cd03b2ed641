//! The Chat Completions API (`POST {base}/chat/completions`), as OpenAI,
//! Ollama, vLLM and llama.cpp serve it: MCP's sampling request in its shape,
//! and its answer (text, finish reason, usage) back in MCP's.
#![allow(deprecated)]

use anyhow::{Result, anyhow, bail};
use rmcp::model::{CreateMessageRequestParams, CreateMessageResult, SamplingMessage};
use serde_json::{Value, json};

use super::{Completion, Usage, answer, role};

/// The request body for `model`; the system prompt is the first message.
pub fn body(request: &CreateMessageRequestParams, model: &str) -> Result<Value> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system_prompt {
        messages.push(json!({"role": "system", "content": system}));
    }
    for each in &request.messages {
        messages.push(message(each)?);
    }
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": messages,
    });
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(stop) = request.stop_sequences.as_ref().filter(|s| !s.is_empty()) {
        body["stop"] = json!(stop);
    }
    Ok(body)
}

/// The first choice in MCP's shape, with the usage the server reported.
pub fn completion(response: &Value) -> Result<Completion> {
    let choice = &response["choices"][0];
    let text = choice["message"]["content"].as_str().ok_or_else(|| {
        anyhow!("the Chat Completions API answered without `choices[0].message.content`")
    })?;
    let stop = choice["finish_reason"].as_str().map(|reason| match reason {
        "stop" => CreateMessageResult::STOP_REASON_END_TURN.to_string(),
        "length" => CreateMessageResult::STOP_REASON_END_MAX_TOKEN.to_string(),
        "tool_calls" => CreateMessageResult::STOP_REASON_TOOL_USE.to_string(),
        other => other.to_string(),
    });
    let usage = &response["usage"];
    let usage = usage.is_object().then(|| Usage {
        input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
    });
    Ok(Completion {
        result: answer(
            text.to_string(),
            response["model"].as_str().unwrap_or("openai"),
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
                "type": "image_url",
                "image_url": {"url": format!("data:{};base64,{}", i.mime_type, i.data)}
            })),
            Block::Audio(a) => Ok(json!({
                "type": "input_audio",
                "input_audio": {"data": a.data, "format": a.mime_type.rsplit('/').next().unwrap_or("wav")}
            })),
            _ => bail!("tool use in sampling is not supported"),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"role": role(&message.role), "content": content}))
}
