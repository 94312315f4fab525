"""The corpus of Tiers 4-6: its shape, its gold labels, its planted contradictions, and that retrieval matters."""

from __future__ import annotations

import collections
import pathlib
import re
import statistics
import time

import pytest

import faultfirst
from faultfirst.maintain import write_corpus
from faultfirst.model import corpus as corpus_module
from faultfirst.model.corpus import (
    QUESTION_KINDS,
    SPLITS,
    CorpusError,
    Question,
    Span,
    gold_text,
    load_corpus,
    load_questions,
)

CORPUS = load_corpus()
QUESTIONS = load_questions()
ANSWERABLE = [question for question in QUESTIONS if question.answerable]
WORDS = {paper.id: set(re.findall(r"\w+", paper.abstract)) for paper in CORPUS}  # method names are single words
# Words too common to say anything about a question; the rest decide which documents "share a word" with it.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "each", "for", "from", "how", "in", "is",
    "it", "its", "many", "much", "of", "on", "or", "over", "than", "that", "the", "their", "this", "to", "was", "were",
    "what", "which", "with"})


def content_words(text: str) -> set[str]:
    return {word for word in re.findall(r"\w+", text.lower()) if word not in STOPWORDS}


CONTENT = {paper.id: content_words(paper.abstract) for paper in CORPUS}


def test_counts_match_the_design() -> None:
    """About 300 papers, about 120 questions of every kind, 15 contradictions, and a 70/30 split per kind."""
    assert 280 <= len(CORPUS) <= 320
    assert 110 <= len(QUESTIONS) <= 130
    assert len(CORPUS.contradictions) == 15
    kinds = collections.Counter(question.kind for question in QUESTIONS)
    assert set(kinds) == set(QUESTION_KINDS)
    assert kinds["single"] >= 50 and kinds["multi"] >= 20 and kinds["unanswerable"] >= 15
    assert kinds["contradiction"] == len(CORPUS.contradictions)
    for kind in QUESTION_KINDS:
        lesson = sum(question.split == "lesson" for question in QUESTIONS if question.kind == kind)
        assert lesson == round(kinds[kind] * 0.7), kind
    assert set(load_questions("lesson")) | set(load_questions("heldout")) == set(QUESTIONS)
    assert not set(load_questions("lesson")) & set(load_questions("heldout"))


def test_ids_are_unique_and_sequential() -> None:
    """Papers are doc-0001 ... in order, questions q-001 ..., contradictions con-01 ...: ids a learner can cite."""
    assert [paper.id for paper in CORPUS] == [f"doc-{number:04d}" for number in range(1, len(CORPUS) + 1)]
    assert [question.id for question in QUESTIONS] == [f"q-{number:03d}" for number in range(1, len(QUESTIONS) + 1)]
    assert [item.id for item in CORPUS.contradictions] == [
        f"con-{number:02d}" for number in range(1, len(CORPUS.contradictions) + 1)]
    assert CORPUS.paper("doc-0042").id == "doc-0042"


def test_the_generator_reproduces_the_committed_files() -> None:
    """The committed JSON is exactly what the generator writes: ids and offsets stay stable, no hand edits."""
    papers, questions = write_corpus.build()
    assert write_corpus.render(papers) == corpus_module.PAPERS_FILE.read_text(encoding="utf-8")
    assert write_corpus.render(questions) == corpus_module.QUESTIONS_FILE.read_text(encoding="utf-8")


def test_check_mode_fails_on_a_stale_file(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`write_corpus --check` exits 1 when a committed file differs from what it would write, and writes nothing."""
    stale = tmp_path / "papers.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(write_corpus, "PAPERS_FILE", stale)
    assert write_corpus.main(["--check"]) == 1
    assert stale.read_text(encoding="utf-8") == "{}\n"


def test_abstracts_are_distinct_and_abstract_sized() -> None:
    """No two abstracts or titles are identical, each is 80-200 words, and the metadata is filled in."""
    assert len({paper.abstract for paper in CORPUS}) == len(CORPUS)
    assert len({paper.title for paper in CORPUS}) == len(CORPUS)
    for paper in CORPUS:
        assert 80 <= len(paper.abstract.split()) <= 200, paper.id
        assert paper.authors and all(paper.authors) and paper.venue and paper.topics
        assert 2016 <= paper.year <= 2025


def test_near_duplicates_share_sentences() -> None:
    """Sub-topics reuse context sentences word for word, so many abstracts overlap and exact matching is not enough."""
    split = {paper.id: set(re.split(r"(?<=\.) ", paper.abstract)) for paper in CORPUS}
    uses = collections.Counter(sentence for sentences in split.values() for sentence in sentences)
    assert all(any(uses[sentence] >= 5 for sentence in sentences) for sentences in split.values())


def test_facts_are_written_in_their_abstract() -> None:
    """Every extraction field is stated in the abstract as recorded, so extraction can be scored exactly."""
    for paper in CORPUS:
        facts = paper.facts
        for text in (facts.method, facts.baseline, facts.dataset, f"{facts.dataset_size:,} {facts.dataset_unit}",
                     facts.metric, facts.value):
            assert text in paper.abstract, (paper.id, text)
        assert (facts.baseline_value is None) or facts.baseline_value in paper.abstract


def test_a_method_names_one_paper_unless_it_is_replicated() -> None:
    """A method's name occurs in its own abstract and, for a contradicted method, in the replication only."""
    contradicted = {CORPUS.paper(item.spans[0].doc).facts.method for item in CORPUS.contradictions}
    by_method = collections.Counter(paper.facts.method for paper in CORPUS)
    for method, count in by_method.items():
        assert count == (2 if method in contradicted else 1), method
        assert sum(method in words for words in WORDS.values()) == count, method


def is_sentence(span: Span) -> bool:
    abstract = CORPUS.paper(span.doc).abstract
    starts = span.start == 0 or abstract[span.start - 2:span.start] == ". "
    ends = abstract[span.end - 1] == "." and (span.end == len(abstract) or abstract[span.end] == " ")
    return starts and ends


def test_gold_spans_are_whole_sentences_holding_the_keys() -> None:
    """Each gold span is one whole sentence; every key is in some span, every span holds a key, and the answer
    is one of the keys or contains them all (the rule docs/corpus.md states)."""
    for question in ANSWERABLE:
        texts = [gold_text(span) for span in question.spans]
        assert question.spans and question.keys, question.id
        assert all(is_sentence(span) for span in question.spans), question.id
        assert all(any(key in text for text in texts) for key in question.keys), question.id
        assert all(any(key in text for key in question.keys) for text in texts), question.id
        answer = question.answer
        assert answer is not None and (answer in question.keys or all(key in answer for key in question.keys))
        assert len({span.doc for span in question.spans}) == (1 if question.kind == "single" else 2), question.id


def test_unanswerable_questions_need_a_term_no_abstract_has() -> None:
    """An unanswerable question names what an answer needs (`missing`), and no abstract contains it."""
    everything = " ".join(paper.abstract for paper in CORPUS).lower()
    unanswerable = [question for question in QUESTIONS if question.kind == "unanswerable"]
    for question in unanswerable:
        assert question.answer is None and not question.keys and not question.spans
        assert question.missing and question.missing.lower() in question.text.lower()
        assert question.missing.lower() not in everything, question.id
    assert all(question.missing is None for question in ANSWERABLE)
    # They still look answerable: each shares words with many abstracts.
    assert min(sum(bool(content_words(question.text) & words) for words in CONTENT.values())
               for question in unanswerable) >= 10


def number(finding: str) -> float:
    return float(re.findall(r"\d+(?:\.\d+)?", finding)[-1])


def test_contradictions_disagree_on_the_same_claim() -> None:
    """The two papers of a contradiction measure the same method, dataset, baseline and metric, and their findings,
    each written in its span, report different numbers or opposite directions."""
    for item in CORPUS.contradictions:
        first, second = (CORPUS.paper(span.doc) for span in item.spans)
        assert first.id != second.id
        for fact in ("method", "dataset", "baseline", "metric"):
            assert getattr(first.facts, fact) == getattr(second.facts, fact), (item.id, fact)
            assert getattr(first.facts, fact) in item.claim
        for span, finding in zip(item.spans, item.findings, strict=True):
            assert is_sentence(span) and finding in gold_text(span), item.id
        claimed, replicated = number(item.findings[0]), number(item.findings[1])
        if first.facts.baseline_value is not None:  # a score: the replication lands on the baseline's other side
            baseline = number(first.facts.baseline_value)
            assert (claimed - baseline) * (replicated - baseline) < 0, item.id
        else:  # a change: the replication finds the opposite direction, or at most half the gain
            verbs = item.findings[0].split()[0], item.findings[1].split()[0]
            opposite = {"increases", "lowers"} & {verbs[1]} and verbs[0] != verbs[1]
            assert opposite or replicated <= claimed / 2, item.id
        assert first.facts.value != second.facts.value and first.year < second.year


def test_contradiction_questions_cite_both_sides() -> None:
    """A question about a contradiction has both papers' spans as gold, and its answer states both findings."""
    questions = {question.contradiction: question for question in QUESTIONS if question.kind == "contradiction"}
    assert set(questions) == {item.id for item in CORPUS.contradictions}
    for item in CORPUS.contradictions:
        question = questions[item.id]
        assert question.spans == item.spans
        assert question.answer is not None and all(finding in question.answer for finding in item.findings)


def test_naive_retrieval_returns_many_distractors() -> None:
    """Taking every document that shares a word with the question brings back dozens of wrong documents, and
    ranking by shared words alone puts the right one first for well under nine questions in ten."""
    documents = list(CONTENT.items())
    distractors, first_right = [], 0
    for question in ANSWERABLE:
        words, gold = content_words(question.text), {span.doc for span in question.spans}
        assert all(words & CONTENT[doc] for doc in gold), question.id
        distractors.append(sum(1 for doc, text in documents if words & text and doc not in gold))
        best = max(documents, key=lambda document: len(words & document[1]))
        first_right += best[0] in gold
    assert statistics.median(distractors) >= 50
    assert min(distractors) >= 5
    assert first_right / len(ANSWERABLE) < 0.8


def test_loading_takes_milliseconds() -> None:
    """Reading and parsing both files takes well under 50 ms (the best of three cold loads, on a busy machine)."""
    timings = []
    for _ in range(3):
        load_corpus.cache_clear()
        corpus_module._all_questions.cache_clear()
        started = time.perf_counter()
        load_corpus()
        load_questions()
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.050
    assert load_corpus() is load_corpus()


def test_bad_arguments_name_the_valid_values() -> None:
    """An unknown split or paper id raises CorpusError listing what exists; a span outside its abstract too."""
    with pytest.raises(CorpusError, match="'lesson', 'heldout'"):
        load_questions("test")  # type: ignore[arg-type]
    with pytest.raises(CorpusError, match="ids run from 'doc-0001' to 'doc-0300'"):
        CORPUS.paper("doc-9999")
    with pytest.raises(CorpusError, match="characters 0:"):
        gold_text(Span("doc-0001", 0, 100_000))
    assert SPLITS == ("lesson", "heldout")


def test_objects_are_immutable_and_exported() -> None:
    """Everything loaded is frozen, and the package's top level exports the loader's public names."""
    question: Question = QUESTIONS[0]
    with pytest.raises(AttributeError):
        question.answer = "changed"  # type: ignore[misc]
    for name in ("load_corpus", "load_questions", "gold_text", "Corpus", "Paper", "Facts", "Question", "Span",
                 "Contradiction", "CorpusError"):
        assert getattr(faultfirst, name) is getattr(corpus_module, name)
        assert name in faultfirst.__all__
