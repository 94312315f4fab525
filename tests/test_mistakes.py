"""Checks are written against mistakes: every listed mistake is rejected, with the hint for that mistake.

Each check module lists the wrong answers a learner plausibly writes for its exercises
(`mistakes(label, Mistake(...))`), each as a change to the book's reference solution. Here every one
is applied to the solution and run through the check: the check must fail it, and one of its failed
cases must carry that mistake's own hint (a hint about a different mistake teaches the wrong thing).
"""

from __future__ import annotations

import pytest

from faultfirst.checks import CHECKS, check
from faultfirst.checks._framework import MISTAKES, check_until_hint
from faultfirst.testing.solutions import reference, stub

MIN_MISTAKES = 2
LISTED = [(label, mistake) for label in sorted(MISTAKES) for mistake in MISTAKES[label]]


@pytest.mark.parametrize("label", sorted(CHECKS))
def test_every_exercise_lists_its_plausible_mistakes(label):
    listed = MISTAKES.get(label, ())
    assert len(listed) >= MIN_MISTAKES, f"{label}: list the mistakes learners make (mistakes({label!r}, ...))"
    assert len({m.hint for m in listed}) == len(listed) or all(m.hint for m in listed)


@pytest.mark.parametrize("label, mistake", LISTED, ids=[f"{label}: {m.what}" for label, m in LISTED])
def test_the_check_rejects_the_mistake_with_its_hint(label, mistake):
    result = check_until_hint(label, reference(label, mistake.changes), mistake.hint)
    assert result.status == "failed", f"the check passed this mistake:\n{result.report()}"
    hints = [case.hint for case in result.cases if not case.passed]
    assert mistake.hint in hints, f"rejected, but not with this mistake's hint:\n{result.report()}"


@pytest.mark.parametrize("label", sorted(CHECKS))
def test_the_reference_solution_passes_and_the_stub_is_not_attempted(label):
    """The loader runs the book's code as the exercises notebook does (so the mistakes above start from it)."""
    assert check(label, reference(label)).passed
    assert check(label, stub(label)).status == "not attempted"
