"""Haiku tools: a tour of wasm-mcp's Python SDK.

Build:  python -m wasm_mcp build app.py -o py_haiku.wasm
Serve:  [[plugin]] component = "py_haiku.wasm", append = ["haiku.txt"]
"""

import base64
from dataclasses import dataclass, field
from typing import Annotated, Literal

from wasm_mcp import (
    AssistantMessage,
    Field,
    Image,
    InvalidArguments,
    ResourceLink,
    ResourceNotFound,
    Sample,
    Text,
    ToolError,
    ToolResult,
    UserMessage,
    append,
    elicit,
    log,
    progress,
    prompt,
    resource,
    tool,
)

# A red 1x1 PNG: the seal on a signed haiku.
SEAL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


@tool(destructive=False)
def haiku(topic: str, mood: Literal["calm", "playful", "dark"] = "calm") -> str:
    """Writes a haiku with the client's LLM and keeps it in haiku.txt.

    Args:
        topic: What the haiku is about.
        mood: The tone of the poem.
    """
    if not topic.strip():
        raise InvalidArguments("`topic` is empty: say what the haiku is about")
    progress(0, 2, "asking the model")
    poem = (
        Sample(f"Write a {mood} haiku about {topic}.")
        .system("You are a poet. Answer with the haiku only.")
        .max_tokens(60)
        .send()
        .text
    )
    progress(1, 2, "keeping it")
    append("haiku.txt", poem + "\n\n")
    log.info(f"kept a {mood} haiku about {topic}")
    return poem


@dataclass
class Syllables:
    """How a poem's lines count."""

    lines: list[int]
    total: int
    classic: bool = field(metadata={"description": "Whether the lines count 5, 7, 5."})


def _syllables(word: str) -> int:
    groups, previous = 0, False
    for letter in word.lower():
        vowel = letter in "aeiouy"
        groups += vowel and not previous
        previous = vowel
    if word.lower().endswith("e") and groups > 1:
        groups -= 1
    return max(groups, 1) if any(c.isalpha() for c in word) else 0


@tool(read_only=True)
def count_syllables(poem: Annotated[str, Field(description="The poem, one line per line.", min_length=1)]) -> Syllables:
    """Counts the syllables of each line of a poem (an English estimate)."""
    counts = [sum(_syllables(word) for word in line.split()) for line in poem.splitlines() if line.strip()]
    if not any(counts):
        raise ToolError("the poem has no words to count")
    return Syllables(lines=counts, total=sum(counts), classic=counts == [5, 7, 5])


@dataclass
class Signature:
    author: Annotated[str, Field(description="The name to sign with.")]
    stamp: bool = True


@tool
def sign(poem: str):
    """Asks the user who signs a poem, then keeps the signed poem in haiku.txt."""
    answer = elicit("Who signs this haiku?", Signature)
    if not answer.accepted:
        return ToolResult([Text(f"Left unsigned: the user chose to {answer.action}.")], is_error=True)
    signed = f"{poem}\n  -- {answer.data.author}"
    append("haiku.txt", signed + "\n\n")
    blocks = [Text(signed), ResourceLink("file:///haiku.txt", "haiku.txt", mime_type="text/plain")]
    if answer.data.stamp:
        blocks.append(Image(SEAL, "image/png", audience=["user"]))
    return blocks


# Prompts and resources: what the client's user picks, and what it may read.

FORMS = {"haiku": [5, 7, 5], "tanka": [5, 7, 5, 7, 7], "cinquain": [2, 4, 6, 8, 2]}


@prompt(title="Haiku workshop")
def workshop(topic: str, mood: Literal["calm", "playful", "dark"] = "calm", drafts: int = 1):
    """Starts a conversation that drafts haiku with the user.

    Args:
        topic: What the haiku is about.
        mood: The tone of the poems.
        drafts: How many drafts to offer.
    """
    if drafts < 1:
        raise InvalidArguments("`drafts` must be at least 1")
    return [
        UserMessage(f"Let us write {drafts} {mood} haiku about {topic}."),
        AssistantMessage("Gladly. Which image should the first one open with?"),
    ]


@resource("haiku://forms", mime_type="application/json")
def forms() -> dict:
    """Syllables per line of each short form."""
    return FORMS


@resource("haiku://forms/{form}/lines/{line}", mime_type="text/plain")
def form_line(form: Literal["haiku", "tanka", "cinquain"], line: int) -> str:
    """How many syllables one line of a form has (lines count from 1)."""
    counts = FORMS[form]
    if not 1 <= line <= len(counts):
        raise ResourceNotFound(f"a {form} has lines 1 to {len(counts)}, not {line}")
    return str(counts[line - 1])
