"""A sampling client shaped like the ones users write for the FastMCP log
archiver: streamable HTTP (or stdio), a `sampling_callback`, one call to
`process_log_entry`. The LLM is scripted: it answers every request with
ANSWER, so runs are reproducible.

Usage:
  python sampling_client.py http URL LOG_LINE ANSWER
  python sampling_client.py stdio COMMAND [ARGS...] -- LOG_LINE ANSWER

Prints the sampling request it received and the tool's result as JSON lines.
"""

import asyncio
import json
import sys

from mcp import ClientSession, types
from mcp.client.session import RequestContext


def make_callback(answer: str, seen: list):
    async def sampling_handler(context: RequestContext, params: types.CreateMessageRequestParams):
        seen.append(params.model_dump(mode="json", by_alias=True, exclude_none=True))
        return types.CreateMessageResult(
            model="scripted-model",
            role="assistant",
            content=types.TextContent(type="text", text=answer),
        )

    return sampling_handler


async def call(read, write, log_line: str, answer: str):
    seen = []
    async with ClientSession(read, write, sampling_callback=make_callback(answer, seen)) as session:
        await session.initialize()
        result = await session.call_tool("process_log_entry", arguments={"log_line": log_line})
    print(json.dumps({"sampling_requests": seen}))
    print(json.dumps({"is_error": bool(result.isError), "text": result.content[0].text}))


async def main():
    mode = sys.argv[1]
    if mode == "http":
        url, log_line, answer = sys.argv[2:5]
        try:
            from mcp.client.streamable_http import streamablehttp_client as connect
        except ImportError:
            from mcp.client.streamable_http import streamable_http_client as connect
        async with connect(url) as streams:
            await call(streams[0], streams[1], log_line, answer)
    elif mode == "stdio":
        split = sys.argv.index("--")
        command, args = sys.argv[2], sys.argv[3:split]
        log_line, answer = sys.argv[split + 1 : split + 3]
        from mcp.client.stdio import StdioServerParameters, stdio_client

        async with stdio_client(StdioServerParameters(command=command, args=args)) as (read, write):
            await call(read, write, log_line, answer)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    asyncio.run(main())
