"""Type hints to JSON Schema, and JSON values checked and converted back.

A tool's parameters are its schema: what `tools/list` shows a client is
derived from the same hints that turn the client's JSON into Python values,
so the two cannot drift apart. Pure Python, so it runs (and is tested) on
CPython as well as inside the component.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
import typing
from typing import Any


class InvalidArguments(Exception):
    """The client's arguments do not fit the tool: say what is wrong.

    Reaches the client as the WIT's `invalid-arguments` error.
    """


@dataclasses.dataclass(frozen=True)
class Field:
    """Schema details for a parameter or field, used in `Annotated`:

    `limit: Annotated[int, Field(description="At most this many", minimum=1)] = 10`
    """

    description: str | None = None
    title: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    format: str | None = None

    def schema(self) -> dict:
        keys = {
            "description": self.description,
            "title": self.title,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "pattern": self.pattern,
            "format": self.format,
        }
        return {key: value for key, value in keys.items() if value is not None}


_UNION_TYPES = (typing.Union, types.UnionType)
_SUPPORTED = "str, int, float, bool, None, list[...], dict[str, ...], Optional, Literal, an Enum, a dataclass or a TypedDict"


def _is_typeddict(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__total__")


def _record_fields(hint: type) -> list[tuple[str, Any, bool, Any]]:
    """(name, type, required, default) for each field of a dataclass or TypedDict."""
    hints = typing.get_type_hints(hint, include_extras=True)
    if dataclasses.is_dataclass(hint):
        fields = []
        for field in dataclasses.fields(hint):
            if field.default is not dataclasses.MISSING:
                fields.append((field.name, hints[field.name], False, field.default))
            elif field.default_factory is not dataclasses.MISSING:
                fields.append((field.name, hints[field.name], False, field.default_factory()))
            else:
                fields.append((field.name, hints[field.name], True, dataclasses.MISSING))
        return fields
    required = getattr(hint, "__required_keys__", set(hints))
    return [(name, kind, name in required, dataclasses.MISSING) for name, kind in hints.items()]


def _own_doc(hint: type) -> str | None:
    """A class's docstring, not the signature dataclasses write when there is none."""
    doc = hint.__doc__
    if not doc or (dataclasses.is_dataclass(hint) and doc.startswith(hint.__name__ + "(")):
        return None
    return inspect.cleandoc(doc)


def _field_descriptions(hint: type) -> dict[str, str]:
    if not dataclasses.is_dataclass(hint):
        return {}
    return {
        field.name: field.metadata["description"]
        for field in dataclasses.fields(hint)
        if "description" in field.metadata
    }


def object_schema(fields: list[tuple[str, Any, bool, Any]], descriptions: dict[str, str]) -> dict:
    """The schema of a JSON object with these fields."""
    properties = {}
    required = []
    for name, hint, is_required, default in fields:
        schema = schema_of(hint)
        if name in descriptions and "description" not in schema:
            schema["description"] = descriptions[name]
        if not is_required and default is not dataclasses.MISSING and default is not None:
            schema["default"] = _to_json(default)
        properties[name] = schema
        if is_required:
            required.append(name)
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def schema_of(hint: Any) -> dict:
    """The JSON Schema of values of type `hint`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        schema = schema_of(args[0])
        for extra in args[1:]:
            if isinstance(extra, str):
                schema["description"] = extra
            elif isinstance(extra, Field):
                schema.update(extra.schema())
        return schema
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if hint is None or hint is type(None):
        return {"type": "null"}
    if hint is Any or hint is object:
        return {}
    if origin in _UNION_TYPES:
        members = [member for member in args if member is not type(None)]
        if len(members) == 1:
            return {"anyOf": [schema_of(members[0]), {"type": "null"}]}
        options = [schema_of(member) for member in members]
        if len(members) < len(args):
            options.append({"type": "null"})
        return {"anyOf": options}
    if origin is typing.Literal:
        return _enum_schema(list(args))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_schema([member.value for member in hint])
    if hint in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset):
        schema: dict = {"type": "array"}
        if args and not (origin is tuple and len(args) != 2 and args[-1] is not Ellipsis):
            schema["items"] = schema_of(args[0])
        return schema
    if hint is dict or origin is dict:
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = schema_of(args[1])
        return schema
    if dataclasses.is_dataclass(hint) or _is_typeddict(hint):
        schema = object_schema(_record_fields(hint), _field_descriptions(hint))
        doc = _own_doc(hint)
        if doc:
            schema["description"] = doc
        return schema
    raise TypeError(f"cannot describe {hint!r} in JSON Schema: use {_SUPPORTED}")


def _enum_schema(values: list) -> dict:
    schema: dict = {"enum": values}
    kinds = {type(value) for value in values}
    if kinds == {str}:
        schema["type"] = "string"
    elif kinds <= {int} and kinds:
        schema["type"] = "integer"
    return schema


def _describe(value: Any) -> str:
    kind = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kind})" if value is not None else "null"


def _where(path: str) -> str:
    return f"`{path}`" if path else "the value"


def convert(value: Any, hint: Any, path: str) -> Any:
    """`value` (parsed JSON) as a `hint`, or InvalidArguments saying what is wrong at `path`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return convert(value, args[0], path)
    if hint is Any or hint is object:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise InvalidArguments(f"{_where(path)} must be true or false, not {_describe(value)}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise InvalidArguments(f"{_where(path)} must be a whole number, not {_describe(value)}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise InvalidArguments(f"{_where(path)} must be a number, not {_describe(value)}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise InvalidArguments(f"{_where(path)} must be a string, not {_describe(value)}")
    if hint is None or hint is type(None):
        if value is None:
            return None
        raise InvalidArguments(f"{_where(path)} must be null, not {_describe(value)}")
    if origin in _UNION_TYPES:
        if value is None and type(None) in args:
            return None
        reasons = []
        for member in args:
            if member is type(None):
                continue
            try:
                return convert(value, member, path)
            except InvalidArguments as error:
                reasons.append(str(error))
        raise InvalidArguments(" or ".join(dict.fromkeys(reasons)) if reasons else f"{_where(path)} must be null")
    if origin is typing.Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        raise InvalidArguments(f"{_where(path)} must be one of {', '.join(map(repr, args))}, not {_describe(value)}")
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        for member in hint:
            if member.value == value and type(member.value) is type(value):
                return member
        choices = ", ".join(repr(member.value) for member in hint)
        raise InvalidArguments(f"{_where(path)} must be one of {choices}, not {_describe(value)}")
    if hint in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            raise InvalidArguments(f"{_where(path)} must be an array, not {_describe(value)}")
        item = args[0] if args else Any
        items = [convert(element, item, f"{path}[{index}]") for index, element in enumerate(value)]
        container = origin or hint
        return items if container is list else container(items)
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise InvalidArguments(f"{_where(path)} must be an object, not {_describe(value)}")
        item = args[1] if len(args) == 2 else Any
        return {key: convert(element, item, f"{path}.{key}" if path else key) for key, element in value.items()}
    if dataclasses.is_dataclass(hint) or _is_typeddict(hint):
        if not isinstance(value, dict):
            raise InvalidArguments(f"{_where(path)} must be an object, not {_describe(value)}")
        fields = convert_fields(value, _record_fields(hint), path)
        return hint(**fields)
    raise TypeError(f"cannot convert to {hint!r}: use {_SUPPORTED}")


def convert_fields(value: dict, fields: list[tuple[str, Any, bool, Any]], path: str) -> dict:
    """The named fields of the object `value`, converted; unknown and missing ones are errors."""
    known = {name for name, _, _, _ in fields}
    unknown = [name for name in value if name not in known]
    prefix = f"{path}." if path else ""
    if unknown:
        expected = ", ".join(f"`{name}`" for name in known) or "nothing"
        raise InvalidArguments(
            f"unknown argument{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(f'`{prefix}{name}`' for name in unknown)}: expected {expected}"
        )
    converted = {}
    for name, hint, required, _ in fields:
        if name in value:
            converted[name] = convert(value[name], hint, prefix + name)
        elif required:
            raise InvalidArguments(f"`{prefix}{name}` is required")
    return converted


def _to_json(value: Any) -> Any:
    """A Python value (dataclasses, enums, tuples included) as plain JSON data."""
    if isinstance(value, enum.Enum):
        return _to_json(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _to_json(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): _to_json(element) for key, element in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_to_json(element) for element in value]
    return value


to_json = _to_json


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Returns|Return|Raises|Yields|Examples?|Notes?):\s*$")


def split_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """A docstring's description, and its `Args:` section as {parameter: description}.

    Google style: `name: text` or `name (type): text`, continued on more
    deeply indented lines.
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    params: dict[str, str] = {}
    section = None
    current = None
    for line in lines:
        heading = _SECTION.match(line.strip()) if not line.startswith((" ", "\t")) else None
        if heading:
            section = heading.group(1)
            current = None
            continue
        if section is None:
            description.append(line)
        elif section in ("Args", "Arguments", "Parameters", "Params"):
            entry = re.match(r"^\s+(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", line)
            if entry and (current is None or _indent(line) <= current[1]):
                current = (entry.group(1).lstrip("*"), _indent(line))
                params[current[0]] = entry.group(3).strip()
            elif current and line.strip():
                params[current[0]] = (params[current[0]] + " " + line.strip()).strip()
    return "\n".join(description).strip(), params


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())

