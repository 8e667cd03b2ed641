"""`@tool`: a typed Python function becomes an MCP tool.

The decorator runs when the component is built (componentize-py imports the
app then), so schemas are derived once, and a hint the SDK cannot describe
fails the build, not a call.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from typing import Any, Callable

from ._schema import InvalidArguments, _is_typeddict, convert_fields, object_schema, schema_of, split_docstring

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclasses.dataclass
class RegisteredTool:
    name: str
    title: str | None
    description: str
    function: Callable
    fields: list
    input_schema: dict
    output_schema: dict | None
    annotations: dict


TOOLS: dict[str, RegisteredTool] = {}


def _output_schema(hint: Any) -> dict | None:
    """The output schema a return annotation promises: only records (dataclass, TypedDict)."""
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    if dataclasses.is_dataclass(base) or _is_typeddict(base):
        return schema_of(hint)
    return None


def check_name(name: str, kind: str) -> str:
    """`name` if MCP allows it for a tool or prompt, else a ValueError saying what does."""
    if not name or len(name) > 128 or not set(name) <= _NAME_CHARS:
        raise ValueError(f"{kind} name {name!r} is not valid: use 1 to 128 letters, digits, `_`, `-` or `.`")
    return name


def _register(function: Callable, name: str | None, title: str | None, description: str | None, annotations: dict) -> Callable:
    name = check_name(name or function.__name__, "tool")
    if name in TOOLS:
        raise ValueError(f"two tools are named {name!r}: give one of them name=...")
    doc, param_docs = split_docstring(function.__doc__)
    hints = typing.get_type_hints(function, include_extras=True)
    fields = []
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {name!r}: *{param.name} and **{param.name} cannot be described; name each argument")
        if param.name not in hints:
            raise TypeError(f"tool {name!r}: argument `{param.name}` needs a type hint (it makes the schema)")
        required = param.default is inspect.Parameter.empty
        fields.append((param.name, hints[param.name], required, dataclasses.MISSING if required else param.default))
    input_schema = object_schema(fields, param_docs)
    input_schema["additionalProperties"] = False
    description = description if description is not None else doc
    if not description:
        raise ValueError(f"tool {name!r} needs a description: give it a docstring or description=...")
    TOOLS[name] = RegisteredTool(
        name=name,
        title=title,
        description=description,
        function=function,
        fields=fields,
        input_schema=input_schema,
        output_schema=_output_schema(hints.get("return")),
        annotations=annotations,
    )
    return function


def tool(
    function: Callable | None = None,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    read_only: bool | None = None,
    destructive: bool | None = None,
    idempotent: bool | None = None,
    open_world: bool | None = None,
):
    """Make a function a tool. Its name is the tool's name, its docstring the
    description (an `Args:` section describes each argument), and its type
    hints the input schema; a dataclass or TypedDict return type becomes the
    output schema. Use as `@tool` or `@tool(...)`:

        @tool(read_only=True)
        def shout(text: str) -> str:
            \"\"\"Shouts the text back.\"\"\"
            return text.upper()

    The hints (`read_only`, `destructive`, `idempotent`, `open_world`) tell
    clients what the tool does; unset means MCP's default.
    """
    annotations = {"read_only": read_only, "destructive": destructive, "idempotent": idempotent, "open_world": open_world}

    def decorate(inner: Callable) -> Callable:
        return _register(inner, name, title, description, annotations)

    return decorate(function) if function is not None else decorate


def run_to_end(result: Any) -> Any:
    """An `async def` function's coroutine, run to its end: the SDK's calls
    block, so a ported FastMCP tool, prompt or resource needs no event loop."""
    if not inspect.iscoroutine(result):
        return result
    try:
        result.send(None)
    except StopIteration as finished:
        return finished.value
    result.close()
    raise RuntimeError("an async function awaited something that suspends; the SDK's calls block, so call them without await")


def invoke(registered: RegisteredTool, arguments: str) -> Any:
    """Parse and check the client's arguments, then run the tool."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as error:
        raise InvalidArguments(f"the arguments are not JSON: {error}") from None
    if not isinstance(value, dict):
        raise InvalidArguments("the arguments must be a JSON object")
    converted = convert_fields(value, registered.fields, "")
    return run_to_end(registered.function(**converted))
