"""Checks for the lesson "Retries, backoff and jitter" (book/tier2/retries.md).

Both checks run the learner's code in fresh seeded worlds, under the faults the
lesson taught: bursts of 429s with `retry-after`, a model whose every slot is
taken, overload, reset connections, an outage, requests that can never succeed
and a spent daily quota. They read what happened from the world's request log,
and record for each attempt (through the world's attempt hooks) the `retry-after` it
was answered with, the SDK's own retry count and which prompt it carried, so a
check can compare every wait with the advice before it and replay a retry budget
call by call. Each expectation that diagnoses one mistake carries that mistake's
hint; the mistakes themselves are listed beside each check.
"""

# Importing the modules registers the checks and their mistakes.
from . import budget as budget
from . import policy as policy
