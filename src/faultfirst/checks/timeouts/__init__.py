"""Checks for the lesson "Timeouts and deadlines" (book/tier2/timeouts.md).

`timeouts-deadline` runs the learner's call in fresh seeded worlds: calm, at
the peak of latency drift, overloaded (a quick 529, then an attempt slower than
what is left of the deadline), during an outage, and with a request the API
refuses. Every case measures the world's clock around the call and around each
attempt, so "never spends more than the deadline" is a measurement, not a
promise, and an attempt that ran past the deadline is told apart from a wait
that did.

`timeouts-choose` is a pure function over a request log. The logs are built
here from seeded worlds (and by hand where an exact shape is needed), the
expected answer comes from `reference_timeout`, and a wrong answer is matched
against the value each listed mistake would give, so the report names the
mistake and gives its hint.
"""

# Importing the modules registers the checks and their mistakes.
from . import choose as choose
from . import deadline as deadline
