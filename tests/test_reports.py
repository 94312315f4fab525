"""What a learner reads from a check: one logical line per item, counts that agree with their nouns."""

from __future__ import annotations

from faultfirst import plural
from faultfirst.checks._framework import FAILED, NOT_ATTEMPTED, PASSED, Case, CheckResult


def test_plural_agrees_with_the_count():
    """One attempt, two attempts, thousands grouped; an irregular plural is given, not guessed."""
    assert plural(1, "attempt") == "1 attempt"
    assert plural(0, "attempt") == "0 attempts"
    assert plural(1_024, "attempt") == "1,024 attempts"
    assert plural(1, "retry", "retries") == "1 retry" and plural(2, "retry", "retries") == "2 retries"


def test_a_report_is_never_hard_wrapped():
    """A long reason, detail or hint stays one line (the reader's screen wraps it), under its case's mark."""
    reason = "made 3 attempts " + "and waited far too long between them " * 8
    detail = "scripted: attempt 1 takes 10 s,\nattempt 2 takes 1 s, " + "delay 2 s; " * 12
    result = CheckResult("demo-label", FAILED, [Case("a slow first attempt is hedged", True, detail=detail),
                                                Case("both attempts fail", False, reason,
                                                     "raise the attempt's own error")])
    lines = result.report().splitlines()
    assert lines == [
        "demo-label: failed (1 of 2 cases passes)",
        "✓ a slow first attempt is hedged",
        "    " + " ".join(detail.split()),
        "✗ both attempts fail",
        "    " + " ".join(reason.split()),
        "    hint: raise the attempt's own error",
    ]
    assert max(map(len, lines)) > 100  # long lines are left long: wrapping belongs to the reader's screen


def test_report_headline_counts_cases_in_words():
    """A single case reads '1 of 1 case passes', not '1 of 1 cases pass'; a stub says what to replace."""
    one = CheckResult("demo-label", PASSED, [Case("it answers", True)])
    assert one.report().splitlines()[0] == "demo-label: passed (1 of 1 case passes)"
    stub = CheckResult("demo-label", NOT_ATTEMPTED, function="`reply`").report()
    assert stub.splitlines() == ["demo-label: not attempted",
                                 "    Replace the `raise NotImplementedError(...)` line in `reply` with your code, "
                                 "then run this cell again."]
