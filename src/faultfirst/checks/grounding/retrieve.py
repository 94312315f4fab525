"""The check of `grounding-retrieve`: the learner's `make_retriever(papers)` and the `retrieve(question, k)` it returns.

The retriever is built over the corpus's 300 papers in reverse id order, so that an id computed from a position
(`f"doc-{i + 1:04d}"`) is wrong everywhere, and over six papers, so that a `k` larger than the collection is asked
for. Probes name a paper in ways only a working BM25 index finds: its method's name in lower case, the name as
written (capitals, a question mark), the abstract with the name taken out; a list of papers emptied after the
build (before its first call) shows whether retrieve still reads it, and the first id at k = 5 must be the one
returned at k = 1 (recall@5 alone cannot see a ranking sorted or reversed). Then recall@5 is measured on the held-out
questions, which the lesson never prints.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ...model.corpus import Paper, Question, load_corpus, load_questions
from ...text import plural
from .._framework import Mistake, Report, mistakes, register
from . import hints

_PROBED = (3, 111, 257)  # positions (in the reversed list) of the papers the probes name
_FEW = 6  # papers in the small collection, asked for k = 10
_ORDERED = 8  # held-out questions whose first id at k = 5 must be the one returned at k = 1


def _shown(ids: Any) -> str:
    return ", ".join(map(str, ids)) if isinstance(ids, list | tuple) else repr(ids)


def _top(report: Report, retrieve: Callable[..., Any], question: str) -> Any:
    """The first id `retrieve(question, 1)` returns, or None when it returns nothing."""
    found = report.call(retrieve, question, 1)
    return found[0] if isinstance(found, list | tuple) and found else None


def _recall(report: Report, retrieve: Callable[..., Any], questions: Sequence[Question], k: int) -> dict[int, float]:
    """The lesson's recall over whole papers at 1 and at k, from one call per answerable question: the mean share of
    its gold documents among the first 1 and the first k ids returned."""
    answerable = [q for q in questions if q.spans]
    shares: dict[int, float] = {1: 0.0, k: 0.0}
    for question in answerable:
        found = report.call(retrieve, question.text, k)
        ranked = list(found) if isinstance(found, list | tuple) else []
        for depth in shares:
            top = set(ranked[:depth])
            shares[depth] += sum(span.doc in top for span in question.spans) / len(question.spans) / len(answerable)
    return shares


@register("grounding-retrieve")
def _check(fn: Callable[..., Any], report: Report) -> None:
    # A retriever that indexes the emptied list (a listed mistake) makes numpy warn "Mean of empty slice" from
    # inside bm25s: noise above the report, which names the mistake itself.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(numpy|bm25s)(\.|$)")
        _probe(fn, report)


def _probe(fn: Callable[..., Any], report: Report) -> None:
    papers: list[Paper] = list(reversed(load_corpus().papers))
    known = {paper.id for paper in papers}
    retrieve: Any = None

    with report.case("make_retriever(the 300 papers, in reverse id order) returns a function"):
        retrieve = report.call(fn, list(papers))
        report.expect(callable(retrieve), f"make_retriever returned {type(retrieve).__name__}, not a function")

    question = next(q for q in load_questions("heldout") if q.spans).text
    with report.case("retrieve(question, k) returns k paper ids, no two alike (k = 1, 3, 7)"):
        report.expect(callable(retrieve), "not run: make_retriever returned no function")
        for k in (1, 3, 7):
            found = report.call(retrieve, question, k)
            report.expect(isinstance(found, list | tuple), f"k={k}: returned {type(found).__name__}, not a list")
            report.expect(all(isinstance(doc, str) for doc in found),
                          f"k={k}: returned {_shown(found)}, not ids such as 'doc-0042'", hint=hints.POSITIONS)
            report.expect(len(found) == k, f"k={k}: returned {plural(len(found), 'id')}", hint=hints.K)
            report.expect(set(found) <= known and len(set(found)) == k, f"k={k}: returned {_shown(found)}")

    named = {}  # paper id -> whether its method's name alone ranks it first
    with report.case("a method's name alone finds its paper first"):
        report.expect(callable(retrieve), "not run: make_retriever returned no function")
        for position in _PROBED:
            paper = papers[position]
            top = _top(report, retrieve, paper.facts.method.lower())
            named[paper.id] = top == paper.id
            by_position = {f"doc-{position + shift:04d}" for shift in (0, 1)}
            report.expect(top not in by_position, f"{paper.facts.method.lower()!r}: returned {top}, the id of its "
                          f"position ({position}) in the list, for {paper.id}", hint=hints.POSITION_NAMES)
            report.expect(top == paper.id, f"{paper.facts.method.lower()!r}: ranked {top} first, not {paper.id}")

    with report.case("a method's name as a person writes it (capitals, a question mark) finds its paper first"):
        for position in _PROBED:
            paper = papers[position]
            report.expect(named.get(paper.id, False), f"not run: the method's name alone does not find {paper.id}")
            for asked in (paper.facts.method, f"{paper.facts.method}?"):
                top = _top(report, retrieve, asked)
                report.expect(top == paper.id, f"{asked!r}: ranked {top} first, not {paper.id}", hint=hints.TOKENISE)

    with report.case("the abstract, its method's name taken out, finds its paper first"):
        for position in _PROBED:
            paper = papers[position]
            report.expect(named.get(paper.id, False), f"not run: the method's name alone does not find {paper.id}")
            top = _top(report, retrieve, paper.abstract.replace(paper.facts.method, "it"))
            report.expect(top == paper.id, f"ranked {top} first, not {paper.id}", hint=hints.ABSTRACT)

    with report.case(f"{plural(_FEW, 'paper')}, k = 10: all of them, ranked"):
        few = report.call(fn, papers[:_FEW])
        report.expect(callable(few), f"make_retriever returned {type(few).__name__}, not a function")
        found, err = report.outcome(few, question, 10)
        report.expect(err is None, f"raised {type(err).__name__}: {err}", hint=hints.BEYOND)
        ids = {paper.id for paper in papers[:_FEW]}
        report.expect(isinstance(found, list | tuple) and set(found) == ids and len(found) == _FEW,
                      f"returned {_shown(found)}; the collection is {_shown(sorted(ids))}")

    with report.case("the index is built in make_retriever: emptying the list of papers afterwards changes nothing"):
        shelf = papers[:50]
        kept, twin = report.call(fn, shelf), report.call(fn, list(shelf))
        report.expect(callable(kept) and callable(twin),
                      f"make_retriever returned {type(kept).__name__}, not a function")
        shelf.clear()  # before the first call: an index built lazily, on that call, would see an empty list
        after, err = report.outcome(kept, question, 5)
        want = report.call(twin, question, 5)
        report.expect(err is None and after == want,
                      f"after the list was emptied, retrieve {'raised ' + type(err).__name__ if err else 'returned'} "
                      f"{'' if err else _shown(after)} (over a copy of the list: {_shown(want)})", hint=hints.ONCE)

    built_once = report.cases[-1].passed
    with report.case("ids come best first: retrieve(question, 5) starts with the id retrieve(question, 1) returns"):
        report.expect(callable(retrieve), "not run: make_retriever returned no function")
        report.expect(built_once, "not run: retrieve rebuilds its index on every call", hint=hints.ONCE)
        probes = [papers[position].facts.method.lower() for position in _PROBED]
        probes += [q.text for q in load_questions("heldout") if q.spans][:_ORDERED]
        for text in probes:
            first, five = _top(report, retrieve, text), report.call(retrieve, text, 5)
            report.expect(isinstance(five, list | tuple) and list(five[:1]) == [first],
                          f"{text[:60]!r}: retrieve(question, 1) returned {first}, retrieve(question, 5) returned "
                          f"{_shown(five)}", hint=hints.ORDER)

    probes_passed = all(case.passed for case in report.cases)
    with report.case(f"held-out questions: recall@5 at least {hints.RECALL_BAR}") as notes:
        report.expect(callable(retrieve), "not run: make_retriever returned no function")
        report.expect(built_once, "not run: retrieve rebuilds its index on every call", hint=hints.ONCE)
        heldout = load_questions("heldout")
        recall = _recall(report, retrieve, heldout, 5)
        notes.detail = (f"recall@1 {recall[1]:.2f}, recall@5 {recall[5]:.2f} on "
                        f"{plural(sum(bool(q.spans) for q in heldout), 'answerable question')}")
        report.expect(recall[5] >= hints.RECALL_BAR, f"recall@5 is {recall[5]:.2f}",
                      hint=hints.RANKING if probes_passed else None)


mistakes(
    "grounding-retrieve",
    Mistake("retrieves a fixed number of papers",
            changes=(("k=min(k, len(ids))", "k=min(5, len(ids))"),),
            hint=hints.K),
    Mistake("asks bm25s for more papers than it indexed",
            changes=(("k=min(k, len(ids))", "k=k"),),
            hint=hints.BEYOND),
    Mistake("returns positions, not ids",
            changes=(("return [ids[i] for i in found[0]]", "return [int(i) for i in found[0]]"),),
            hint=hints.POSITIONS),
    Mistake("names a paper by its position",
            changes=(("return [ids[i] for i in found[0]]", "return [f\"doc-{i + 1:04d}\" for i in found[0]]"),),
            hint=hints.POSITION_NAMES),
    Mistake("splits the question on spaces",
            changes=(("query = bm25s.tokenize([question], stopwords=\"en\", show_progress=False)",
                      "query = [question.split()]"),),
            hint=hints.TOKENISE),
    Mistake("indexes the titles only",
            changes=(("texts = [f\"{paper.title}. {paper.abstract}\" for paper in papers]",
                      "texts = [paper.title for paper in papers]"),),
            hint=hints.ABSTRACT),
    Mistake("builds the index on every call",
            changes=(("    index = bm25s.BM25()\n    texts", "    texts"),
                     ("    index.index(bm25s.tokenize(texts, stopwords=\"en\", show_progress=False), "
                      "show_progress=False)\n", ""),
                     ("        query = bm25s.tokenize(",
                      "        ids = [paper.id for paper in papers]\n"
                      "        texts = [f\"{paper.title}. {paper.abstract}\" for paper in papers]\n"
                      "        index = bm25s.BM25()\n"
                      "        index.index(bm25s.tokenize(texts, stopwords=\"en\", show_progress=False), "
                      "show_progress=False)\n"
                      "        query = bm25s.tokenize(")),
            hint=hints.ONCE),
    Mistake("sorts the ids it returns",
            changes=(("return [ids[i] for i in found[0]]", "return sorted(ids[i] for i in found[0])"),),
            hint=hints.ORDER),
    Mistake("returns the ranking reversed",
            changes=(("return [ids[i] for i in found[0]]", "return [ids[i] for i in found[0]][::-1]"),),
            hint=hints.ORDER),
    Mistake("builds the index on the first call",
            changes=(("    ids = [paper.id for paper in papers]\n    index = bm25s.BM25()\n    texts",
                      "    built = []\n    texts"),
                     ("    index.index(bm25s.tokenize(texts, stopwords=\"en\", show_progress=False), "
                      "show_progress=False)\n", ""),
                     ("        query = bm25s.tokenize(",
                      "        if not built:\n"
                      "            built.append([paper.id for paper in papers])\n"
                      "            built.append(bm25s.BM25())\n"
                      "            built[1].index(bm25s.tokenize([f\"{p.title}. {p.abstract}\" for p in papers], "
                      "stopwords=\"en\", show_progress=False), show_progress=False)\n"
                      "        ids, index = built\n"
                      "        query = bm25s.tokenize(")),
            hint=hints.ONCE),
    Mistake("ranks by the number of shared words",
            changes=(("        query = bm25s.tokenize([question], stopwords=\"en\", show_progress=False)\n"
                      "        found, _ = index.retrieve(query, k=min(k, len(ids)), show_progress=False)\n",
                      "        asked = set(re.findall(r\"\\w+\", question.lower()))\n"
                      "        shared = [len(asked & set(re.findall(r\"\\w+\", text.lower()))) for text in texts]\n"
                      "        found = [sorted(range(len(ids)), key=lambda i: -shared[i])[:k]]\n"),),
            hint=hints.RANKING),
)
