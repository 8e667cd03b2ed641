//! The reference plugin: `process_log_entry` asks the calling client's LLM to
//! explain a raw log line and appends an incident report to
//! `incident_report.txt`, like the FastMCP log archiver it is modelled on.

use wasm_mcp_sdk::{JsonSchema, ToolError, append, sample_text, tools};

const REPORT_FILE: &str = "incident_report.txt";

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    /// The raw log line to explain.
    log_line: String,
}

fn process_log_entry(LogEntry { log_line }: LogEntry) -> Result<String, ToolError> {
    let prompt = format!(
        "You are a Site Reliability Engineer. Explain this log error in one concise sentence: {log_line}"
    );
    let explanation = sample_text(prompt, 100)?;
    let rule = "-".repeat(30);
    let report =
        format!("--- INCIDENT REPORT ---\nRAW: {log_line}\nANALYSIS: {explanation}\n{rule}\n");
    append(REPORT_FILE, report)?;
    Ok(format!(
        "Success: Log analyzed and appended to '{REPORT_FILE}'."
    ))
}

tools! {
    process_log_entry(LogEntry) => "Analyzes a log entry using the Client's LLM and saves the report to a file.",
}
