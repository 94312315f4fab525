"""`python -m faultfirst.maintain.write_corpus [--check]`

Writes the corpus of Tiers 4-6 (`faultfirst/corpus/papers.json` and `questions.json`) from the
vocabulary in `corpus_vocabulary.py`, with one seeded random stream: the same code always writes the same
bytes, and `--check` fails (exit 1) when the committed files differ from what it would write, so the
files can never drift from the generator that documents how they were made. Every offset is computed
here from the assembled text, never typed; docs/corpus.md describes the result.

An abstract is a sequence of sentences (context, gap, method, data, result, a secondary result, a
closing); the generator records where each sentence starts and ends, and the gold spans of questions and
contradictions are those sentences. Half of the sub-topics hold one replication paper that re-measures an
earlier paper's method on the same dataset and reports a different or opposite result: the planted
contradictions.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..model.corpus import PAPERS_FILE, QUESTIONS_FILE
from . import corpus_vocabulary as vocab

SEED = "faultfirst-corpus-v1"
PAPERS_PER_SUBTOPIC = 10
CONTRADICTIONS = 15
LESSON_SHARE = 0.7
QUESTION_COUNTS = {"single": 62, "multi": 24, "unanswerable": 20}  # plus one per contradiction
ABSENT_ATTRIBUTES = (  # questions about real methods that no abstract can answer, and the word each needs
    ("How much energy does {method} use per request?", "energy"),
    ("What carbon emissions did the experiments with {method} produce?", "carbon"),
    ("Under which licence is {method} released?", "licence"),
    ("Which funding agency supported the work on {method}?", "funding"),
    ("How many lines of code does the implementation of {method} have?", "lines of code"),
)


@dataclass
class Draft:
    """A paper being written: its sentences by role, its facts, and (once numbered) its id."""

    subtopic: vocab.Subtopic
    method: str
    dataset: vocab.Dataset
    baseline: str
    value: float
    value_text: str
    baseline_value: str | None
    finding: str
    title: str
    authors: tuple[str, ...]
    year: int
    venue: str
    sentences: list[tuple[str, str]]  # (role, sentence); the roles questions point at: method, data, result
    replicates: Draft | None = None
    id: str = ""
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    abstract: str = ""

    def assemble(self) -> None:
        parts: list[str] = []
        position = 0
        for role, sentence in self.sentences:
            if not sentence:
                continue
            if parts:
                position += 1
            self.spans[role] = (position, position + len(sentence))
            parts.append(sentence)
            position += len(sentence)
        self.abstract = " ".join(parts)

    def span(self, role: str) -> dict[str, object]:
        start, end = self.spans[role]
        return {"doc": self.id, "start": start, "end": end}

    def sentence(self, role: str) -> str:
        start, end = self.spans[role]
        return self.abstract[start:end]


def _format(value: float, metric: vocab.Metric) -> str:
    if metric.kind == "speedup":
        return f"{value:.1f}x"
    if metric.unit == "%":
        return f"{value:.{metric.decimals}f}%"
    return f"{value / 100:.{metric.decimals}f}"


def _finding(verb: str, metric: vocab.Metric, value_text: str, *, only: bool = False) -> str:
    """The clause that states a result: "reduces p99 latency by 31.4%", "an AUROC of 0.87"."""
    modest = "only " if only else ""
    if metric.kind == "absolute":
        return f"{metric.phrase} of {value_text}"
    if metric.kind == "speedup":
        return f"{verb} {modest}{value_text} higher {metric.name}"
    return f"{verb} {metric.name} by {modest}{value_text}"


class Writer:
    """Draws every choice from one seeded stream, in one fixed order."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.methods: set[str] = set()

    def authors(self) -> tuple[str, ...]:
        count = self.rng.randint(2, 5)
        return tuple(f"{self.rng.choice(vocab.FIRST_NAMES)} {self.rng.choice(vocab.SURNAMES)}" for _ in range(count))

    def venue(self, subtopic: vocab.Subtopic) -> str:
        return self.rng.choice(vocab.VENUES[subtopic.topic] + vocab.GENERAL_VENUES[:1])

    def method_name(self, subtopic: vocab.Subtopic) -> str:
        while True:
            name = self.rng.choice(subtopic.stems) + self.rng.choice(vocab.SUFFIXES)
            if name not in self.methods:
                self.methods.add(name)
                return name

    def value(self, metric: vocab.Metric, taken: set[str]) -> tuple[float, str]:
        """A headline number no other paper of the sub-topic reports, so a number names one paper."""
        while True:
            value = round(self.rng.uniform(metric.low, metric.high), 1 if metric.decimals < 3 else 2)
            text = _format(value, metric)
            if text not in taken:
                taken.add(text)
                return value, text

    def original(self, subtopic: vocab.Subtopic, taken: set[str]) -> Draft:
        rng, metric = self.rng, subtopic.metric
        method, dataset, baseline = self.method_name(subtopic), rng.choice(subtopic.datasets), rng.choice(
            subtopic.baselines)
        value, value_text = self.value(metric, taken)
        baseline_value = None
        if metric.kind == "absolute":
            gap = rng.uniform(2, 14)
            baseline_value = _format(value - gap if metric.better == "higher" else value + gap, metric)
        verb = rng.choice(vocab.VERBS.get(metric.kind, ("",)))
        finding = _finding(verb, metric, value_text)
        words = {"method": method, "dataset": dataset.name, "baseline": baseline, "finding": finding,
                 "baseline_value": baseline_value, "size": f"{dataset.size:,} {dataset.unit}", "origin": dataset.origin}
        results = vocab.ABSOLUTE_RESULTS if metric.kind == "absolute" else vocab.RELATIVE_RESULTS
        phrase = rng.choice(subtopic.titles)
        title = rng.choice(vocab.TITLE_FORMS).format(method=method, phrase=phrase, phrase_lower=phrase.lower())
        contexts = rng.sample(subtopic.contexts, 2)
        sentences = [
            ("context", contexts[0]),
            ("context2", contexts[1]),
            ("gap", rng.choice(subtopic.gaps)),
            ("method", rng.choice(vocab.METHOD_SENTENCES).format(
                method=method, kind=rng.choice(subtopic.kinds), mechanism=rng.choice(subtopic.mechanisms))),
            ("design", rng.choice(vocab.DESIGNS).format(method=method)),
            ("data", rng.choice(vocab.DATA_SENTENCES).format(**words)),
            ("result", rng.choice(results).format(**words)),
            ("extra", rng.choice(subtopic.extras).format(n=rng.randint(2, 19))),
            ("closing", rng.choice(vocab.CLOSINGS)),
        ]
        return Draft(subtopic, method, dataset, baseline, value, value_text, baseline_value, finding, title,
                     self.authors(), rng.randint(2016, 2023), self.venue(subtopic), sentences)

    def replication(self, original: Draft, taken: set[str]) -> Draft:
        """A later paper that re-measures `original`'s method on its dataset and finds something else."""
        rng, subtopic, metric = self.rng, original.subtopic, original.subtopic.metric
        if metric.kind == "absolute":
            assert original.baseline_value is not None
            baseline = float(original.baseline_value.rstrip("%")) * (1 if metric.unit == "%" else 100)
            worse = rng.uniform(2, 9)
            low = baseline - worse if metric.better == "higher" else baseline + worse
            verb, modest = "", False
            value, value_text = self.value(vocab.Metric(metric.name, metric.kind, "", low - 1, low + 1,
                                                        unit=metric.unit, decimals=metric.decimals), taken)
        elif metric.kind == "speedup":
            verb, modest = rng.choice(vocab.VERBS["speedup"]), True
            value, value_text = self.value(vocab.Metric(metric.name, "speedup", "", 1.05, 1.24), taken)
        else:
            opposite = rng.random() < 0.5
            verb = vocab.OPPOSITE_VERBS[metric.kind] if opposite else vocab.VERBS[metric.kind][0]
            modest = not opposite
            value, value_text = self.value(vocab.Metric(metric.name, metric.kind, "", 1, 9), taken)
        finding = _finding(verb, metric, value_text, only=modest)
        dataset = original.dataset
        words = {"method": original.method, "dataset": dataset.name, "baseline": original.baseline,
                 "finding": finding, "baseline_value": original.baseline_value, "metric": metric.name,
                 "size": f"{dataset.size:,} {dataset.unit}", "origin": dataset.origin,
                 "verb": {"reduce": "reduce", "increase": "improve"}.get(metric.kind, "raise")}
        results = vocab.REPLICATION_ABSOLUTE if metric.kind == "absolute" else vocab.REPLICATION_RESULTS
        phrase = rng.choice(subtopic.titles)
        contexts = rng.sample(subtopic.contexts, 2)
        sentences = [
            ("context", contexts[0]),
            ("context2", contexts[1]),
            ("gap", rng.choice(subtopic.gaps)),
            ("opening", rng.choice(vocab.REPLICATION_OPENINGS).format(**words)),
            ("data", rng.choice(vocab.REPLICATION_METHODS).format(**words)),
            ("result", rng.choice(results).format(**words)),
            ("reason", rng.choice(vocab.REPLICATION_REASONS)),
            ("closing", rng.choice(vocab.CLOSINGS)),
        ]
        title = rng.choice(vocab.REPLICATION_TITLES).format(method=original.method, phrase=phrase)
        return Draft(subtopic, original.method, dataset, original.baseline, value, value_text,
                     original.baseline_value, finding, title, self.authors(),
                     min(original.year + rng.randint(1, 3), 2025), self.venue(subtopic), sentences,
                     replicates=original)

    def papers(self) -> list[Draft]:
        contradicting = set(self.rng.sample(range(len(vocab.SUBTOPICS)), CONTRADICTIONS))
        drafts: list[Draft] = []
        for index, subtopic in enumerate(vocab.SUBTOPICS):
            taken: set[str] = set()
            group = [self.original(subtopic, taken) for _ in range(PAPERS_PER_SUBTOPIC - (index in contradicting))]
            if index in contradicting:  # the replication contradicts the sub-topic's strongest result
                strongest = (min if subtopic.metric.better == "lower" and subtopic.metric.kind == "absolute" else max)(
                    group, key=lambda draft: draft.value)
                group.append(self.replication(strongest, taken))
            drafts.extend(group)
        self.rng.shuffle(drafts)  # ids say nothing about topics
        for number, draft in enumerate(drafts, start=1):
            draft.id = f"doc-{number:04d}"
            draft.assemble()
        return drafts


def _paper_json(draft: Draft) -> dict[str, object]:
    facts = {"method": draft.method, "baseline": draft.baseline, "dataset": draft.dataset.name,
             "dataset_size": draft.dataset.size, "dataset_unit": draft.dataset.unit,
             "metric": draft.subtopic.metric.name, "value": draft.value_text, "baseline_value": draft.baseline_value}
    return {"id": draft.id, "title": draft.title, "authors": list(draft.authors), "year": draft.year,
            "venue": draft.venue, "topics": [draft.subtopic.topic, *draft.subtopic.tags],
            "abstract": draft.abstract, "facts": facts}


def _question(kind: str, text: str, answer: str | None, keys: Sequence[str], spans: Sequence[dict[str, object]],
              missing: str | None = None, contradiction: str | None = None) -> dict[str, object]:
    return {"kind": kind, "text": text, "answer": answer, "keys": list(keys), "spans": list(spans),
            "missing": missing, "contradiction": contradiction}


class QuestionWriter:
    """Asks about the papers; each question's spans are the sentences that hold its keys."""

    def __init__(self, rng: random.Random, drafts: list[Draft]) -> None:
        self.rng = rng
        self.drafts = drafts
        self.replicated = {draft.replicates.id for draft in drafts if draft.replicates is not None}
        # Methods named by exactly one paper: a question naming one has a single right document.
        self.plain = [draft for draft in drafts if draft.replicates is None and draft.id not in self.replicated]

    def single(self, draft: Draft, form: str) -> dict[str, object]:
        metric, method = draft.subtopic.metric, draft.method
        if form == "dataset":
            text = self.rng.choice(("Which dataset was {method} evaluated on?",
                                    "On what data did the authors of {method} run their experiments?",
                                    "What benchmark or trace is used to evaluate {method}?"))
            return _question("single", text.format(method=method), draft.dataset.name, [draft.dataset.name],
                             [draft.span("data")])
        if form == "baseline":
            text = self.rng.choice(("What baseline is {method} compared against?",
                                    "Against which existing approach do the authors measure {method}?"))
            return _question("single", text.format(method=method), draft.baseline, [draft.baseline],
                             [draft.span("result")])
        if form == "size":
            text = self.rng.choice(("How many {unit} does the dataset used to evaluate {method} contain?",
                                    "How large is the evaluation set of {method}, in {unit}?"))
            size = f"{draft.dataset.size:,}"
            return _question("single", text.format(method=method, unit=draft.dataset.unit), size, [size],
                             [draft.span("data")])
        if form == "describe":
            verb = "achieves " if metric.kind == "absolute" else ""
            text = f"Which method {verb}{draft.finding} on {draft.dataset.name}?"
            return _question("single", text, method, [method], [draft.span("result")])
        questions = {"reduce": ("By how much does {method} reduce {alias}?",
                                "What reduction in {metric} does {method} report?"),
                     "increase": ("By how much does {method} improve {alias}?",
                                  "What gain in {metric} does {method} report?"),
                     "speedup": ("What speedup in {alias} does {method} report over its baseline?",
                                 "How many times higher is the {metric} of {method} than its baseline's?"),
                     "absolute": ("What {metric} does {method} achieve on {dataset}?",
                                  "What {alias} is reported for {method}?")}[metric.kind]
        text = self.rng.choice(questions).format(method=method, alias=metric.alias, metric=metric.name,
                                                 dataset=draft.dataset.name)
        return _question("single", text, draft.value_text, [draft.value_text], [draft.span("result")])

    def compare(self, first: Draft, second: Draft) -> dict[str, object]:
        metric = first.subtopic.metric
        lower_wins = metric.kind == "reduce" or metric.better == "lower"
        if metric.kind == "absolute":
            wording = f"the {'lower' if lower_wins else 'higher'} {metric.name}"
            winner = min if lower_wins else max
        else:
            wording = {"reduce": "the larger reduction in", "increase": "the larger improvement in",
                       "speedup": "the larger speedup in"}[metric.kind] + f" {metric.name}"
            winner = max
        best = winner((first, second), key=lambda draft: draft.value)
        text = f"Of {first.method} and {second.method}, which reports {wording}?"
        return _question("multi", text, best.method, [first.method, first.value_text, second.method,
                                                      second.value_text], [first.span("result"), second.span("result")])

    def datasets(self, first: Draft, second: Draft) -> dict[str, object]:
        text = self.rng.choice(("Which datasets were {first} and {second} evaluated on?",
                                "On what data were {first} and {second} each evaluated?"))
        answer = f"{first.dataset.name} and {second.dataset.name}"
        return _question("multi", text.format(first=first.method, second=second.method), answer,
                         [first.dataset.name, second.dataset.name], [first.span("data"), second.span("data")])

    def contradiction(self, number: str, draft: Draft) -> dict[str, object]:
        original = draft.replicates
        assert original is not None
        metric = draft.subtopic.metric
        text = self.rng.choice(("What effect does {method} have on {metric} on {dataset}, compared with {baseline}?",
                                "How does {method} change {metric} relative to {baseline} on {dataset}?"))
        answer = (f"the sources disagree: {original.id} reports that it {original.finding}, "
                  f"{draft.id} that it {draft.finding}")
        if metric.kind == "absolute":
            answer = (f"the sources disagree: {original.id} reports {original.finding}, {draft.id} "
                      f"{draft.finding}")
        return _question("contradiction", text.format(method=draft.method, metric=metric.name,
                                                      dataset=draft.dataset.name, baseline=draft.baseline),
                         answer, [original.finding, draft.finding], [original.span("result"), draft.span("result")],
                         contradiction=number)

    def fake_method(self, draft: Draft, corpus_text: str) -> dict[str, object]:
        while True:
            name = self.rng.choice(draft.subtopic.stems) + self.rng.choice(vocab.SUFFIXES)
            if name.lower() not in corpus_text:
                break
        text = f"What {draft.subtopic.metric.name} does {name} report on {draft.dataset.name}?"
        return _question("unanswerable", text, None, [], [], missing=name)

    def questions(self, contradictions: list[tuple[str, Draft]]) -> list[dict[str, object]]:
        rng = self.rng
        corpus_text = " ".join(draft.abstract for draft in self.drafts).lower()
        picked = rng.sample(self.plain, QUESTION_COUNTS["single"] + 2 * QUESTION_COUNTS["multi"]
                            + QUESTION_COUNTS["unanswerable"])
        singles, rest = picked[:QUESTION_COUNTS["single"]], picked[QUESTION_COUNTS["single"]:]
        forms = ("dataset", "baseline", "value", "size", "describe")
        questions = [self.single(draft, forms[index % len(forms)]) for index, draft in enumerate(singles)]
        by_subtopic: dict[str, list[Draft]] = {}
        for draft in self.plain:
            by_subtopic.setdefault(draft.subtopic.key, []).append(draft)
        for index in range(QUESTION_COUNTS["multi"]):
            if index % 2:
                first = rest.pop()
                second = next(draft for draft in rest if draft.dataset.name != first.dataset.name)
                rest.remove(second)
                questions.append(self.datasets(first, second))
            else:
                first, second = rng.sample(by_subtopic[rng.choice(sorted(by_subtopic))], 2)
                questions.append(self.compare(first, second))
        questions.extend(self.contradiction(number, draft) for number, draft in contradictions)
        for index in range(QUESTION_COUNTS["unanswerable"]):
            draft = rest.pop()
            if index % 2:
                questions.append(self.fake_method(draft, corpus_text))
            else:
                text, missing = ABSENT_ATTRIBUTES[index // 2 % len(ABSENT_ATTRIBUTES)]
                assert missing not in corpus_text, missing
                questions.append(_question("unanswerable", text.format(method=draft.method), None, [], [],
                                           missing=missing))
        return self.split(questions)

    def split(self, questions: list[dict[str, object]]) -> list[dict[str, object]]:
        """Seventy per cent of each kind for the lessons, the rest held out; then numbered in a shuffled order."""
        for kind in ("single", "multi", "contradiction", "unanswerable"):
            group = [question for question in questions if question["kind"] == kind]
            self.rng.shuffle(group)
            cut = round(len(group) * LESSON_SHARE)
            for position, question in enumerate(group):
                question["split"] = "lesson" if position < cut else "heldout"
        self.rng.shuffle(questions)
        return [{"id": f"q-{number:03d}", **question} for number, question in enumerate(questions, start=1)]


def _check_methods_name_their_papers(drafts: list[Draft]) -> None:
    """A method's name appears in its own paper and its replication, nowhere else (not even inside a word)."""
    words = {draft.id: set(re.findall(r"\w+", draft.abstract)) for draft in drafts}
    for draft in drafts:
        named = {other.id for other in drafts if draft.method in words[other.id]}
        expected = {other.id for other in drafts if other.method == draft.method}
        if named != expected:
            raise AssertionError(f"{draft.method} is named by {sorted(named)}, expected {sorted(expected)}")


def build() -> tuple[dict[str, object], dict[str, object]]:
    """The two files' contents, as JSON-ready data."""
    writer = Writer()
    drafts = writer.papers()
    _check_methods_name_their_papers(drafts)
    contradictions: list[tuple[str, Draft]] = []
    records: list[dict[str, object]] = []
    for draft in sorted((draft for draft in drafts if draft.replicates is not None), key=lambda draft: draft.id):
        original = draft.replicates
        assert original is not None
        number = f"con-{len(records) + 1:02d}"
        contradictions.append((number, draft))
        records.append({"id": number,
                        "claim": f"the effect of {draft.method} on {draft.subtopic.metric.name} on "
                                 f"{draft.dataset.name}, relative to {draft.baseline}",
                        "spans": [original.span("result"), draft.span("result")],
                        "findings": [original.finding, draft.finding]})
    papers = {"version": 1, "papers": [_paper_json(draft) for draft in sorted(drafts, key=lambda draft: draft.id)],
              "contradictions": records}
    questions = {"version": 1, "questions": QuestionWriter(writer.rng, drafts).questions(contradictions)}
    return papers, questions


def render(data: dict[str, object]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ; write nothing")
    options = parser.parse_args(argv)
    papers, questions = build()
    stale = []
    for path, data in ((PAPERS_FILE, papers), (QUESTIONS_FILE, questions)):
        text = render(data)
        if options.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m faultfirst.maintain.write_corpus", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
