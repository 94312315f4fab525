"""The check of `grounding-recall`: the learner's `recall_at_k(retrieve, questions, k)` over chunk retrievers.

Every retriever here is scripted: for each question text it holds a ranking of chunks `(doc, start, end)` and
returns the first k, recording what it was asked. Small cases put one situation each in front of the function (a
chunk that holds a span exactly, one a character short of it, one from the right paper but elsewhere, one of
another paper at the span's offsets, one that cuts the span, a question with two spans, a span held by two
overlapping chunks, two spans held by one chunk, a question with no chunks, an unanswerable question, a ranking
that depends on k), so a wrong value names its mistake; the last
case scores the held-out questions against the check's own recall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...model.corpus import Question, Span, load_questions
from ...text import plural
from .._framework import Mistake, Report, mistakes, register
from . import hints

Chunk = tuple[str, int, int]


class _Scripted:
    """A retriever of chunks whose rankings are given: `retrieve(text, k)` returns the first k for that text."""

    def __init__(self, rankings: dict[str, list[Chunk]]) -> None:
        self.rankings = rankings
        self.asked: list[tuple[Any, Any]] = []

    def __call__(self, text: Any, k: Any) -> list[Chunk]:
        self.asked.append((text, k))
        if not isinstance(text, str) or not isinstance(k, int):
            return []
        return list(self.rankings.get(text, []))[:k]


def _expected(rankings: dict[str, list[Chunk]], questions: Sequence[Question], k: int) -> float:
    shares = []
    for question in questions:
        if question.spans:
            top = rankings.get(question.text, [])[:k]
            shares.append(sum(any(d == s.doc and a <= s.start and s.end <= b for d, a, b in top)
                              for s in question.spans) / len(question.spans))
    return sum(shares) / len(shares)


def _question(text: str, *spans: Span) -> Question:
    """A question of the check's own, with the given gold spans (none: unanswerable)."""
    return Question(id="q-check", split="heldout", kind="single" if spans else "unanswerable", text=text,
                    answer="an answer" if spans else None, keys=(), spans=spans)


_SPAN, _OTHER = Span("doc-0101", 220, 300), Span("doc-0202", 400, 470)
_JUNK: list[Chunk] = [("doc-0007", 0, 500), ("doc-0008", 0, 500)]


def _score(report: Report, fn: Callable[..., Any], rankings: dict[str, list[Chunk]], questions: list[Question],
           k: int = 3) -> tuple[Any, _Scripted]:
    retrieve = _Scripted(rankings)
    return report.call(fn, retrieve, questions, k), retrieve


def _expect_value(report: Report, got: Any, want: float, what: str, wrong: dict[float, str]) -> None:
    """Fail unless `got` is `want`; the hint is that of the mistake whose value `got` is, if any."""
    number = got if isinstance(got, int | float) and not isinstance(got, bool) else None
    hint = next((h for value, h in wrong.items() if number is not None and abs(number - value) < 1e-9), None)
    report.expect(number is not None and abs(number - want) < 1e-9, f"{what}: returned {got!r}, expected {want:g}",
                  hint=hint)


@register("grounding-recall")
def _check(fn: Callable[..., Any], report: Report) -> None:
    one, two = _question("Which dataset?", _SPAN), _question("Which of the two?", _SPAN, _OTHER)
    with report.case("retrieve is asked with each question's text and the k given"):
        _, retrieve = _score(report, fn, {one.text: [("doc-0101", 220, 300)]}, [one], k=4)
        asked = retrieve.asked
        report.expect(bool(asked) and all(isinstance(text, str) for text, _ in asked),
                      f"retrieve was called with {', '.join(type(text).__name__ for text, _ in asked) or 'nothing'}",
                      hint=hints.TEXT)
        report.expect(all(k == 4 for _, k in asked), f"k=4, and retrieve was asked for k={asked[0][1]}",
                      hint=hints.ASK_K)

    with report.case("a chunk that starts or ends where the gold span does holds it"):
        got, _ = _score(report, fn, {one.text: [("doc-0101", 150, 420)]}, [one])
        _expect_value(report, got, 1, "chunk (150, 420), span (220, 300)", {1 / 3: hints.PRECISION})
        for chunk, edge in (((200, 300), hints.END), ((220, 320), hints.START)):
            got, _ = _score(report, fn, {one.text: [("doc-0101", *chunk), *_JUNK]}, [one])
            _expect_value(report, got, 1, f"chunk {chunk}, span (220, 300)", {0: edge, 1 / 3: hints.PRECISION})
        got, _ = _score(report, fn, {one.text: [("doc-0101", 220, 300), *_JUNK]}, [one])
        _expect_value(report, got, 1, "chunk (220, 300), span (220, 300)", {1 / 3: hints.PRECISION})

    with report.case("a chunk one character short of the gold span does not hold it"):
        for chunk in ((220, 299), (221, 300)):
            got, _ = _score(report, fn, {one.text: [("doc-0101", *chunk), *_JUNK]}, [one])
            _expect_value(report, got, 0, f"chunk {chunk}, span (220, 300)", {1: hints.EDGE})

    with report.case("a chunk of the right paper that does not hold the span does not count"):
        got, _ = _score(report, fn, {one.text: [("doc-0102", 220, 300), *_JUNK]}, [one])
        _expect_value(report, got, 0, "chunk (220, 300) of doc-0102, span (220, 300) of doc-0101", {1: hints.PAPER})
        got, _ = _score(report, fn, {one.text: [("doc-0101", 0, 220), *_JUNK]}, [one])
        _expect_value(report, got, 0, "chunk (0, 220) of the right paper, span (220, 300)", {1: hints.DOCUMENT})

    with report.case("a chunk that cuts the gold span does not count"):
        for cut in ((250, 500), (100, 260)):
            got, _ = _score(report, fn, {one.text: [("doc-0101", *cut), *_JUNK]}, [one])
            _expect_value(report, got, 0, f"chunk {cut}, span (220, 300)", {1: hints.WHOLE})

    with report.case("a question with two gold spans, one of them found, scores 1/2"):
        got, _ = _score(report, fn, {two.text: [*_JUNK, ("doc-0101", 200, 310)]}, [two])
        _expect_value(report, got, 0.5, "one of two spans found, k=3",
                      {1: hints.ANY, 0: hints.ALL, 1 / 3: hints.PRECISION})

    with report.case("a span held by two overlapping chunks is found once; one chunk may hold two spans"):
        overlapping = [("doc-0101", 200, 310), ("doc-0101", 210, 320), *_JUNK]
        got, _ = _score(report, fn, {one.text: overlapping}, [one])
        _expect_value(report, got, 1, "span (220, 300) held by chunks (200, 310) and (210, 320)", {2: hints.TWICE})
        got, _ = _score(report, fn, {two.text: overlapping}, [two])
        _expect_value(report, got, 0.5, "one of two spans held, by two chunks", {1: hints.TWICE})
        near = _question("Which two results?", _SPAN, Span("doc-0101", 320, 400))
        got, _ = _score(report, fn, {near.text: [("doc-0101", 200, 420), *_JUNK]}, [near])
        _expect_value(report, got, 1, "spans (220, 300) and (320, 400) of doc-0101, chunk (200, 420)",
                      {0.5: hints.ONE_CHUNK})

    with report.case("each question weighs the same in the mean, and one with no chunks scores 0"):
        got, _ = _score(report, fn, {one.text: [("doc-0101", 220, 300)], two.text: _JUNK}, [one, two])
        _expect_value(report, got, 0.5, "one question's span found, neither of another's two", {1 / 3: hints.POOLED})
        got, _ = _score(report, fn, {one.text: [("doc-0101", 220, 300)], two.text: []}, [one, two])
        _expect_value(report, got, 0.5, "one question's span found; retrieve returned no chunks for another",
                      {1: hints.NOTHING})

    with report.case("unanswerable questions are left out of the mean"):
        none = _question("Under which licence?")
        got, _ = _score(report, fn, {one.text: [("doc-0101", 220, 300)], none.text: _JUNK}, [one, none, none])
        _expect_value(report, got, 1, "one answerable question found, two unanswerable", {1 / 3: hints.UNANSWERABLE})

    with report.case("recall@k counts the first k chunks (the span's chunk ranked third)"):
        ranked = {one.text: [*_JUNK, ("doc-0101", 220, 300)]}
        for k, want in ((2, 0.0), (3, 1.0), (4, 1.0)):
            got, _ = _score(report, fn, ranked, [one], k=k)
            _expect_value(report, got, want, f"k={k}", {})

    with report.case("the held-out questions, chunked, at k = 1, 3, 5") as notes:
        heldout = load_questions("heldout")
        rankings = _heldout_rankings(heldout)
        for k in (1, 3, 5):
            want = _expected(rankings, heldout, k)
            got, _ = _score(report, fn, rankings, list(heldout), k=k)
            _expect_value(report, got, want, f"k={k}", {})
        answerable = sum(bool(q.spans) for q in heldout)
        notes.detail = f"{plural(len(heldout), 'question')}, {answerable} of them answerable"


def _heldout_rankings(questions: Sequence[Question]) -> dict[str, list[Chunk]]:
    """For each question, chunks around its gold spans: some hold a span, some cut it, some miss it, in an order
    that varies by question, so that k matters and every rule of the definition is used."""
    rankings: dict[str, list[Chunk]] = {}
    for n, question in enumerate(questions):
        chunks: list[Chunk] = [("doc-0300", 0, 400)]
        for m, span in enumerate(question.spans):
            shape = (n + m) % 4
            if shape == 0:
                chunks.append((span.doc, max(0, span.start - 40), span.end + 40))  # holds it
            elif shape == 1:
                chunks.append((span.doc, span.start + 5, span.end + 200))  # cuts it
            elif shape == 2:
                chunks.append((span.doc, 0, span.start))  # the right paper, before the span
            else:
                chunks.insert(0, (span.doc, span.start, span.end))  # exactly it, ranked first
        rankings[question.text] = chunks[n % 2:] + chunks[:n % 2]
    return rankings


_FOUND = ("        found = sum(any(doc == span.doc and start <= span.start and span.end <= end "
          "for doc, start, end in retrieved)\n                    for span in question.spans)\n")
mistakes(
    "grounding-recall",
    Mistake("counts a span found when any chunk of its paper is retrieved",
            changes=(("doc == span.doc and start <= span.start and span.end <= end", "doc == span.doc"),),
            hint=hints.DOCUMENT),
    Mistake("counts a chunk that overlaps the span",
            changes=(("start <= span.start and span.end <= end", "start < span.end and span.start < end"),),
            hint=hints.WHOLE),
    Mistake("treats the span's end as inclusive",
            changes=(("span.end <= end", "span.end < end"),),
            hint=hints.END),
    Mistake("treats the chunk's start as exclusive",
            changes=(("doc == span.doc and start <= span.start", "doc == span.doc and start < span.start"),),
            hint=hints.START),
    Mistake("lets a chunk one character short of the span's end hold it",
            changes=(("span.end <= end", "span.end <= end + 1"),),
            hint=hints.EDGE),
    Mistake("compares the offsets but not the paper",
            changes=(("doc == span.doc and start <= span.start", "start <= span.start"),),
            hint=hints.PAPER),
    Mistake("counts the chunks that hold a span, not the spans held",
            changes=((_FOUND, "        found = sum(doc == span.doc and start <= span.start and span.end <= end "
                              "for doc, start, end in retrieved for span in question.spans)\n"),),
            hint=hints.TWICE),
    Mistake("counts the chunks that hold a span, at most one per span",
            changes=((_FOUND, "        found = min(len(question.spans), sum(any(doc == span.doc and start <= "
                              "span.start and span.end <= end for span in question.spans) "
                              "for doc, start, end in retrieved))\n"),),
            hint=hints.TWICE),
    Mistake("counts the papers whose spans are held, not the spans",
            changes=((_FOUND, "        found = len({span.doc for span in question.spans if any(doc == span.doc and "
                              "start <= span.start and span.end <= end for doc, start, end in retrieved)})\n"),),
            hint=hints.ONE_CHUNK),
    Mistake("pools the spans of every question",
            changes=(("    shares = []\n", "    shares, spans = [], 0\n"),
                     ("shares.append(found / len(question.spans))",
                      "shares.append(found)\n        spans += len(question.spans)"),
                     ("return sum(shares) / len(shares)", "return sum(shares) / spans")),
            hint=hints.POOLED),
    Mistake("leaves out a question for which retrieve returns nothing",
            changes=(("        retrieved = retrieve(question.text, k)\n",
                      "        retrieved = retrieve(question.text, k)\n"
                      "        if not retrieved:\n            continue\n"),),
            hint=hints.NOTHING),
    Mistake("scores a question 1 when any of its spans is found",
            changes=(("shares.append(found / len(question.spans))", "shares.append(float(found > 0))"),),
            hint=hints.ANY),
    Mistake("scores a question 1 only when all its spans are found",
            changes=(("shares.append(found / len(question.spans))",
                      "shares.append(float(found == len(question.spans)))"),),
            hint=hints.ALL),
    Mistake("divides by k",
            changes=(("shares.append(found / len(question.spans))", "shares.append(found / k)"),),
            hint=hints.PRECISION),
    Mistake("averages over every question, unanswerable ones included",
            changes=(("return sum(shares) / len(shares)", "return sum(shares) / len(questions)"),),
            hint=hints.UNANSWERABLE),
    Mistake("asks for a fixed number of chunks",
            changes=(("retrieve(question.text, k)", "retrieve(question.text, 5)"),),
            hint=hints.ASK_K),
    Mistake("passes the question object",
            changes=(("retrieve(question.text, k)", "retrieve(question, k)"),),
            hint=hints.TEXT),
)
