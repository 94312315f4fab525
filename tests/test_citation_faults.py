"""The citation faults of the "citations" scenario, through the real SDKs: each label is true exactly when its
fault is in the reply, checked from the reply and the sources sent alone; each kind draws from its own stream;
rates follow the model and the prompt; Anthropic citation blocks are never touched; rigid claims lose to prose.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections import Counter
from typing import Any

from faultfirst import SCENARIOS, World, load_corpus, load_questions
from faultfirst.faults.labels import parse_label
from faultfirst.model.corpus import Question
from tests.corpus_requests import (
    CLAIMS_SCHEMA,
    abstract,
    anthropic_turn,
    openai_turn,
    quotes,
    text_document,
)

CORPUS = load_corpus()
ANSWERABLE = [q for q in load_questions() if q.answerable]
KINDS = ("invented_quote", "paraphrase_as_quote", "reversed_quote", "wrong_document", "unprovided_document",
         "offset_error")
RIGID: Any = {"type": "json_schema", "json_schema": {"name": "cited", "schema": CLAIMS_SCHEMA, "strict": True}}


@dataclasses.dataclass(frozen=True)
class Cited:
    """One quote as the reply gives it, what the unspoiled reply quotes there, and the sources sent."""

    text: str
    doc: str
    offsets: tuple[int, int] | None
    gold: tuple[str, str]
    sources: dict[str, str]


def _sent(question: Question) -> list[str]:
    """Two neighbours from the first gold paper's sub-topic, then the gold papers."""
    first = CORPUS.paper(question.spans[0].doc)
    gold = [s.doc for s in question.spans]
    return [p.id for p in CORPUS.papers if p.topics == first.topics and p.id not in gold][:2] + gold


def _gold(question: Question) -> list[tuple[str, str]]:
    return [(abstract(s.doc)[s.start:s.end], s.doc) for s in question.spans]


def diagnose(quote: Cited) -> str | None:
    """Which citation fault a quote shows, judged from the reply and the sources sent alone (None: a clean one)."""
    sources, (gold_text, gold_doc) = quote.sources, quote.gold
    if quote.doc not in sources:
        return "unprovided_document"
    if quote.text == gold_text and quote.doc != gold_doc:
        assert quote.text not in sources[quote.doc]
        return "wrong_document"
    if not any(quote.text in text for text in sources.values()):
        similar = difflib.SequenceMatcher(None, quote.text, gold_text).ratio()
        return "paraphrase_as_quote" if similar > 0.7 else "invented_quote"
    if quote.text != gold_text:
        assert quote.text in gold_text and quote.text in sources[quote.doc]
        dropped = gold_text.replace(quote.text, " ")
        assert "only" in dropped.split() or "but" in dropped.split()  # the words that turned the sentence
        return "reversed_quote"
    if quote.offsets is not None and sources[quote.doc][slice(*quote.offsets)] != quote.text:
        return "offset_error"
    return None


@dataclasses.dataclass(frozen=True)
class Asked:
    """A reply: its answer (the prose, or a rigid reply's `answer`) and its quotes."""

    answer: str
    quotes: list[Cited]


def _ask(world: World, question: Question, *, model: str = "gpt-fast", rigid: bool = False,
         instruction: str = "Answer from the sources and quote them.") -> Asked:
    """Ask `question` with its gold papers among neighbours; the reply, each quote with its unspoiled twin."""
    sent = _sent(question)
    sources = {doc: abstract(doc) for doc in sent}
    gold = _gold(question)
    if model.startswith("claude"):
        message = world.anthropic().messages.create(
            model=model, max_tokens=800, system=instruction,
            messages=anthropic_turn(question.text, [text_document(d, citations=False) for d in sent]))
        text = "".join(b.text for b in message.content if b.type == "text")
        return Asked(text, [Cited(t, d, None, g, sources) for (t, d), g in zip(quotes(text), gold, strict=True)])
    reply = world.openai().chat.completions.create(model=model, messages=openai_turn(question.text, sent,
                                                                                     instruction=instruction),
                                                   **({"response_format": RIGID} if rigid else {}))
    content = reply.choices[0].message.content or ""
    if not rigid:
        return Asked(content, [Cited(t, d, None, g, sources) for (t, d), g in zip(quotes(content), gold, strict=True)])
    data = json.loads(content)
    return Asked(data["answer"], [Cited(c["quote"], c["doc"], (c["start"], c["end"]), gold[0], sources)
                                  for c in data["claims"]])


def _labels(world: World) -> dict[int, str]:
    """The last record's citation labels: quote place (0-based) -> kind."""
    parsed = [parse_label(label) for label in world.requests[-1].faults]
    return {int(p.field) - 1: p.name for p in parsed if p.name in KINDS and p.field is not None}


def _mix(n: int) -> list[Question]:
    """`n` answerable questions, cycling through them in order (every kind of question, contradictions too)."""
    return [ANSWERABLE[i % len(ANSWERABLE)] for i in range(n)]


def test_each_label_is_true_exactly_when_its_fault_is_in_the_reply():
    seen: Counter[str] = Counter()
    for model, rigid in (("gpt-fast", False), ("claude-fast", False), ("gpt-fast", True)):
        world = World(seed=21, scenario="citations")
        for question in _mix(len(ANSWERABLE)):
            cited = _ask(world, question, model=model, rigid=rigid).quotes
            labels = _labels(world)
            assert set(labels) <= set(range(len(cited)))
            for place, quote in enumerate(cited):
                assert diagnose(quote) == labels.get(place), (question.id, quote, world.requests[-1].faults)
            seen.update(labels.values())
    assert set(seen) == set(KINDS), seen


def test_anthropic_citation_blocks_are_never_spoiled():
    world = World(seed=21, scenario="citations")
    for question in _mix(60):
        sent = _sent(question)
        message = world.anthropic().messages.create(
            model="claude-fast", max_tokens=800, system="Quote the sources.",
            messages=anthropic_turn(question.text, [text_document(d) for d in sent]))
        assert world.requests[-1].faults == ()
        for block in message.content:
            for citation in (block.citations or []) if block.type == "text" else []:
                assert citation.type == "char_location"
                doc = sent[citation.document_index]
                assert abstract(doc)[citation.start_char_index:citation.end_char_index] == citation.cited_text


def _run(scenario: Any, n: int = 90, **kw: Any) -> list[tuple[str, ...]]:
    world = World(seed=5, scenario=scenario)
    for question in _mix(n):
        _ask(world, question, **kw)
    return [r.faults for r in world.requests]


def test_each_kind_draws_from_its_own_stream_so_removing_one_moves_no_other():
    everything = _run("citations", rigid=True) + _run("citations")
    for kind in ("invented_quote", "wrong_document"):
        rates = {**SCENARIOS["citations"].rates, kind: 0.0}
        without = _run(dataclasses.replace(SCENARIOS["citations"], rates=rates), rigid=True) + _run(
            dataclasses.replace(SCENARIOS["citations"], rates=rates))
        assert not any(kind in label for labels in without for label in labels)
        for full, less in zip(everything, without, strict=True):
            if not any(label.startswith(kind) for label in full):
                assert full == less  # the kind did not strike: every other kind did exactly the same
            else:  # it took a quote: the others keep theirs, and one that wanted the same quote gets it back
                assert set(full) - {label for label in full if label.startswith(kind)} <= set(less)


def test_rates_depend_on_the_model_and_an_instruction_to_copy_word_for_word():
    def count(**kw: Any) -> Counter[str]:
        return Counter(parse_label(label).name for labels in _run("citations", n=240, **kw) for label in labels)

    fast, strong = count(), count(model="gpt-strong")
    verbatim = count(instruction="Answer from the sources, quoting them word for word.")
    assert sum(fast.values()) > 1.8 * sum(strong.values())
    for kind in ("invented_quote", "paraphrase_as_quote"):
        assert verbatim[kind] < 0.6 * fast[kind], (kind, fast, verbatim)
    assert abs(verbatim["unprovided_document"] - fast["unprovided_document"]) <= 8  # attribution: not helped


def _round_robin(split: Any) -> list[Question]:
    """The answerable questions of `split`, taking single, multi and contradiction questions in turn."""
    by_kind = [[q for q in load_questions(split) if q.kind == kind] for kind in ("single", "multi", "contradiction")]
    return [group[i % len(group)] for i in range(max(map(len, by_kind))) for group in by_kind]


def test_calm_injects_no_citation_fault_and_the_citations_scenario_shows_each_kind_in_sixty_calls():
    """Forty prose replies and twenty rigid ones over the lesson questions, the kinds of question in turn: every
    kind of fault shows (reversed_quote on the replications' "only" sentences, offset_error on the rigid ones)."""
    assert not any(labels for labels in _run("calm", n=60)) and not any(labels for labels in _run("calm", n=60,
                                                                                                   rigid=True))
    mix = _round_robin("lesson")
    for seed in range(5):
        world = World(seed=seed, scenario="citations")
        for number in range(60):
            _ask(world, mix[number % len(mix)], rigid=number >= 40)
        kinds = {parse_label(label).name for r in world.requests for label in r.faults}
        assert kinds == set(KINDS), (seed, kinds)


def test_prose_beats_rigid_claims_on_answers_and_on_verified_citations():
    """The simulator's assumption, shown as a rate table: rigid claims keep the first claim of two (answers
    suffer on two-paper questions) and carry offsets, which are often wrong; the other faults strike both."""
    table = {}
    for rigid in (False, True):
        world = World(seed=8, scenario="citations")
        right = verified = claims = 0
        for question in ANSWERABLE:
            asked = _ask(world, question, rigid=rigid)
            right += " ".join((question.answer or "").split()).casefold() in asked.answer.casefold()
            claims += len(question.spans)  # every claim the answer needs
            verified += sum(diagnose(quote) is None for quote in asked.quotes)
        table["rigid" if rigid else "prose"] = (right / len(ANSWERABLE), verified / claims)
    assert table["prose"][0] > table["rigid"][0] + 0.1 and table["prose"][1] > table["rigid"][1] + 0.1, table


def test_the_same_seed_replays_the_same_misquotes():
    def run() -> list[tuple[Asked, tuple[str, ...]]]:
        world = World(seed=13, scenario="citations")
        return [(_ask(world, q, rigid=i % 2 == 0), world.requests[-1].faults) for i, q in enumerate(_mix(40))]

    assert run() == run()


def test_a_citation_label_parses_into_its_kind_and_quote_number():
    assert parse_label("wrong_document@2") == ("wrong_document", None, "2")
    assert parse_label("wrong_meaning:total_mismatch@total") == ("wrong_meaning", "total_mismatch", "total")
    assert parse_label("overload") == ("overload", None, None)
