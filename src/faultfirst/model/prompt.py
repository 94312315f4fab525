"""The neutral shapes of the simulated model's work: a request (`Prompt`, `Document`) and a reply
(`Reply`, `Block`, `Citation`).

The request-parsing layer turns an OpenAI or Anthropic request into a `Prompt`; the responders
(`responders.py`) turn it into a `Reply`; the wire modules render that in each API's shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
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
    # An Anthropic "content" source's text blocks (`text` is them joined, as its citations' cited_text is);
    # empty for a plain-text source. Its citations point at blocks, not characters.
    chunks: tuple[str, ...] = ()


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
    """A character span of ``documents[document_index]`` that backs a block (with `blocks`: a range of its
    content blocks, `start` inclusive and `end` exclusive, as Anthropic's content_block_location has it)."""

    document_index: int
    start: int
    end: int
    cited_text: str
    title: str | None
    blocks: bool = False


@dataclass(frozen=True)
class Quote:
    """A quotation a reply attributes to a source: the words, the source's id, and the offsets it claims.

    In prose, `"text" [doc]`; in a rigid reply, a claim whose `start` and `end` are meant to be the
    character offsets of `text` in the source's text.
    """

    text: str
    doc: str
    start: int
    end: int


# A quote in prose as `Cited.text` writes it, "exact words" [doc-0042]: groups (words, id). The one reader of the
# format outside a lesson's own (the citations check's case writer, the tests).
QUOTED_RE = re.compile(r'"([^"]*)" \[([^\]]+)\]')


@dataclass(frozen=True)
class Cited:
    """A grounded answer that quotes its sources in its own text, which the world's citation faults may spoil.

    `mode` is "prose" (the answer, then each quote as `"exact words" [doc-0042]`) or "rigid" (JSON: `answer`
    and `claims`, each claim a quote, its source's id and its offsets). `sources` are the provided sources by
    id, in prompt order, and `model` and `verbatim` (the prompt asked for word-for-word quotes) are what
    the fault rates depend on (model/citation_profile.py).
    """

    mode: Literal["prose", "rigid"]
    answer: str
    quotes: tuple[Quote, ...]
    sources: tuple[tuple[str, str], ...]
    model: str = ""
    verbatim: bool = False

    @property
    def text(self) -> str:
        """The reply as the model writes it."""
        if self.mode == "rigid":
            claims = [{"quote": q.text, "doc": q.doc, "start": q.start, "end": q.end} for q in self.quotes]
            return json.dumps({"answer": self.answer, "claims": claims}, ensure_ascii=False)
        if not self.quotes:
            return self.answer
        says = "The source says" if len(self.quotes) == 1 else "The sources say"
        return f"{self.answer} {says}: " + " and ".join(f'"{q.text}" [{q.doc}]' for q in self.quotes)


@dataclass(frozen=True)
class Block:
    """One text block of a reply, with the citations that support it.

    `pieces`, when the reply was assembled from them, are the text cut where token counts add up
    (`model/tokens.py`: before a space between two non-space characters); the engine counts the block from
    their cached counts instead of scanning the text. Not compared: they say nothing the text does not.
    """

    text: str
    citations: tuple[Citation, ...] = ()
    pieces: tuple[str, ...] = field(default=(), compare=False, repr=False)


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
    # A grounded answer whose quotes the world's citation faults may spoil (model/citing.py): prose quoting
    # its sources, or rigid claims. None for every other reply, and for Anthropic citation blocks.
    cited: Cited | None = None

    @property
    def text(self) -> str:
        """The reply as plain text."""
        return "".join(block.text for block in self.blocks)


def _plain(text: str, skill: str) -> Reply:
    """A reply of one uncited block."""
    return Reply((Block(text),), skill)
