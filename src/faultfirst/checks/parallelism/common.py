"""What both parallelism checks share: the lesson's bounds, and a learner coroutine run with its blocking
sleep diagnosed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...world import World
from .._async import run_learner
from .._framework import Report

MAX_ATTEMPTS = 4  # the lesson's retry bound per document (its setup cell defines the same name)
MAX_IN_FLIGHT = 16  # the lesson's concurrency bound

BLOCKING_SLEEP = ("Wait with `await asyncio.sleep(seconds)`, never `time.sleep(seconds)`: time.sleep blocks the "
                  "event loop, so no other coroutine runs and the loop's (virtual) clock stands still.")


def _bucket_stub(err: NotImplementedError) -> Exception | None:
    """summarise_all builds on TokenBucket: its stub is the previous exercise's, not this one's."""
    if "parallelism-bucket" in str(err):
        return RuntimeError("it uses TokenBucket, which is still the stub of the previous exercise; "
                            "complete that one first")
    return None


def call_learner(report: Report, world: World, make: Callable[[], Any], *, what: str,
                 state: dict[str, Any] | None = None) -> Any:
    """`report.call(run_learner, ...)`, with a blocking `time.sleep` diagnosed (with its hint) before anything else."""
    state = {} if state is None else state
    blocked = ("it called time.sleep() on the event loop, which blocks every other coroutine (and here would "
               "wait in real time)")
    try:
        result = report.call(run_learner, world, make, what=what, state=state,
                             explain_stub=_bucket_stub if what == "summarise_all" else None)
    except Exception:
        report.expect(not state.get("blocked"), blocked, hint=BLOCKING_SLEEP)
        raise
    report.expect(not state.get("blocked"), blocked, hint=BLOCKING_SLEEP)
    return result


