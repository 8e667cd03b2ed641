"""A wasm-mcp plugin in Python: proof that the WIT is the only contract.

Built with componentize-py (from PyPI) against ../../wit/plugin.wit:

    componentize-py -d ../../wit -w tool-plugin componentize app -o py_haiku.wasm

`haiku(topic)` asks the calling client's LLM for a haiku, keeps it in
`haiku.txt`, and returns it.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.tools import CallError_Failed, CallError_InvalidArguments, Tool
from wit_world.imports import files, sampling

SCHEMA = {
    "type": "object",
    "properties": {"topic": {"type": "string", "description": "What the haiku is about."}},
    "required": ["topic"],
}


class Tools(exports.Tools):
    def list_tools(self):
        return [Tool("haiku", None, "Writes a haiku with the client's LLM and keeps it.", json.dumps(SCHEMA))]

    def call(self, name, arguments):
        if name != "haiku":
            raise Err(CallError_InvalidArguments(f"unknown tool `{name}`"))
        topic = json.loads(arguments).get("topic")
        if not isinstance(topic, str):
            raise Err(CallError_InvalidArguments("`topic` must be a string"))
        request = sampling.Request(
            messages=[sampling.Message(sampling.Role.USER, [sampling.Content_Text(f"Write a haiku about {topic}.")])],
            system_prompt="You are a poet. Answer with the haiku only.",
            max_tokens=60,
            temperature=None,
            stop_sequences=[],
            model_preferences=None,
        )
        try:
            response = sampling.sample(request)
        except Err as error:
            raise Err(CallError_Failed(f"sampling failed: {error.value}"))
        poem = "".join(part.value for part in response.content if isinstance(part, sampling.Content_Text))
        try:
            files.append("haiku.txt", (poem + "\n\n").encode())
        except Err as error:
            raise Err(CallError_Failed(f"append failed: {error.value}"))
        return poem
