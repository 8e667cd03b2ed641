"""What a tool hands back: MCP content blocks, and plain Python values turned into them.

A tool may return a `str`, a content block, a list of them, a dataclass or
TypedDict (structured output, with the output schema taken from the return
annotation), a `dict`, or a `ToolResult` that spells everything out.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Sequence

from ._schema import to_json


class Block:
    """One piece of a result. Every block takes the same optional hints:
    `audience` ("user", "assistant" or both), `priority` (0.0 to 1.0) and
    `last_modified` (ISO 8601)."""

    def __init__(self, audience: Sequence[str] = (), priority: float | None = None, last_modified: str | None = None):
        for role in audience:
            if role not in ("user", "assistant"):
                raise ValueError(f"audience {role!r} is not 'user' or 'assistant'")
        self.audience = list(audience)
        self.priority = priority
        self.last_modified = last_modified

    def _block(self):
        raise NotImplementedError

    def _to_wit(self):
        from wit_world.imports import content

        annotations = None
        if self.audience or self.priority is not None or self.last_modified is not None:
            roles = [content.Role.USER if role == "user" else content.Role.ASSISTANT for role in self.audience]
            annotations = content.Annotations(roles, self.priority, self.last_modified)
        return content.ContentBlock(self._block(), annotations)


class Text(Block):
    def __init__(self, text: str, **hints):
        super().__init__(**hints)
        self.text = text

    def _block(self):
        from wit_world.imports import content

        return content.Block_Text(self.text)


class Image(Block):
    """An image: its bytes (sent as base64) and MIME type."""

    def __init__(self, data: bytes, mime_type: str = "image/png", **hints):
        super().__init__(**hints)
        self.data = bytes(data)
        self.mime_type = mime_type

    def _block(self):
        from wit_world.imports import content

        return content.Block_Image(content.Media(self.data, self.mime_type))


class Audio(Block):
    """A sound: its bytes (sent as base64) and MIME type."""

    def __init__(self, data: bytes, mime_type: str = "audio/wav", **hints):
        super().__init__(**hints)
        self.data = bytes(data)
        self.mime_type = mime_type

    def _block(self):
        from wit_world.imports import content

        return content.Block_Audio(content.Media(self.data, self.mime_type))


class ResourceLink(Block):
    """A pointer to a resource the client may read itself."""

    def __init__(
        self,
        uri: str,
        name: str,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        **hints,
    ):
        super().__init__(**hints)
        self.uri, self.name, self.title = uri, name, title
        self.description, self.mime_type, self.size = description, mime_type, size

    def _block(self):
        from wit_world.imports import content

        link = content.ResourceLink(self.uri, self.name, self.title, self.description, self.mime_type, self.size)
        return content.Block_ResourceLink(link)


class EmbeddedResource(Block):
    """A resource's contents in the result: `text=` or `blob=` (bytes)."""

    def __init__(self, uri: str, text: str | None = None, blob: bytes | None = None, mime_type: str | None = None, **hints):
        super().__init__(**hints)
        if (text is None) == (blob is None):
            raise ValueError("EmbeddedResource takes text= or blob=, one of them")
        self.uri, self.text, self.blob, self.mime_type = uri, text, blob, mime_type

    def _block(self):
        from wit_world.imports import content

        body = content.Body_Text(self.text) if self.text is not None else content.Body_Blob(bytes(self.blob))
        return content.Block_Resource(content.ResourceContents(self.uri, self.mime_type, body))


@dataclasses.dataclass
class ToolResult:
    """A result spelled out: content blocks (or strings), structured output
    (a dataclass, TypedDict or dict), and whether it reports a failure the
    model should see and may work around."""

    content: Iterable[Block | str] = ()
    structured: Any = None
    is_error: bool = False


def _as_block(item: Block | str) -> Block:
    return Text(item) if isinstance(item, str) else item


def _is_content(value: Any) -> bool:
    return isinstance(value, (Block, str))


def to_tool_result(value: Any):
    """Whatever a tool returned, as the WIT's tool-result."""
    from wit_world.exports import tools

    if isinstance(value, ToolResult):
        blocks = [_as_block(item)._to_wit() for item in value.content]
        structured = None if value.structured is None else json.dumps(to_json(value.structured))
        return tools.ToolResult(blocks, structured, value.is_error)
    if value is None:
        return tools.ToolResult([], None, False)
    if _is_content(value):
        return tools.ToolResult([_as_block(value)._to_wit()], None, False)
    if isinstance(value, (list, tuple)) and all(_is_content(item) for item in value):
        return tools.ToolResult([_as_block(item)._to_wit() for item in value], None, False)
    data = to_json(value)
    if isinstance(data, dict):
        # Structured output; the host adds its JSON as text for clients that read only text.
        return tools.ToolResult([], json.dumps(data), False)
    return tools.ToolResult([Text(json.dumps(data))._to_wit()], None, False)
