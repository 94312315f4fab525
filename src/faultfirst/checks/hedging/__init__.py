"""Checks for the lesson "Tail latency and hedged requests" (book/tier2/hedging.md).

`hedging-call` runs the learner's `hedged(attempt, *, delay)` on scripted
attempts: fakes that sleep a set number of virtual seconds, then answer or
raise, so the timing rules are pinned exactly (when the hedge starts, who wins,
what is cancelled and awaited). Failures are the SDK's own exception classes.
Many-call cases draw each attempt's time from the simulated world's latency
model (`faultfirst.service.latency.LatencyModel`), first attempts and hedges from separate seeded
streams, so the unhedged latency of every call is known exactly (its first
attempt's) at no cost. Two cases make real SDK calls in seeded worlds (an
outage, an overloaded day), so the rules are seen to hold against the
simulated API too. After every call the check looks for anything the function
left running, tells a task never cancelled from one cancelled but not awaited,
then cleans up itself so that one mistake does not leak into the next case.

`hedging-budget` drives the learner's `HedgePolicy` with scripted latencies
(pure cases) and with steady traffic whose attempt times come from the latency
model, calm and drifting, through a reference hedged call.

Every hint sits on the expectation that diagnoses one mistake; the mistakes
each exercise is tested against are listed beside its check.
"""

# Importing the modules registers the checks and their mistakes.
from . import budget as budget
from . import call as call
