"""Tier 4's simulated model answers corpus questions from the sources it is sent, through the real SDKs.

With the gold documents among its sources it answers correctly and quotes the gold sentences in the citation
mode the request asks for (Anthropic citation blocks, char_location or content_block_location; quotes in
prose; rigid JSON claims with offsets). Without them it answers from memory (wrong, labelled "from_memory")
or says the documents do not say, at a chance that depends on the model. Prompts that ask no corpus
question are not routed here (the notebooks' unchanged outputs show it for Tiers 1-3).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from faultfirst import World, load_corpus, load_questions
from faultfirst.model.citation_profile import MEMORY_CHANCE
from faultfirst.model.corpus import Question
from faultfirst.model.corpus_questions import find_question
from faultfirst.model.recall import recalled_answer
from faultfirst.model.text_tools import normalised_words
from tests.conftest import ask
from tests.corpus_requests import (
    CLAIMS_SCHEMA,
    abstract,
    anthropic_turn,
    content_document,
    openai_turn,
    quotes,
    text_document,
)

CORPUS = load_corpus()
ANSWERABLE = [q for q in load_questions() if q.answerable]
NO_SOURCE = "The documents do not say."


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _gold(question: Question) -> list[str]:
    return [span.doc for span in question.spans]


def _sentences(question: Question) -> list[str]:
    return [abstract(s.doc)[s.start:s.end] for s in question.spans]


def _neighbours(question: Question, n: int = 2) -> list[str]:
    """Papers of the first gold paper's sub-topic that are no gold paper: the distractors retrieval finds."""
    first = CORPUS.paper(question.spans[0].doc)
    gold = set(_gold(question))
    return [p.id for p in CORPUS.papers if p.topics == first.topics and p.id not in gold][:n]


def _ask_openai(world: World, question: Question, docs: list[str], model: str = "gpt-fast", **kw: Any) -> str:
    reply = world.openai().chat.completions.create(model=model, messages=openai_turn(question.text, docs, **kw))
    return reply.choices[0].message.content or ""


def test_every_answerable_question_is_answered_and_quoted_in_prose_with_its_gold_sources():
    world = World(seed=3)
    for question in ANSWERABLE:
        sent = [*_neighbours(question), *_gold(question)]
        text = _ask_openai(world, question, sent)
        assert _norm(question.answer or "") in _norm(text), (question.id, text)
        found = quotes(text)
        assert [q for q, _ in found] == _sentences(question), (question.id, text)
        assert [d for _, d in found] == _gold(question)
        assert all(q in abstract(d) for q, d in found)
        assert world.requests[-1].faults == ()


def test_a_contradiction_with_one_paper_reports_that_papers_finding_and_quotes_it():
    world = World(seed=3)
    for question in (q for q in ANSWERABLE if q.kind == "contradiction"):
        for number, span in enumerate(question.spans):
            text = _ask_openai(world, question, [*_neighbours(question), span.doc])
            assert question.keys[number] in text and "disagree" not in text, text
            assert f"{span.doc} reports " in text and not re.search(r"that it an? ", text), text  # reads as English
            assert quotes(text) == [(_sentences(question)[number], span.doc)]
            assert world.requests[-1].faults == ()


def test_without_its_gold_sources_the_model_answers_from_memory_wrongly_or_says_the_documents_do_not_say():
    world = World(seed=5)
    seen = set()
    for question in load_questions():
        for docs in ([], _neighbours(question) if question.answerable else [CORPUS.papers[0].id]):
            text = _ask_openai(world, question, docs)
            record = world.requests[-1]
            if record.faults == ("from_memory",):
                seen.add("memory")
                answer = f"The answer is {recalled_answer(question)}."
                assert text.startswith(answer)
                if question.answer is not None:  # (a quoted neighbour may hold the gold value by chance)
                    assert _norm(question.answer) not in _norm(answer)
                # it may quote a provided, irrelevant source: real words, which support nothing
                assert all(q in abstract(d) and d in docs for q, d in quotes(text))
            else:
                seen.add("silent")
                assert record.faults == () and text == NO_SOURCE
    assert seen == {"memory", "silent"}


def test_memory_answers_differ_from_gold_for_every_answerable_question():
    for question in ANSWERABLE:
        assert question.answer is not None
        recalled = recalled_answer(question)
        assert recalled != question.answer
        if question.kind != "contradiction":
            assert _norm(question.answer) not in _norm(recalled), (question.id, recalled)
        else:
            assert not any(key in recalled for key in question.keys)


def test_how_often_a_model_answers_from_memory_depends_on_the_model():
    question = ANSWERABLE[0]
    shares = {}
    for model in ("gpt-fast", "gpt-strong", "claude-fast", "claude-strong"):
        world = World(seed=11)
        for _ in range(200):
            if model.startswith("gpt"):
                world.openai().chat.completions.create(model=model, messages=ask(question.text))
            else:
                world.anthropic().messages.create(model=model, max_tokens=200, messages=ask(question.text))
        shares[model] = sum(r.faults == ("from_memory",) for r in world.requests) / 200
    for model, share in shares.items():
        assert abs(share - MEMORY_CHANCE[model]) < 0.1, shares
    assert shares["gpt-fast"] > shares["gpt-strong"] + 0.2 and shares["claude-fast"] > shares["claude-strong"] + 0.2


def test_anthropic_char_location_citations_point_at_the_gold_sentences():
    world = World(seed=2)
    claude = world.anthropic()
    for question in (q for q in ANSWERABLE if q.kind in ("multi", "contradiction")):
        docs = [*_neighbours(question), *_gold(question)]
        message = claude.messages.create(model="claude-fast", max_tokens=600, messages=anthropic_turn(
            question.text, [text_document(d) for d in docs]))
        text = "".join(b.text for b in message.content if b.type == "text")
        assert _norm(question.answer or "") in _norm(text)
        cited = [c for b in message.content if b.type == "text" for c in (b.citations or [])]
        assert [c.type for c in cited] == ["char_location"] * len(question.spans)
        for citation, sentence, doc in zip(cited, _sentences(question), _gold(question), strict=True):
            assert citation.type == "char_location"
            assert citation.cited_text == sentence == abstract(doc)[citation.start_char_index:citation.end_char_index]
            assert citation.document_title == doc and docs[citation.document_index] == doc


def _sentence_chunks(text: str) -> list[str]:
    """An abstract as content blocks, one sentence each (its space kept, so the blocks join to the abstract)."""
    parts = text.split(". ")
    return [p + ". " for p in parts[:-1]] + [parts[-1]]


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_content_sources_are_cited_by_content_block_location(stream):
    world = World(seed=2)
    claude = world.anthropic()
    question = next(q for q in ANSWERABLE if q.kind == "multi")
    chunks = {d: _sentence_chunks(abstract(d)) for d in _gold(question)}
    kwargs: Any = {"model": "claude-strong", "max_tokens": 600, "messages": anthropic_turn(
        question.text, [content_document(d, chunks[d]) for d in _gold(question)])}
    if stream:
        with claude.messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = claude.messages.create(**kwargs)
    cited = [c for b in message.content if b.type == "text" for c in (b.citations or [])]
    assert len(cited) == 2
    for citation, sentence, doc in zip(cited, _sentences(question), _gold(question), strict=True):
        assert citation.type == "content_block_location"
        assert citation.end_block_index == citation.start_block_index + 1  # one sentence, one block
        blocks = chunks[doc][citation.start_block_index:citation.end_block_index]
        assert citation.cited_text == "".join(blocks) and sentence in citation.cited_text


def test_anthropic_documents_without_citations_titled_with_ids_get_quotes_in_prose():
    world = World(seed=2)
    question = next(q for q in ANSWERABLE if q.kind == "single")
    message = world.anthropic().messages.create(
        model="claude-fast", max_tokens=600, system="Quote the sources you use.",
        messages=anthropic_turn(question.text, [text_document(d, citations=False) for d in _gold(question)]))
    assert message.content[0].type == "text" and message.content[0].citations is None
    assert quotes(message.content[0].text) == list(zip(_sentences(question), _gold(question), strict=True))


def test_without_a_request_to_quote_the_answer_comes_alone():
    question = next(q for q in ANSWERABLE if q.kind == "single")
    text = _ask_openai(World(seed=2), question, _gold(question), instruction="Be brief.")
    assert text == f"The answer is {question.answer}." and quotes(text) == []


def test_rigid_claims_carry_offsets_into_the_source_and_keep_only_the_first_claim():
    world = World(seed=4)
    gpt = world.openai()
    right = {"single": 0, "multi": 0, "contradiction": 0}
    for question in ANSWERABLE:
        docs = [*_neighbours(question), *_gold(question)]
        reply = gpt.chat.completions.create(
            model="gpt-strong", messages=openai_turn(question.text, docs),
            response_format={"type": "json_schema", "json_schema": {"name": "cited", "schema": CLAIMS_SCHEMA,
                                                                    "strict": True}})
        data = json.loads(reply.choices[0].message.content or "")
        [claim] = data["claims"]  # one claim, even where the answer needs two papers
        assert claim["doc"] == question.spans[0].doc and claim["quote"] == _sentences(question)[0]
        assert abstract(claim["doc"])[claim["start"]:claim["end"]] == claim["quote"]
        right[question.kind] += _norm(question.answer or "") in _norm(data["answer"])
    counts = {kind: sum(q.kind == kind for q in ANSWERABLE) for kind in right}
    assert right["single"] == counts["single"]  # one paper: as good as prose
    assert right["contradiction"] == 0  # the first paper's finding alone never reports the disagreement
    assert right["multi"] < counts["multi"] / 2  # a dataset pair is half an answer; a comparison, a coin flip


def test_the_same_seed_replays_the_same_answers_and_labels():
    def run() -> list[tuple[str, tuple[str, ...]]]:
        world = World(seed=9)
        out = []
        for question in load_questions("lesson")[:30]:
            out.append((_ask_openai(world, question, _neighbours(question) if question.answerable else []),
                        world.requests[-1].faults))
        return out

    assert run() == run()


def test_only_a_whole_corpus_question_is_recognised():
    question = ANSWERABLE[0]
    assert find_question(f"Please answer.\nQUESTION:   {question.text.lower()}  Thanks!") == question
    assert find_question(question.text.replace("?", "")) is None
    assert find_question(question.text.replace(question.text.split()[-1], "something?")) is None
    assert find_question("What is the capital of France?") is None


def test_no_text_of_tiers_1_to_3_asks_a_corpus_question():
    """The corpus routing cannot fire before Tier 4: no lesson, check or fixture of Tiers 1-3 holds a corpus
    question's words (and their committed notebooks replay unchanged, tests/notebooks)."""
    root = Path(__file__).parents[1]
    texts = [*root.glob("book/tier[123]/*.md"), *root.glob("book/intro/*.md"),
             *root.glob("src/faultfirst/checks/**/*.py"), *root.glob("src/faultfirst/fixtures/*.json"),
             *root.glob("src/faultfirst/attack_set/*.json")]
    assert len(texts) > 20
    questions = [normalised_words(q.text) for q in load_questions()]
    for path in texts:
        text = normalised_words(path.read_text(encoding="utf-8"))
        assert not any(question in text for question in questions), path


def test_extra_choices_draw_their_own_memory_dice_and_leave_the_first_choice_as_it_was():
    question = ANSWERABLE[0]
    alone = World(seed=6).openai().chat.completions.create(model="gpt-fast", messages=ask(question.text))
    many = World(seed=6).openai().chat.completions.create(model="gpt-fast", messages=ask(question.text), n=8)
    texts = [choice.message.content for choice in many.choices]
    assert texts[0] == alone.choices[0].message.content
    assert NO_SOURCE in texts and any(text != NO_SOURCE for text in texts)
