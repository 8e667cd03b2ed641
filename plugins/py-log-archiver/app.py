"""The seed's FastMCP log archiver, ported to wasm-mcp's Python SDK."""

from wasm_mcp import append, sample, tool


@tool
async def process_log_entry(log_line: str) -> str:
    """
    Analyzes a log entry using the Client's LLM and saves the report to a file.
    """
    prompt = f"You are a Site Reliability Engineer. Explain this log error in one concise sentence: {log_line}"
    llm_explanation = sample(prompt, max_tokens=100)

    report_file = "incident_report.txt"
    append(report_file, f"--- INCIDENT REPORT ---\nRAW: {log_line}\nANALYSIS: {llm_explanation}\n" + "-" * 30 + "\n")
    return f"Success: Log analyzed and appended to '{report_file}'."
