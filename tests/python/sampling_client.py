"""A sampling client shaped like the ones users write for the FastMCP log
archiver: streamable HTTP (or stdio), a `sampling_callback`, one call to
`process_log_entry`. The LLM is scripted: it answers every request with
ANSWER, so runs are reproducible.

With the Python SDK 1.x it uses `ClientSession` (session sampling), as the
seed's client does. With 2.x it uses the high-level `mcp.Client` in its
default mode, which negotiates 2026-07-28 and answers `input_required` rounds.

Usage:
  python sampling_client.py http URL LOG_LINE ANSWER
  python sampling_client.py stdio COMMAND [ARGS...] -- LOG_LINE ANSWER

An ANSWER of "-" makes a client without the sampling capability (no
callback), as many MCP hosts are.

Prints the sampling request it received and the tool's result as JSON lines.
"""

import asyncio
import json
import sys

from mcp import ClientSession, types


def make_callback(answer: str, seen: list):
    if answer == "-":
        return None

    async def sampling_handler(context, params: types.CreateMessageRequestParams):
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


async def call_with_client(server, log_line: str, answer: str):
    """Python SDK 2.x: `mcp.Client` in its default (auto) mode."""
    from mcp import Client

    seen = []
    async with Client(server, sampling_callback=make_callback(answer, seen)) as client:
        result = await client.call_tool("process_log_entry", {"log_line": log_line})
        version = client.session.protocol_version
    print(json.dumps({"sampling_requests": seen, "protocol_version": version}))
    print(json.dumps({"is_error": bool(result.is_error), "text": result.content[0].text}))


async def main():
    mode = sys.argv[1]
    try:
        from mcp import Client  # noqa: F401  (2.x)

        modern = True
    except ImportError:
        modern = False
    if modern and mode == "http":
        url, log_line, answer = sys.argv[2:5]
        return await call_with_client(url, log_line, answer)
    if modern and mode == "stdio":
        from mcp import StdioServerParameters

        split = sys.argv.index("--")
        params = StdioServerParameters(command=sys.argv[2], args=sys.argv[3:split])
        log_line, answer = sys.argv[split + 1 : split + 3]
        return await call_with_client(params, log_line, answer)
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
