"""`@prompt` and `@resource`: what a plugin offers besides tools, FastMCP-style.

Prompt arguments and template variables reach a plugin as strings (MCP
says so); the SDK converts each to the parameter's type hint, and offers
the values of a `Literal` or `Enum` hint as completions. Like `@tool`, the
decorators run when the component is built, so a hint that cannot come
from a string fails the build.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import typing
import urllib.parse
from typing import Any, Callable, Sequence

from ._content import Block, Text
from ._schema import InvalidArguments, convert, schema_of, split_docstring, to_json
from ._tools import check_name, run_to_end


class ResourceNotFound(Exception):
    """Raise it from a `@resource` function: the client gets MCP's "resource not found"."""


@dataclasses.dataclass
class Message:
    """One message of a filled-in prompt: a role ("user" or "assistant") and
    its content (a string or a content block)."""

    content: Block | str
    role: str = "user"

    def __post_init__(self):
        if self.role not in ("user", "assistant"):
            raise ValueError(f"role {self.role!r} is not 'user' or 'assistant'")


def UserMessage(content: Block | str) -> Message:  # noqa: N802 (FastMCP's name)
    return Message(content, "user")


def AssistantMessage(content: Block | str) -> Message:  # noqa: N802 (FastMCP's name)
    return Message(content, "assistant")


@dataclasses.dataclass
class Argument:
    """A string-borne parameter: a prompt's argument or a template's variable."""

    name: str
    hint: Any
    required: bool
    description: str | None
    choices: list[str]


_SCALARS = ("string", "integer", "number", "boolean")


def _arguments(function: Callable, what: str) -> list[Argument]:
    """The function's parameters, each one a string can carry."""
    _, docs = split_docstring(function.__doc__)
    hints = typing.get_type_hints(function, include_extras=True)
    arguments = []
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{what}: *{param.name} and **{param.name} cannot be described; name each argument")
        hint = hints.get(param.name, str)
        schema = schema_of(hint)
        options = schema.get("anyOf", [schema])
        if not all(option.get("type") in _SCALARS + ("null",) or "enum" in option for option in options):
            raise TypeError(
                f"{what}: argument `{param.name}` arrives as a string, so its hint must be str, int, float, "
                f"bool, a Literal or an Enum, not {hint!r}"
            )
        choices = [value for option in options for value in option.get("enum", [])]
        if any(option.get("type") == "boolean" for option in options):
            choices += [True, False]
        arguments.append(
            Argument(
                name=param.name,
                hint=hint,
                required=param.default is inspect.Parameter.empty,
                description=schema.get("description") or docs.get(param.name),
                choices=[json.dumps(c) if not isinstance(c, str) else c for c in choices],
            )
        )
    return arguments


def _from_string(text: str, argument: Argument) -> Any:
    """`text` as the argument's type: as it is when the hint takes a string, else parsed as JSON."""
    try:
        return convert(text, argument.hint, argument.name)
    except InvalidArguments as as_text:
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise as_text from None
        try:
            return convert(parsed, argument.hint, argument.name)
        except InvalidArguments:
            raise as_text from None


def _bind(arguments: list[Argument], given: dict[str, str], what: str) -> dict[str, Any]:
    known = {argument.name for argument in arguments}
    unknown = sorted(set(given) - known)
    if unknown:
        expected = ", ".join(f"`{argument.name}`" for argument in arguments) or "none"
        raise InvalidArguments(f"{what} has no argument {', '.join(f'`{n}`' for n in unknown)}: it takes {expected}")
    bound = {}
    for argument in arguments:
        if argument.name in given:
            bound[argument.name] = _from_string(given[argument.name], argument)
        elif argument.required:
            raise InvalidArguments(f"{what} needs the argument `{argument.name}`")
    return bound


def complete(arguments: list[Argument], name: str, typed: str) -> list[str]:
    """The choices for argument `name` that start with what the user typed."""
    for argument in arguments:
        if argument.name == name:
            return [choice for choice in argument.choices if choice.startswith(typed)]
    return []


# Prompts.


@dataclasses.dataclass
class RegisteredPrompt:
    name: str
    title: str | None
    description: str
    function: Callable
    arguments: list[Argument]


PROMPTS: dict[str, RegisteredPrompt] = {}


def prompt(function: Callable | None = None, *, name: str | None = None, title: str | None = None, description: str | None = None):
    """Make a function a prompt template. Its parameters are the prompt's
    arguments (strings on the wire, converted to the hints), its docstring
    the description. It returns a string (one user message), a `Message`,
    or a list of them and strings. It may `sample`, `elicit` or ask for
    `roots` first. Use as `@prompt` or `@prompt(...)`:

        @prompt
        def review(code: str, focus: Literal["bugs", "style"] = "bugs") -> str:
            \"\"\"Asks for a code review.\"\"\"
            return f"Review this code for {focus}:\\n{code}"
    """

    def decorate(inner: Callable) -> Callable:
        prompt_name = check_name(name or inner.__name__, "prompt")
        if prompt_name in PROMPTS:
            raise ValueError(f"two prompts are named {prompt_name!r}: give one of them name=...")
        doc, _ = split_docstring(inner.__doc__)
        PROMPTS[prompt_name] = RegisteredPrompt(
            name=prompt_name,
            title=title,
            description=description if description is not None else doc,
            function=inner,
            arguments=_arguments(inner, f"prompt {prompt_name!r}"),
        )
        return inner

    return decorate(function) if function is not None else decorate


def fill(registered: RegisteredPrompt, given: Sequence[tuple[str, str]]) -> list[Message]:
    """Run the prompt with the client's arguments; its messages."""
    bound = _bind(registered.arguments, dict(given), f"prompt `{registered.name}`")
    value = run_to_end(registered.function(**bound))
    items = value if isinstance(value, (list, tuple)) else [value]
    messages = []
    for item in items:
        if isinstance(item, Message):
            messages.append(item)
        elif isinstance(item, (str, Block)):
            messages.append(Message(item))
        else:
            raise TypeError(f"prompt `{registered.name}` returned {type(item).__name__}: return strings or Messages")
    return messages


def message_content(message: Message):
    return (Text(message.content) if isinstance(message.content, str) else message.content)._to_wit()


# Resources.

_VARIABLE = re.compile(r"\{(\+?)([A-Za-z0-9_.]+)\}")

# The longest URI a template matches, in UTF-8 bytes (the host's limit too).
_MAX_URI_BYTES = 8192

# What a `{name}` value cannot hold (a `{+name}` value may hold anything).
_SEGMENT_STOPS = frozenset("/?#")

# A `%` not followed by two hex digits.
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclasses.dataclass(frozen=True)
class UriTemplate:
    """A URI template split at its variables: `literals[i]` comes before
    variable `i`, and the last literal after them all."""

    literals: tuple[str, ...]
    names: tuple[str, ...]
    reserved: tuple[bool, ...]


@dataclasses.dataclass
class RegisteredResource:
    uri: str
    name: str
    title: str | None
    description: str | None
    mime_type: str | None
    function: Callable
    arguments: list[Argument]
    pattern: UriTemplate | None

    @property
    def is_template(self) -> bool:
        return self.pattern is not None


RESOURCES: dict[str, RegisteredResource] = {}


def parse_template(uri: str) -> UriTemplate | None:
    """The template in `uri` (`{name}` is one segment, `{+name}` the rest), or
    None for a plain URI. Like the host, it refuses other `{...}` forms and
    two variables in a row (nothing could tell their values apart)."""
    variables = list(_VARIABLE.finditer(uri))
    if not variables:
        return None
    literals, end = [], 0
    for variable in variables:
        literals.append(uri[end : variable.start()])
        end = variable.end()
    literals.append(uri[end:])
    if any("{" in literal or "}" in literal for literal in literals):
        raise ValueError(f"resource template {uri!r}: only `{{name}}` and `{{+name}}` are supported")
    if not all(literals[1:-1]):
        raise ValueError(
            f"resource template {uri!r}: two variables in a row cannot be told apart; put text between them"
        )
    return UriTemplate(
        literals=tuple(literals),
        names=tuple(variable.group(2) for variable in variables),
        reserved=tuple(bool(variable.group(1)) for variable in variables),
    )


def match_template(template: UriTemplate, uri: str) -> dict[str, str] | None:
    """The variables' percent-decoded values if `uri` is an instance of
    `template`, else None. Each value is at least one character; when `uri`
    splits more than one way, earlier variables take as much as they can.
    A malformed %-escape is no match. Time is linear in `uri`'s length (per
    literal character), and URIs over 8 KiB match nothing, so no URI can
    stall the plugin. The host and the other SDKs agree, case by case, on
    `tests/cases/uri_templates.json`."""
    if len(uri) > _MAX_URI_BYTES or len(uri.encode("utf-8", "surrogatepass")) > _MAX_URI_BYTES:
        return None
    ends = _variable_ends(template, uri)
    if ends is None:
        return None
    values, start = [], len(template.literals[0])
    for name, end, literal in zip(template.names, ends, template.literals[1:]):
        value = _decode(uri[start:end])
        if value is None:
            return None
        values.append((name, value))
        start = end + len(literal)
    return dict(values)


def _variable_ends(template: UriTemplate, uri: str) -> list[int] | None:
    """Where each variable's value ends, earlier ones taking as much as they
    can, or None when `uri` is no instance. No backtracking: a pass from the
    right notes, for each variable and position, the last end from which the
    rest still matches; a pass from the left then picks each end."""
    size, literals, reserved = len(uri), template.literals, template.reserved
    if not uri.startswith(literals[0]):
        return None
    # stops[i]: the first `/`, `?` or `#` at or after i (or the end).
    stops = [size] * (size + 1)
    for index in range(size - 1, -1, -1):
        stops[index] = index if uri[index] in _SEGMENT_STOPS else stops[index + 1]

    def choose(latest: list[int], variable: int, start: int) -> int | None:
        end = latest[size if reserved[variable] else stops[start]]
        return end if end > start else None

    count = len(reserved)
    latest: list[list[int]] = [[] for _ in range(count)]
    for variable in range(count - 1, -1, -1):
        literal, row, best = literals[variable + 1], [], -1
        for end in range(size + 1):
            if not uri.startswith(literal, end):
                fits = False
            elif variable == count - 1:
                fits = end + len(literal) == size
            else:
                fits = choose(latest[variable + 1], variable + 1, end + len(literal)) is not None
            if fits:
                best = end
            row.append(best)
        latest[variable] = row
    ends, start = [], len(literals[0])
    for variable in range(count):
        end = choose(latest[variable], variable, start)
        if end is None:
            return None
        ends.append(end)
        start = end + len(literals[variable + 1])
    return ends


def _decode(value: str) -> str | None:
    """`value` with its %-escapes decoded as UTF-8, or None when one is malformed."""
    if _BAD_ESCAPE.search(value):
        return None
    try:
        return urllib.parse.unquote_to_bytes(value).decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None


def resource(
    uri: str,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
):
    """Make a function a resource the client may read at `uri`. With
    `{variables}` in it (`{name}` is one path segment, `{+name}` the rest),
    it is a template: each variable is a parameter of the function, decoded
    from the URI and converted to its hint. The function returns a string
    (text), bytes (a blob), or other data (sent as JSON); it raises
    `ResourceNotFound` when there is nothing at that URI.

        @resource("notes://{day}", mime_type="text/plain")
        def notes(day: str) -> str:
            \"\"\"The notes of one day.\"\"\"
            ...
    """

    def decorate(inner: Callable) -> Callable:
        if "://" not in uri and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri):
            raise ValueError(f"resource URI {uri!r} needs a scheme, such as `notes://` or `file:///`")
        if uri in RESOURCES:
            raise ValueError(f"two resources have the URI {uri!r}")
        resource_name = name or inner.__name__
        what = f"resource {uri!r}"
        pattern = parse_template(uri)
        arguments = _arguments(inner, what)
        variables = [match.group(2) for match in _VARIABLE.finditer(uri)]
        parameters = [argument.name for argument in arguments]
        if sorted(variables) != sorted(parameters):
            raise TypeError(
                f"{what}: the function's parameters ({', '.join(parameters) or 'none'}) must be the URI's "
                f"variables ({', '.join(variables) or 'none'})"
            )
        doc, _ = split_docstring(inner.__doc__)
        RESOURCES[uri] = RegisteredResource(
            uri=uri,
            name=resource_name,
            title=title,
            description=description if description is not None else (doc or None),
            mime_type=mime_type,
            function=inner,
            arguments=arguments,
            pattern=pattern,
        )
        return inner

    return decorate


def find(uri: str) -> tuple[RegisteredResource, dict[str, str]] | None:
    """The resource at `uri`, and the template variables' values in it."""
    fixed = RESOURCES.get(uri)
    if fixed is not None and not fixed.is_template:
        return fixed, {}
    for registered in RESOURCES.values():
        variables = match_template(registered.pattern, uri) if registered.pattern else None
        if variables is not None:
            return registered, variables
    return None


def read(registered: RegisteredResource, variables: dict[str, str], uri: str) -> tuple[str | None, str | bytes]:
    """Run the resource's function; its MIME type and body."""
    bound = _bind(registered.arguments, variables, f"resource `{uri}`")
    value = run_to_end(registered.function(**bound))
    if isinstance(value, (bytes, bytearray)):
        return registered.mime_type or "application/octet-stream", bytes(value)
    if isinstance(value, str):
        return registered.mime_type or "text/plain", value
    return registered.mime_type or "application/json", json.dumps(to_json(value))
