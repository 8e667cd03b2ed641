//! Test plugin: one call, two sampling rounds. It summarises a text, asks the
//! model to grade its own summary, appends one record with both, and returns
//! them. Under 2026-07-28 this is two `input_required` rounds of one parked
//! execution; the append must happen exactly once.

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "tool-plugin" });

use exports::wasm_mcp::plugin::tools::{CallError, Guest, Tool};
use wasm_mcp::plugin::{files, sampling};

struct TwoStep;

fn ask(system: &str, prompt: String) -> Result<String, CallError> {
    let response = sampling::sample(&sampling::Request {
        messages: vec![sampling::Message {
            role: sampling::Role::User,
            content: vec![sampling::Content::Text(prompt)],
        }],
        system_prompt: Some(system.into()),
        max_tokens: 200,
        temperature: None,
        stop_sequences: vec![],
        model_preferences: None,
    })
    .map_err(|e| CallError::Failed(format!("sampling failed: {e:?}")))?;
    Ok(response
        .content
        .into_iter()
        .filter_map(|c| match c {
            sampling::Content::Text(t) => Some(t),
            _ => None,
        })
        .collect())
}

impl Guest for TwoStep {
    fn list_tools() -> Vec<Tool> {
        vec![Tool {
            name: "summarize_and_grade".into(),
            title: None,
            description: "Summarise a text, then grade the summary.".into(),
            input_schema: r#"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#.into(),
        }]
    }

    fn call(_name: String, arguments: String) -> Result<String, CallError> {
        let args: serde_json::Value =
            serde_json::from_str(&arguments).map_err(|e| CallError::InvalidArguments(e.to_string()))?;
        let text = args["text"]
            .as_str()
            .ok_or_else(|| CallError::InvalidArguments("`text` must be a string".into()))?;
        let summary = ask("You summarise texts in one sentence.", format!("Summarize: {text}"))?;
        let grade = ask("You grade summaries.", format!("Grade this summary from 1 to 10: {summary}"))?;
        let record = format!("summary: {summary}\ngrade: {grade}\n");
        files::append("two-step.txt", record.as_bytes())
            .map_err(|e| CallError::Failed(format!("append failed: {e:?}")))?;
        Ok(format!("summary: {summary}; grade: {grade}"))
    }
}

export!(TwoStep);
