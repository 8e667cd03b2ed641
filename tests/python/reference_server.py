"""Reference log archiver written with the Python SDK's FastMCP, behaving as
the FastMCP original that wasm-mcp's log-archiver plugin replaces. The
seed-compatibility test runs it beside wasm-mcp and compares the reports
both write, byte for byte.

Usage: python reference_server.py PORT   (serves http://127.0.0.1:PORT/mcp)
"""

import sys

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import SamplingMessage, TextContent

server = FastMCP("Log-Archiver", host="127.0.0.1", port=int(sys.argv[1]))


@server.tool()
async def process_log_entry(log_line: str, ctx: Context) -> str:
    """Analyzes a log entry using the Client's LLM and saves the report to a file."""
    request = f"You are a Site Reliability Engineer. Explain this log error in one concise sentence: {log_line}"
    answer = await ctx.session.create_message(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=request))],
        max_tokens=100,
    )
    explanation = answer.content.text if answer.content.type == "text" else str(answer.content)
    with open("incident_report.txt", "a") as report:
        report.write("--- INCIDENT REPORT ---\n")
        report.write(f"RAW: {log_line}\n")
        report.write(f"ANALYSIS: {explanation}\n")
        report.write("-" * 30 + "\n")
    return "Success: Log analyzed and appended to 'incident_report.txt'."


if __name__ == "__main__":
    server.run(transport="streamable-http")
