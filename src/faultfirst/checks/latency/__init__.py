"""Checks for the lesson "Latency and randomness" (book/tier1/latency.md).

Both exercises are pure functions over a request log, so the logs are built
here, once, by running seeded worlds in virtual time (and by writing a few
`RequestRecord` lists by hand for the edge cases), and each expected answer
comes from the reference implementations below. The learner's function gets
copies, runs under a step budget (a pure function cannot be stopped by a
world's limits), and is compared field by field with a reason for every miss.
"""

# Importing the modules registers the checks and their mistakes.
from . import drift as drift
from . import percentiles as percentiles
