"""The labelled answers the citations check scores on: generated, never typed, and covering what the lesson teaches."""

from __future__ import annotations

from collections import Counter

from faultfirst.checks.citations import hints
from faultfirst.checks.citations.cases import WORLD, load
from faultfirst.checks.citations.write_cases import main

PROSE_FAULTS = ("invented_quote", "wrong_document", "paraphrase_as_quote", "unprovided_document", "reversed_quote")


def test_the_committed_cases_are_what_write_cases_writes():
    """cases.json is the generator's output for today's world and corpus (rerun write_cases after changing either)."""
    assert main(["--check"]) == 0


def test_the_world_answers_hold_every_fault_of_prose_quoting_several_times():
    """Each citation fault the world injects into prose reaches the check at least three times, and faithful quotes
    outnumber spoiled ones, so precision and recall are both measured."""
    world = [answer for answer in load() if answer.origin == WORLD]
    kinds = Counter(kind for answer in world for kind in answer.wrong().values())
    assert all(kinds[kind] >= 3 for kind in PROSE_FAULTS), kinds
    faithful = sum(answer.quotes - len(answer.wrong()) for answer in world)
    assert faithful > sum(kinds.values())


def test_every_hand_made_case_says_which_hint_a_failure_on_it_needs():
    """A hand-made case names a hint of the check (or none, for an answer without quotes), and no two cases that
    try different things share a name."""
    made = [answer for answer in load() if answer.origin != WORLD]
    assert len({answer.origin for answer in made}) == len(made)
    for answer in made:
        assert (answer.hint is None) == (answer.quotes == 0), answer.origin
        assert answer.hint is None or isinstance(getattr(hints, answer.hint), str), answer.origin
