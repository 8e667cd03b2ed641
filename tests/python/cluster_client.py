"""Many sampled tool calls through a load balancer, as a user of the Python
SDK 2.x writes them: one `mcp.Client` in its default mode (2026-07-28, so
each sampling request is an `input_required` round and its retry may land
on any replica), calls made concurrently.

The LLM is scripted: it answers "Explain: X" with "explained-X" and any
other request with "rated".

Usage: python cluster_client.py URL CALLS CONCURRENCY

Prints one JSON line per finished call, as it finishes:
{"line": ..., "ok": bool, "text": ...}, then {"protocol_version": ...}.
"""

import asyncio
import json
import sys

from mcp import Client, types


async def answer(context, params: types.CreateMessageRequestParams):
    asked = params.messages[0].content.text
    text = "explained-" + asked[len("Explain: ") :] if asked.startswith("Explain: ") else "rated"
    return types.CreateMessageResult(
        model="scripted-model",
        role="assistant",
        content=types.TextContent(type="text", text=text),
    )


async def main():
    url, calls, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    gate = asyncio.Semaphore(concurrency)
    async with Client(url, sampling_callback=answer) as client:

        async def one(n: int):
            line = f"line-{n:03}"
            async with gate:
                try:
                    result = await client.call_tool("report", {"line": line})
                    ok, text = not result.is_error, result.content[0].text
                except Exception as error:  # reported, not raised: the test counts
                    ok, text = False, f"{type(error).__name__}: {error}"
            print(json.dumps({"line": line, "ok": ok, "text": text}), flush=True)

        await asyncio.gather(*(one(n) for n in range(calls)))
        print(json.dumps({"protocol_version": client.session.protocol_version}), flush=True)


asyncio.run(main())
