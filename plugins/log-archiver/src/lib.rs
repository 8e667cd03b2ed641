//! The reference plugin: `process_log_entry` asks the calling client's LLM to
//! explain a raw log line and appends an incident report to
//! `incident_report.txt`, like the FastMCP log archiver it is modelled on.

wit_bindgen::generate!({ path: "../../wit", world: "tool-plugin" });

use exports::wasm_mcp::plugin::tools::{CallError, Guest, Tool};
use wasm_mcp::plugin::{files, sampling};

const TOOL_NAME: &str = "process_log_entry";
const REPORT_FILE: &str = "incident_report.txt";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Arguments {
    log_line: String,
}

struct LogArchiver;

impl Guest for LogArchiver {
    fn list_tools() -> Vec<Tool> {
        vec![Tool {
            name: TOOL_NAME.into(),
            title: Some("Process log entry".into()),
            description: "Analyzes a log entry using the Client's LLM and saves the report to a file."
                .into(),
            input_schema: serde_json::json!({
                "type": "object",
                "properties": { "log_line": { "type": "string", "title": "Log Line" } },
                "required": ["log_line"],
            })
            .to_string(),
        }]
    }

    fn call(name: String, arguments: String) -> Result<String, CallError> {
        if name != TOOL_NAME {
            return Err(CallError::InvalidArguments(format!("unknown tool `{name}`")));
        }
        let Arguments { log_line } = serde_json::from_str(&arguments)
            .map_err(|e| CallError::InvalidArguments(format!("expected {{\"log_line\": string}}: {e}")))?;

        let explanation = explain(&log_line)?;
        let report = format!(
            "--- INCIDENT REPORT ---\nRAW: {log_line}\nANALYSIS: {explanation}\n{}\n",
            "-".repeat(30)
        );
        files::append(REPORT_FILE, report.as_bytes())
            .map_err(|e| CallError::Failed(format!("could not append to {REPORT_FILE}: {e:?}")))?;
        Ok(format!("Success: Log analyzed and appended to '{REPORT_FILE}'."))
    }
}

/// Ask the client's LLM for a one-sentence explanation of `log_line`.
fn explain(log_line: &str) -> Result<String, CallError> {
    let prompt = format!(
        "You are a Site Reliability Engineer. Explain this log error in one concise sentence: {log_line}"
    );
    let response = sampling::sample(&sampling::Request {
        messages: vec![sampling::Message {
            role: sampling::Role::User,
            content: vec![sampling::Content::Text(prompt)],
        }],
        system_prompt: None,
        max_tokens: 100,
        temperature: None,
        stop_sequences: vec![],
        model_preferences: None,
    })
    .map_err(|e| CallError::Failed(format!("sampling failed: {e:?}")))?;

    // Text answers are used as they are; any other content is described, as
    // the original does with `str(result.content)`.
    Ok(response
        .content
        .iter()
        .map(|part| match part {
            sampling::Content::Text(text) => text.clone(),
            sampling::Content::Image(media) | sampling::Content::Audio(media) => {
                format!("[{} content, {} bytes]", media.mime_type, media.data.len())
            }
        })
        .collect::<Vec<_>>()
        .join(""))
}

export!(LogArchiver);
