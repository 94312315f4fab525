"""Rule 4 of the simulated model: answer a question from documents by quoting them, with citations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..prompt import Block, Citation, Reply, _plain
from ..prompt_view import _SUMMARY_RE, _Source, _View
from ..text_tools import _terms
from .classify import _labels

_QUESTION_RE = re.compile(
    r"[?？]|\b(?:what|why|how|which|when|who|whom|whose|where|according to)\b"
    r"|(?:^|[.!:\n]\s*)(?:does|do|did|is|are|was|were|can|could|should|will|would|has|have)\b",
    re.IGNORECASE,
)
_NO_ANSWER = "The documents do not say."


@dataclass(frozen=True)
class _Match:
    """A candidate answer sentence and how well it matches the question."""

    score: int
    order: int
    source: _Source
    start: int
    end: int


def _ranked_sentences(view: _View) -> list[_Match]:
    """Document sentences ranked by shared terms with the request, earlier first on ties."""
    question = set(_terms(view.request))
    matches = [
        _Match(len(question & set(_terms(source.text[start:end]))), order, source, start, end)
        for order, (source, (start, end)) in enumerate(
            (source, span) for source in view.documents for span in source.spans
        )
    ]
    return sorted(matches, key=lambda match: (-match.score, match.order))


def _key_sentence(view: _View) -> str | None:
    """The sentence that best answers the request, else the opening of the longest material."""
    ranked = _ranked_sentences(view)
    if ranked and ranked[0].score > 0:
        return ranked[0].source.text[ranked[0].start : ranked[0].end]
    longest = max(view.material, key=lambda source: len(source.text), default=None)
    return longest.sentences[0] if longest and longest.sentences else None


def _answer(view: _View) -> Reply | None:
    """Quote the one or two sentences that best match the question."""
    if not view.documents or not _QUESTION_RE.search(view.request):
        return None
    if _SUMMARY_RE.search(view.request) or _labels(view)[0]:
        return None  # a question-shaped summary or classification request
    ranked = _ranked_sentences(view)
    if not ranked or ranked[0].score == 0:
        return _plain(_NO_ANSWER, "answer")
    best = ranked[0]
    runner_up = next((match for match in ranked[1:] if match.source is best.source), None)
    chosen = [best]
    if runner_up is not None and runner_up.score >= 2 and 2 * runner_up.score >= best.score:
        chosen = sorted([best, runner_up], key=lambda match: match.start)
    source = best.source
    lead = f'According to "{source.title}", ' if source.title else "According to the document, "
    quotes = [source.text[match.start : match.end] for match in chosen]
    if not (source.citations and source.index is not None):
        return _plain(f'{lead}"{" ".join(quotes)}"', "answer")
    blocks = [Block(lead)]
    for position, match in enumerate(chosen):
        if position:
            blocks.append(Block(" "))
        cited = source.text[match.start : match.end]
        blocks.append(Block(cited, (Citation(source.index, match.start, match.end, cited, source.title),)))
    return Reply(tuple(blocks), "answer")
