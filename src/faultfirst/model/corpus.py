"""The paper-abstract corpus of Tiers 4-6: documents, questions with gold answers and spans, contradictions.

Grounding, citation checking, evaluation and the capstone's research assistant all need the same thing:
a collection of documents small enough to load in milliseconds, big enough that retrieval matters, and
labelled well enough to score against. This module reads the one shipped in `faultfirst/corpus/`
(written for this project by `python -m faultfirst.maintain.write_corpus`; docs/corpus.md describes it):

    from faultfirst import load_corpus, load_questions, gold_text
    corpus = load_corpus()
    question = load_questions("lesson")[0]
    print(question.text, "->", question.answer, [gold_text(span) for span in question.spans])

Everything is a frozen dataclass holding tuples, and both loaders are cached, so a lesson, a check and a
learner's code share one immutable copy and cannot disturb each other's.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

Split = Literal["lesson", "heldout"]
QuestionKind = Literal["single", "multi", "contradiction", "unanswerable"]

SPLITS: tuple[Split, ...] = get_args(Split)
QUESTION_KINDS: tuple[QuestionKind, ...] = get_args(QuestionKind)

_FOLDER = Path(__file__).parents[1] / "corpus"  # the package's data sits at its root, beside fixtures/
PAPERS_FILE = _FOLDER / "papers.json"
QUESTIONS_FILE = _FOLDER / "questions.json"


class CorpusError(ValueError):
    """A loader was asked for something the corpus does not have; the message lists what it has."""


@dataclass(frozen=True)
class Span:
    """A stretch of one abstract: `paper.abstract[start:end]` (end exclusive, as a Python slice)."""

    doc: str
    start: int
    end: int


@dataclass(frozen=True)
class Facts:
    """The structured fields an extraction exercise targets, each written in the abstract as given here.

    `dataset_size` appears as `f"{dataset_size:,} {dataset_unit}"`; `value` and `baseline_value` as
    printed (`"31.4%"`, `"2.4x"`, `"0.87"`). `baseline_value` is None where the abstract reports a change
    relative to the baseline rather than the baseline's own score.
    """

    method: str
    baseline: str
    dataset: str
    dataset_size: int
    dataset_unit: str
    metric: str
    value: str
    baseline_value: str | None


@dataclass(frozen=True)
class Paper:
    """One document: an invented paper's metadata, its abstract and the facts its abstract states."""

    id: str
    title: str
    authors: tuple[str, ...]
    year: int
    venue: str
    topics: tuple[str, ...]
    abstract: str
    facts: Facts


@dataclass(frozen=True)
class Contradiction:
    """Two papers that disagree on purpose: the same claim, two different findings, one span in each."""

    id: str
    claim: str
    spans: tuple[Span, Span]
    findings: tuple[str, str]  # each is written in its span, word for word


@dataclass(frozen=True)
class Question:
    """A question with its gold answer and the spans that support it.

    `keys` are the facts the answer rests on, each written word for word in one of the gold spans; the
    answer is one of the keys or contains them all. An unanswerable question has no answer, keys or
    spans, and names in `missing` the term an answer would need, which no abstract contains.
    """

    id: str
    split: Split
    kind: QuestionKind
    text: str
    answer: str | None
    keys: tuple[str, ...]
    spans: tuple[Span, ...]
    missing: str | None = None
    contradiction: str | None = None  # the Contradiction.id a "contradiction" question is about

    @property
    def answerable(self) -> bool:
        return self.answer is not None


@dataclass(frozen=True)
class Corpus:
    """All the papers, in id order, and the contradictions planted among them."""

    papers: tuple[Paper, ...]
    contradictions: tuple[Contradiction, ...]
    _by_id: Mapping[str, Paper] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", MappingProxyType({paper.id: paper for paper in self.papers}))

    def __iter__(self) -> Iterator[Paper]:
        return iter(self.papers)

    def __len__(self) -> int:
        return len(self.papers)

    def paper(self, doc: str) -> Paper:
        """The paper with this id (`doc-0001` ... ), or a CorpusError naming the valid range."""
        paper = self._by_id.get(doc)
        if paper is None:
            raise CorpusError(f"no paper {doc!r} in the corpus: ids run from {self.papers[0].id!r} "
                              f"to {self.papers[-1].id!r}")
        return paper


def _span(data: dict[str, Any]) -> Span:
    return Span(data["doc"], data["start"], data["end"])


def _paper(data: dict[str, Any]) -> Paper:
    return Paper(id=data["id"], title=data["title"], authors=tuple(data["authors"]), year=data["year"],
                 venue=data["venue"], topics=tuple(data["topics"]), abstract=data["abstract"],
                 facts=Facts(**data["facts"]))


def _question(data: dict[str, Any]) -> Question:
    return Question(id=data["id"], split=data["split"], kind=data["kind"], text=data["text"],
                    answer=data["answer"], keys=tuple(data["keys"]),
                    spans=tuple(_span(span) for span in data["spans"]), missing=data["missing"],
                    contradiction=data["contradiction"])


@functools.cache
def load_corpus() -> Corpus:
    """The shipped corpus, read once per process."""
    data = json.loads(PAPERS_FILE.read_text(encoding="utf-8"))
    contradictions = tuple(
        Contradiction(id=item["id"], claim=item["claim"], spans=(_span(item["spans"][0]), _span(item["spans"][1])),
                      findings=(item["findings"][0], item["findings"][1]))
        for item in data["contradictions"])
    return Corpus(papers=tuple(_paper(paper) for paper in data["papers"]), contradictions=contradictions)


@functools.cache
def _all_questions() -> tuple[Question, ...]:
    data = json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))
    return tuple(_question(question) for question in data["questions"])


def load_questions(split: Split | None = None) -> tuple[Question, ...]:
    """The questions of one split ("lesson" for teaching, "heldout" for scoring), or all of them."""
    if split is not None and split not in SPLITS:
        raise CorpusError(f"unknown split {split!r}: use one of {', '.join(map(repr, SPLITS))}, or None for all")
    questions = _all_questions()
    return questions if split is None else tuple(question for question in questions if question.split == split)


def gold_text(span: Span) -> str:
    """The text a span covers in the shipped corpus."""
    abstract = load_corpus().paper(span.doc).abstract
    if not 0 <= span.start < span.end <= len(abstract):
        raise CorpusError(f"span {span.start}:{span.end} is outside {span.doc}'s abstract, "
                          f"which has characters 0:{len(abstract)}")
    return abstract[span.start:span.end]
