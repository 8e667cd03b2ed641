"""wasm-mcp's Python SDK: FastMCP-style tools, built into sandboxed WebAssembly components.

    from wasm_mcp import append, sample, tool

    @tool
    def explain(line: str) -> str:
        \"\"\"Explains a log line with the client's LLM and keeps the answer.\"\"\"
        answer = sample(f"Explain in one sentence: {line}", max_tokens=100)
        append("explained.txt", f"{line}\\n{answer}\\n")
        return answer

`@prompt` and `@resource(uri)` offer prompt templates and readable
resources the same way. Build it with `python -m wasm_mcp build app.py -o
explain.wasm` and serve it with `wasm-mcp serve`. The component can reach
nothing but what its config grants: no filesystem, network or environment.
"""

from ._content import Audio, Block, EmbeddedResource, Image, ResourceLink, Text, ToolResult
from ._host import (
    Answer,
    AppendError,
    ElicitError,
    Elicited,
    Root,
    RootsError,
    Sample,
    SampleError,
    ToolError,
    append,
    elicit,
    log,
    progress,
    roots,
    sample,
)
from ._offers import AssistantMessage, Message, ResourceNotFound, UserMessage, prompt, resource
from ._schema import Field, InvalidArguments
from ._tools import tool

__all__ = [
    "Answer",
    "AssistantMessage",
    "AppendError",
    "Audio",
    "Block",
    "ElicitError",
    "Elicited",
    "EmbeddedResource",
    "Field",
    "Image",
    "InvalidArguments",
    "Message",
    "ResourceLink",
    "ResourceNotFound",
    "Root",
    "RootsError",
    "Sample",
    "SampleError",
    "Text",
    "ToolError",
    "ToolResult",
    "UserMessage",
    "append",
    "elicit",
    "log",
    "progress",
    "prompt",
    "resource",
    "roots",
    "sample",
    "tool",
]
