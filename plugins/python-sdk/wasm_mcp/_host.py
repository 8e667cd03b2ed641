"""What a tool may ask of the host: the WIT imports, as plain Python calls.

Each failure is an exception that says what went wrong; left uncaught it
fails the call with that message, like a `?` in the Rust SDK.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ._schema import InvalidArguments, convert, schema_of


class ToolError(Exception):
    """The tool ran and failed: the message says why (the WIT's `failed`)."""


class SampleError(ToolError):
    """Sampling gave no answer. `kind` is "unsupported", "declined",
    "refused", "timed-out" or "failed"; `reason` is the host's message."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason
        what = {
            "unsupported": "the client cannot sample",
            "declined": "declined",
            "refused": "refused by the host's policy",
            "timed-out": "timed out",
        }.get(kind)
        super().__init__(f"sampling failed: {what}: {reason}" if what else f"sampling failed: {reason}")


class AppendError(ToolError):
    """An append failed. `kind` is "denied", "quota-exceeded" or "io"."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason
        what = {"denied": "append denied", "quota-exceeded": "append over quota"}.get(kind, "append failed")
        super().__init__(f"{what}: {reason}")


class ElicitError(ToolError):
    """No answer from the user. `kind` is "unsupported", "refused", "timed-out" or "failed"."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason
        super().__init__(f"elicitation failed ({kind}): {reason}")


class RootsError(ToolError):
    """No roots came back. `kind` is "unsupported", "refused", "timed-out" or "failed"."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason
        super().__init__(f"listing roots failed ({kind}): {reason}")


def _kind(variant: Any) -> str:
    """`Error_TimedOut` -> "timed-out": the WIT case a binding class stands for."""
    name = type(variant).__name__.split("_", 1)[1]
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


# -- sampling ---------------------------------------------------------------


class Answer:
    """The model's answer: `text` (its text parts, joined), `model`, `stop_reason`."""

    def __init__(self, response):
        from wit_world.imports import sampling

        self.model: str = response.model
        self.text: str = "".join(part.value for part in response.content if isinstance(part, sampling.Content_Text))
        self.stop_reason: str | None = None if response.stop_reason is None else _stop_reason(response.stop_reason)
        self.raw = response

    def __str__(self) -> str:
        return self.text


def _stop_reason(reason) -> str:
    from wit_world.imports import sampling

    return reason.value if isinstance(reason, sampling.StopReason_Other) else _kind(reason)


class Sample:
    """A completion request, built up step by step:

    `Sample("Explain this").system("Be brief.").max_tokens(200).send().text`
    """

    def __init__(self, prompt: str):
        self._messages: list[tuple[str, list]] = [("user", [("text", prompt)])]
        self._system: str | None = None
        self._max_tokens = 1000
        self._temperature: float | None = None
        self._stop: list[str] = []
        self._hints: list[str] = []

    def system(self, prompt: str) -> "Sample":
        self._system = prompt
        return self

    def max_tokens(self, count: int) -> "Sample":
        self._max_tokens = count
        return self

    def temperature(self, value: float) -> "Sample":
        self._temperature = value
        return self

    def stop_at(self, sequence: str) -> "Sample":
        self._stop.append(sequence)
        return self

    def message(self, role: str, text: str) -> "Sample":
        """Add a turn: an earlier answer ("assistant") or a follow-up ("user")."""
        if role not in ("user", "assistant"):
            raise ValueError(f"role {role!r} is not 'user' or 'assistant'")
        self._messages.append((role, [("text", text)]))
        return self

    def image(self, data: bytes, mime_type: str = "image/png") -> "Sample":
        """Attach an image to the last message."""
        self._messages[-1][1].append(("image", (bytes(data), mime_type)))
        return self

    def model_hint(self, name: str) -> "Sample":
        """Prefer models matching `name` (a family like "sonnet", or a full id)."""
        self._hints.append(name)
        return self

    def _request(self):
        from wit_world.imports import content, sampling

        def part(kind, value):
            if kind == "text":
                return sampling.Content_Text(value)
            return sampling.Content_Image(content.Media(*value))

        messages = [
            sampling.Message(content.Role.USER if role == "user" else content.Role.ASSISTANT, [part(*p) for p in parts])
            for role, parts in self._messages
        ]
        preferences = sampling.ModelPreferences(self._hints, None, None, None) if self._hints else None
        return sampling.Request(messages, self._system, self._max_tokens, self._temperature, self._stop, preferences)

    def send(self) -> Answer:
        from componentize_py_types import Err
        from wit_world.imports import sampling

        try:
            return Answer(sampling.sample(self._request()))
        except Err as error:
            raise SampleError(_kind(error.value), error.value.value) from None


def sample(
    prompt: str,
    *,
    max_tokens: int = 1000,
    system: str | None = None,
    temperature: float | None = None,
    stop: Sequence[str] = (),
    model_hints: Sequence[str] = (),
) -> str:
    """Ask the calling client's LLM; returns the answer's text."""
    request = Sample(prompt).max_tokens(max_tokens)
    if system is not None:
        request.system(system)
    if temperature is not None:
        request.temperature(temperature)
    for sequence in stop:
        request.stop_at(sequence)
    for hint in model_hints:
        request.model_hint(hint)
    return request.send().text


# -- files, logging, progress ------------------------------------------------


def append(path: str, data: str | bytes) -> None:
    """Append to a file the plugin's config grants (text is written as UTF-8).
    One call's bytes are written at once."""
    from componentize_py_types import Err
    from wit_world.imports import files

    try:
        files.append(path, data.encode() if isinstance(data, str) else bytes(data))
    except Err as error:
        raise AppendError(_kind(error.value), error.value.value) from None


class _Log:
    """Diagnostics to the host's log, and to the client when it asked for that level."""

    def _emit(self, level_name: str, message: str) -> None:
        from wit_world.imports import logging

        logging.log(getattr(logging.Level, level_name), str(message))

    def debug(self, message: str) -> None:
        self._emit("DEBUG", message)

    def info(self, message: str) -> None:
        self._emit("INFO", message)

    def warning(self, message: str) -> None:
        self._emit("WARNING", message)

    def error(self, message: str) -> None:
        self._emit("ERROR", message)


log = _Log()


def progress(done: float, total: float | None = None, message: str | None = None) -> None:
    """Tell the client how far the call has come (dropped if it did not ask)."""
    from wit_world.imports import progress as wit_progress

    wit_progress.report(float(done), None if total is None else float(total), message)


# -- asking the user -----------------------------------------------------------


class Elicited:
    """What the user did: `action` is "accept", "decline" or "cancel"; `data`
    is what they entered (an instance of the form's type) when they accepted."""

    def __init__(self, action: str, data: Any = None):
        self.action, self.data = action, data

    @property
    def accepted(self) -> bool:
        return self.action == "accept"

    def __repr__(self) -> str:
        return f"Elicited({self.action!r}, {self.data!r})"


def _form_schema(form: Any) -> dict:
    """A flat object schema, as MCP's form mode wants: optional fields lose
    their `null` alternative (leaving one out is how a form says "none")."""
    schema = form if isinstance(form, dict) else schema_of(form)
    if schema.get("type") != "object":
        raise TypeError("an elicitation form is a dataclass, a TypedDict or an object schema")
    flat = dict(schema)
    flat["properties"] = {}
    for name, prop in schema.get("properties", {}).items():
        options = [option for option in prop.get("anyOf", []) if option != {"type": "null"}]
        if len(options) == 1:
            prop = {**options[0], **{k: v for k, v in prop.items() if k != "anyOf"}}
        flat["properties"][name] = prop
    return flat


def elicit(message: str, form: Any) -> Elicited:
    """Ask the calling client's user to fill in `form`: a dataclass or
    TypedDict of flat fields (str, int, float, bool, Literal, Enum, lists of
    choices), or a JSON Schema dict. The host checks the answer against it."""
    from componentize_py_types import Err
    from wit_world.imports import elicitation

    try:
        answer = elicitation.elicit(message, json.dumps(_form_schema(form)))
    except Err as error:
        raise ElicitError(_kind(error.value), error.value.value) from None
    if isinstance(answer, elicitation.Answer_Accept):
        data = json.loads(answer.value)
        if not isinstance(form, dict):
            try:
                data = convert(data, form, "")
            except InvalidArguments as wrong:
                raise ElicitError("failed", f"the answer does not fit the form: {wrong}") from None
        return Elicited("accept", data)
    return Elicited("decline" if isinstance(answer, elicitation.Answer_Decline) else "cancel")


class Root:
    """A folder (or other URI) the client says the server may work in."""

    def __init__(self, uri: str, name: str | None):
        self.uri, self.name = uri, name

    def __repr__(self) -> str:
        return f"Root({self.uri!r}, {self.name!r})"


def roots() -> list[Root]:
    """The calling client's roots. Information only: grants still decide what the plugin reaches."""
    from componentize_py_types import Err
    from wit_world.imports import roots as wit_roots

    try:
        return [Root(root.uri, root.name) for root in wit_roots.list_roots()]
    except Err as error:
        raise RootsError(_kind(error.value), error.value.value) from None
