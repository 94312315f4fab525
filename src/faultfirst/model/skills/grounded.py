"""Answering a corpus question from the sources in the prompt, cited the way the prompt asks.

The world recognises the question (`corpus_questions.find_question`) and knows its gold answer and spans;
what it simulates is what the model can do with the sources it was given. A gold span counts as provided
when a source holds its sentence whole and is the gold paper (its id, or a text that is its abstract or a
piece of it: papers of a sub-topic share sentences, so a neighbour's copy of the sentence does not count).
With every gold span provided (for a contradiction, at least one) the model answers correctly and quotes
the gold sentence(s); without, it answers from memory (`recall.py`, labelled "from_memory") or says the
documents do not say, a per-attempt choice made at the model's chance (`citation_profile.memory_chance`).
An unanswerable question meets the same choice.

How it cites, from the request:

- **citation blocks** (Anthropic documents with `citations: {"enabled": true}`): text blocks whose
  citations point into the documents (char_location; content_block_location for a "content" source);
- **rigid** (a JSON schema with `answer` and `claims`: objects with `quote`, `doc`, `start`, `end`): the
  claims with character offsets, and the answer written from the first claim alone
  (`citation_profile.py` says why);
- **prose** (the system or user turn asks to quote or cite, and the sources carry ids: `<document id=...>`,
  or an Anthropic document's title): the answer, then each quote as `"exact words" [doc-0042]`;
- otherwise the answer alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ..citation_profile import memory_chance
from ..corpus import Question, load_corpus
from ..prompt import Block, Citation, Cited, Quote, Reply, _plain
from ..prompt_view import _Source, _View
from ..recall import recalled_answer
from .answer import _NO_ANSWER, _ranked_sentences
from .json_schema import _resolve

_QUOTE_ASKED_RE = re.compile(r"\b(?:quot(?:e|es|ed|ing|ations?)|cit(?:e|es|ed|ing|ations?)|verbatim)\b", re.IGNORECASE)
_VERBATIM_RE = re.compile(r"\b(?:word[- ]for[- ]word|verbatim|exact(?:ly)?(?: words)?|character[- ]for[- ]character)\b",
                          re.IGNORECASE)
_CLAIM_FIELDS = frozenset({"quote", "doc", "start", "end"})
Mode = Literal["blocks", "rigid", "prose", "plain"]


@dataclass(frozen=True)
class Remembering:
    """A corpus question the sources cannot answer: what the model says from memory (labelled), what it says
    when it admits the documents do not say, and the chance it answers from memory on an attempt."""

    recalled: Reply
    silent: Reply
    chance: float


@dataclass(frozen=True)
class _Found:
    """A sentence the model quotes: its source, where it lies in the source's text, and which gold span it is
    (None for a sentence that is no gold span: what a model answering from memory quotes to look grounded)."""

    source: _Source
    start: int
    end: int
    span: int | None = None


def grounded(view: _View, question: Question) -> Reply | Remembering:
    """The reply to `question`, asked with the sources `view` holds."""
    found = _gold_found(view, question)
    mode = _mode(view, [f.source for f in found] or list(view.documents))
    complete = len(found) == len(question.spans) or (question.kind == "contradiction" and bool(found))
    if question.answer is not None and complete:
        if mode == "rigid" and len(found) > 1:  # a forced claim list keeps the first claim only
            found = found[:1]
        return _reply(view, mode, _answer_from(question, found), found, "grounded")
    ranked = _ranked_sentences(view)
    decoy = [_Found(ranked[0].source, ranked[0].start, ranked[0].end)] if ranked else []
    recalled = _reply(view, mode, f"The answer is {recalled_answer(question)}.", decoy, "from_memory")
    silent = _reply(view, mode, _NO_ANSWER, [], "grounded")
    return Remembering(recalled, silent, memory_chance(view.prompt.model))


def _gold_found(view: _View, question: Question) -> list[_Found]:
    """Each gold span's sentence in the first source that holds it whole (spans no source holds left out)."""
    papers = load_corpus()
    found = []
    for number, span in enumerate(question.spans):
        paper = papers.paper(span.doc).abstract
        sentence = paper[span.start:span.end]
        # papers of a sub-topic share sentences word for word: the gold paper is the source named by its id,
        # else one that is (a piece of) its abstract
        holding = [s for s in view.documents if sentence in s.text and (s.key == span.doc or s.text in paper
                                                                         or paper in s.text)]
        source = next((s for s in holding if s.key == span.doc), holding[0] if holding else None)
        if source is not None:
            at = source.text.find(sentence)
            found.append(_Found(source, at, at + len(sentence), number))
    return found


def _mode(view: _View, sources: list[_Source]) -> Mode:
    if view.prompt.schema is not None and is_claims_schema(view.prompt.schema):
        return "rigid"
    if sources and all(s.citations and s.index is not None for s in sources):
        return "blocks"
    asked = _QUOTE_ASKED_RE.search(view.prompt.system) or _QUOTE_ASKED_RE.search(view.request)
    return "prose" if asked and sources and all(s.key for s in sources) else "plain"


def is_claims_schema(schema: dict[str, Any]) -> bool:
    """Whether `schema` asks for the rigid shape: `answer` and `claims`, each claim a quote, doc, start and end."""
    properties = _resolve(schema, schema).get("properties") or {}
    claims = _resolve(properties.get("claims"), schema)
    claim = _resolve(claims.get("items"), schema)
    return "answer" in properties and set(claim.get("properties") or {}) >= _CLAIM_FIELDS


def _answer_from(question: Question, found: list[_Found]) -> str:
    """The answer sentence: the gold answer, or what the sources found support when only some are there."""
    assert question.answer is not None
    if len(found) == len(question.spans):
        return f"{question.answer[0].upper()}{question.answer[1:]}." if question.kind == "contradiction" \
            else f"The answer is {question.answer}."
    # one paper of two: a contradiction's one finding, or (rigid) the first claim's part of the answer
    index = found[0].span or 0
    span = question.spans[index]
    if question.kind == "contradiction":
        finding = question.keys[index]
        # a finding is a verb phrase ("cuts flow completion time by 64.9%") or a noun phrase ("an agreement ...")
        return f"{span.doc} reports {'' if finding.startswith(('a ', 'an ')) else 'that it '}{finding}."
    if question.answer in question.keys:  # "of A and B, which reports more?": the first paper's method
        return f"The answer is {load_corpus().paper(span.doc).facts.method}."
    return f"The answer is {question.keys[index]}."


def _reply(view: _View, mode: Mode, answer: str, found: list[_Found], skill: str) -> Reply:
    if mode == "blocks":
        blocks = [Block(answer + (" " if found else ""))]
        for position, f in enumerate(found):
            if position:
                blocks.append(Block(" "))
            citable = f.source.citations and f.source.index is not None  # (a decoy may sit in the user turn)
            blocks.append(Block(f.source.text[f.start:f.end], (_citation(view, f),) if citable else ()))
        return Reply(tuple(blocks), skill)
    if mode == "plain":
        return _plain(answer, skill)
    quotes = tuple(Quote(f.source.text[f.start:f.end], f.source.key or "", f.start, f.end) for f in found)
    sources = tuple((s.key, s.text) for s in view.documents if s.key)
    asked = f"{view.prompt.system}\n{view.request}"
    cited = Cited(mode, answer, quotes, sources, view.prompt.model, bool(_VERBATIM_RE.search(asked)))
    return Reply((Block(cited.text),), skill, cited=cited)


def _citation(view: _View, f: _Found) -> Citation:
    """The citation block for a found sentence: its characters, or the content blocks that hold it."""
    assert f.source.index is not None
    chunks = view.prompt.documents[f.source.index].chunks
    if not chunks:
        return Citation(f.source.index, f.start, f.end, f.source.text[f.start:f.end], f.source.title)
    starts = [sum(len(chunk) for chunk in chunks[:number]) for number in range(len(chunks))]
    first = max(number for number, at in enumerate(starts) if at <= f.start and chunks[number])
    last = max(number for number, at in enumerate(starts) if at < f.end)
    return Citation(f.source.index, first, last + 1, "".join(chunks[first:last + 1]), f.source.title, blocks=True)
