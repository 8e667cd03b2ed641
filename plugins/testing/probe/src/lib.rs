//! Test plugin: each tool exposes one host import as directly as possible,
//! so integration tests can try what a plugin could do with it.

wit_bindgen::generate!({ path: "../../../wit", world: "tool-plugin" });

use exports::wasm_mcp::plugin::tools::{CallError, Guest, Tool};
use serde_json::{Value, json};
use wasm_mcp::plugin::{files, logging, sampling};

struct Probe;

fn tool(name: &str, description: &str, properties: Value, required: &[&str]) -> Tool {
    Tool {
        name: name.into(),
        title: None,
        description: description.into(),
        input_schema: json!({"type": "object", "properties": properties, "required": required})
            .to_string(),
    }
}

fn string_arg(args: &Value, key: &str) -> Result<String, CallError> {
    args.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CallError::InvalidArguments(format!("`{key}` must be a string")))
}

impl Guest for Probe {
    fn list_tools() -> Vec<Tool> {
        vec![
            tool(
                "probe_append",
                "Append `text` to `path` and report the host's answer.",
                json!({"path": {"type": "string"}, "text": {"type": "string"}}),
                &["path", "text"],
            ),
            tool(
                "probe_sample",
                "Sample `prompt` (with optional `system` and `max_tokens`) and return the answer.",
                json!({"prompt": {"type": "string"}, "system": {"type": "string"}, "max_tokens": {"type": "integer"}}),
                &["prompt"],
            ),
            tool(
                "probe_trap",
                "Log a line, write to stderr, then trap.",
                json!({}),
                &[],
            ),
        ]
    }

    fn call(name: String, arguments: String) -> Result<String, CallError> {
        let args: Value = serde_json::from_str(&arguments)
            .map_err(|e| CallError::InvalidArguments(e.to_string()))?;
        match name.as_str() {
            "probe_append" => {
                let path = string_arg(&args, "path")?;
                let text = string_arg(&args, "text")?;
                files::append(&path, text.as_bytes())
                    .map(|()| "appended".to_string())
                    .map_err(|e| CallError::Failed(format!("{e:?}")))
            }
            "probe_sample" => {
                let prompt = string_arg(&args, "prompt")?;
                let max_tokens = args.get("max_tokens").and_then(Value::as_u64).unwrap_or(50) as u32;
                let response = sampling::sample(&sampling::Request {
                    messages: vec![sampling::Message {
                        role: sampling::Role::User,
                        content: vec![sampling::Content::Text(prompt)],
                    }],
                    system_prompt: args.get("system").and_then(Value::as_str).map(str::to_string),
                    max_tokens,
                    temperature: None,
                    stop_sequences: vec![],
                    model_preferences: None,
                })
                .map_err(|e| CallError::Failed(format!("{e:?}")))?;
                Ok(response
                    .content
                    .iter()
                    .filter_map(|c| match c {
                        sampling::Content::Text(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect())
            }
            "probe_trap" => {
                logging::log(logging::Level::Warning, "about to trap");
                eprintln!("probe stderr before the trap");
                panic!("probe_trap was called");
            }
            other => Err(CallError::InvalidArguments(format!("unknown tool `{other}`"))),
        }
    }
}

export!(Probe);
