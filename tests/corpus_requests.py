"""How the Tier 4 tests send corpus sources to either SDK, in the shapes tier4-contract.md fixes, and read replies.

OpenAI: each source as `<document id="doc-0042" title="...">abstract</document>` in the user turn. Anthropic: a
`document` block per source, titled with its id, as plain text or as a "content" source of text blocks.
"""

from __future__ import annotations

from typing import Any

from faultfirst import load_corpus
from faultfirst.model.prompt import QUOTED_RE

CLAIMS_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["answer", "claims"],
    "properties": {"answer": {"type": "string"}, "claims": {"type": "array", "items": {
        "type": "object", "additionalProperties": False, "required": ["quote", "doc", "start", "end"],
        "properties": {"quote": {"type": "string"}, "doc": {"type": "string"}, "start": {"type": "integer"},
                       "end": {"type": "integer"}}}}}}


def abstract(doc: str) -> str:
    return load_corpus().paper(doc).abstract


def openai_turn(question: str, docs: list[str], *, instruction: str = "Answer from the sources and quote them.") -> Any:
    """A user turn carrying `docs` as tagged documents, then `question`; the system turn says `instruction`."""
    tags = "\n".join(f'<document id="{d}" title="{load_corpus().paper(d).title}">{abstract(d)}</document>'
                     for d in docs)
    return [{"role": "system", "content": instruction}, {"role": "user", "content": f"{tags}\n\nQuestion: {question}"}]


def text_document(doc: str, *, citations: bool = True) -> dict[str, Any]:
    return {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": abstract(doc)},
            "title": doc, "citations": {"enabled": citations}}


def content_document(doc: str, chunks: list[str]) -> dict[str, Any]:
    return {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": c} for c in chunks]},
            "title": doc, "citations": {"enabled": True}}


def anthropic_turn(question: str, documents: list[dict[str, Any]]) -> Any:
    return [{"role": "user", "content": [*documents, {"type": "text", "text": question}]}]


def quotes(text: str) -> list[tuple[str, str]]:
    """The (quote, doc) pairs of a prose reply, in reply order."""
    return QUOTED_RE.findall(text)
