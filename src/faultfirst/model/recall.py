"""What the simulated model "remembers" of a corpus question it has no source for: a plausible, wrong answer.

A model asked about a paper it was not shown still answers, and a fluent wrong answer looks like a right
one. The world gives it the shape of the gold answer with another paper's value of the same kind: the
dataset, baseline, size, headline value or method of a paper of the same sub-topic (which shares the
gold paper's datasets, baselines and metric, so the value is one a reader could believe); for "which of
the two reports more", the other method; for a contradiction, one finding with a neighbour's number in it.
An unanswerable question about a method that does not exist gets the headline value of a paper evaluated
on the dataset it names; one about what no abstract reports (energy, licence ...) a stock invention.
Every answer is a pure function of the question, so a lesson can print it and a test can prove it wrong.
"""

from __future__ import annotations

import functools

from .corpus import Facts, Paper, Question, load_corpus

_INVENTED = {
    "energy": "about 0.8 joules per request",
    "carbon": "about 12 kg of CO2-equivalent",
    "licence": "the Apache 2.0 licence",
    "funding": "the Open Systems Research Foundation",
    "lines of code": "about 8,400 lines of code",
}
_FIELDS = ("dataset", "baseline", "dataset_size", "value", "method")


def _shown(facts: Facts, field: str) -> str:
    """A fact as its abstract writes it (a size with thousands separators, as the gold answers do)."""
    value = getattr(facts, field)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _neighbour_value(paper: Paper, field: str, gold: frozenset[str]) -> str:
    """`field` of the first paper of `paper`'s sub-topic (in id order, no gold paper) whose value differs from
    `paper`'s."""
    own = _shown(paper.facts, field)
    for other in load_corpus().papers:
        if other.topics == paper.topics and other.id not in gold and _shown(other.facts, field) != own:
            return _shown(other.facts, field)
    raise AssertionError(f"no paper of {paper.id}'s sub-topic differs in {field}")  # the corpus promises one


def _wrong_key(key: str, paper: Paper, gold: frozenset[str]) -> str:
    """`key` with the fact of `paper` it holds replaced by a neighbour's value of the same kind."""
    for field in _FIELDS:
        shown = _shown(paper.facts, field)
        if shown in key:
            return key.replace(shown, _neighbour_value(paper, field, gold))
    raise AssertionError(f"key {key!r} holds none of {paper.id}'s facts")


@functools.cache
def recalled_answer(question: Question) -> str:
    """What the model answers `question` with when none of its gold documents reached it."""
    corpus = load_corpus()
    if question.answer is None:
        invented = _INVENTED.get(question.missing or "")
        if invented is not None:
            return invented
        named = next((p for p in corpus.papers if f" on {p.facts.dataset}?" in question.text), corpus.papers[0])
        return named.facts.value
    papers = [corpus.paper(span.doc) for span in question.spans]
    gold = frozenset(span.doc for span in question.spans)
    if question.kind == "multi" and question.answer in question.keys:  # "of A and B, which reports more?"
        return next(p.facts.method for p in papers if p.facts.method != question.answer)
    if question.kind == "contradiction":
        finding = _wrong_key(question.keys[0], papers[0], gold)
        verb = "reaches " if finding.startswith("a ") else ""
        return f"{papers[0].facts.method} {verb}{finding}"
    answer = question.answer
    for key, paper in zip(question.keys, papers, strict=True):
        answer = answer.replace(key, _wrong_key(key, paper, gold))
    return answer
