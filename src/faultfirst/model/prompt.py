"""The neutral shapes of the simulated model's work: a request (`Prompt`, `Document`) and a reply
(`Reply`, `Block`, `Citation`).

The request-parsing layer turns an OpenAI or Anthropic request into a `Prompt`; the responders
(`responders.py`) turn it into a `Reply`; the wire modules render that in each API's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Document:
    """A document passed alongside the user turn: an Anthropic document block, or a tool's result.

    `origin` says which, because an instruction planted in a tool's result is a different attack
    from one planted in a document (see `obedience.py`).
    """

    text: str
    title: str | None = None
    citations: bool = False
    origin: Literal["document", "tool_result"] = "document"


@dataclass(frozen=True)
class Message:
    """One message of a request as sent: its role and its text (content blocks joined; documents left out).

    OpenAI's system and developer messages are messages too; Anthropic's `system` parameter is not one.
    """

    role: str
    text: str


@dataclass(frozen=True)
class Prompt:
    """A provider-neutral view of one request."""

    system: str
    user: str
    documents: tuple[Document, ...] = ()
    schema: dict | None = None
    schema_name: str | None = None
    temperature: float = 1.0
    provider: str = "openai"
    model: str = ""


@dataclass(frozen=True)
class Citation:
    """A character span of ``documents[document_index]`` that backs a block."""

    document_index: int
    start: int
    end: int
    cited_text: str
    title: str | None


@dataclass(frozen=True)
class Block:
    """One text block of a reply, with the citations that support it."""

    text: str
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Reply:
    """The simulated model's reply and the rule that produced it."""

    blocks: tuple[Block, ...]
    skill: str
    ending: str | None = None  # a fixture's scripted ending (see _fixtures.ENDINGS); None: the engine's own
    stop_sequence: str | None = None
    # A tool call an obeyed injection demands: the tool's name and an argument its call must carry (or None).
    # The engine makes the call when the request offers that tool; otherwise the reply is its text.
    demanded_call: tuple[str, str | None] | None = None

    @property
    def text(self) -> str:
        """The reply as plain text."""
        return "".join(block.text for block in self.blocks)


def _plain(text: str, skill: str) -> Reply:
    """A reply of one uncited block."""
    return Reply((Block(text),), skill)
