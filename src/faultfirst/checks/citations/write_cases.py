"""`python -m faultfirst.checks.citations.write_cases [--check]`

Writes `cases.json`, the labelled answers the citations check scores a learner's verifier on: the simulated
model's answers to the held-out questions, labelled by the world itself, and the hand-made adversarial quotes
that hand_made.py builds from held-out documents. Nothing in the file is typed by hand: rerun this after a change
to the world, the corpus or a hand-made case, and `--check` (which tests/test_citations_check.py runs) fails when
the committed file differs from what it would write.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from importlib import resources

import bm25s  # type: ignore[import-untyped]  # no stubs, no py.typed

from ...model.corpus import load_corpus, load_questions
from ...model.prompt import QUOTED_RE
from ...world import World
from .cases import CASES_FILE, WORLD
from .hand_made import Case, case, hand_made

SCENARIO = "citations"
WORLDS = tuple((seed, "gpt-fast") for seed in range(1, 7)) + ((7, "gpt-strong"),)  # each asks every question once
INSTRUCTION = 'Answer from the sources only. Quote the sentences you rely on, each as "exact words" [document id].'


def _retriever() -> Callable[[str], list[str]]:
    """The lesson's retriever: the four abstracts BM25 ranks first for a question."""
    papers = load_corpus().papers
    index = bm25s.BM25()
    index.index(bm25s.tokenize([p.abstract for p in papers], stopwords="en", show_progress=False),
                show_progress=False)

    def retrieve(question: str) -> list[str]:
        ranked, _ = index.retrieve(bm25s.tokenize([question], stopwords="en", show_progress=False), k=4,
                                   show_progress=False)
        return [papers[i].id for i in ranked[0]]
    return retrieve


def world_answers() -> list[Case]:
    """Every held-out question asked in prose, by two models in two worlds of the citations scenario, with the
    retrieved sources and the world's labels."""
    corpus, retrieve, cases = load_corpus(), _retriever(), []
    for seed, model in WORLDS:
        world = World(seed=seed, scenario=SCENARIO)
        client = world.openai(max_retries=0)
        for question in load_questions("heldout"):
            sources = retrieve(question.text)
            documents = "\n".join(f'<document id="{doc}">{corpus.paper(doc).abstract}</document>' for doc in sources)
            reply = client.chat.completions.create(model=model, messages=[
                {"role": "system", "content": INSTRUCTION},
                {"role": "user", "content": f"{documents}\n\nQuestion: {question.text}"}])
            answer = reply.choices[0].message.content or ""
            cases.append(case(WORLD, answer, sources, len(QUOTED_RE.findall(answer)), *world.requests[-1].faults))
    return cases


def build() -> dict[str, object]:
    return {"about": "written by python -m faultfirst.checks.citations.write_cases; do not edit",
            "answers": [*world_answers(), *hand_made()]}


def render(data: dict[str, object]) -> str:
    return json.dumps(data, indent=1) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the committed file differs; write nothing")
    options = parser.parse_args(argv)
    target = resources.files(__package__).joinpath(CASES_FILE)
    text = render(build())
    if options.check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            print(f"{CASES_FILE} differs from what write_cases writes: run python -m {__name__}", file=sys.stderr)
            return 1
        return 0
    with resources.as_file(target) as path:
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
