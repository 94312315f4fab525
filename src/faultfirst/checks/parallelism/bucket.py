"""The check of parallelism-bucket, and the mistakes it is tested against.

It drives the learner's token bucket with timed acquirers on a world's virtual-time loop and records when
each grant happened, so rate, burst, order and edge cases are measured, not guessed.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from .._framework import Mistake, Report, checked_world, mistakes, register
from .common import BLOCKING_SLEEP, call_learner

START_FULL = "A new bucket starts full (level = capacity), so that a first burst of `capacity` goes through at once."
LOOP_CLOCK = ("Refill from the event loop's clock, `asyncio.get_running_loop().time()`: under world.run that is "
              "the world's virtual clock, and time.monotonic() or time.time() does not move with it.")
RATE = ("Refill (now - updated) * capacity / period units, then set updated = now: capacity per period, not per "
        "second, and each stretch of time counted once.")
PERIOD = ("Refill at capacity / period, with the period you are given: TokenBucket(10, period=5) refills 2 units a "
          "second, not 10 a minute.")
DEFICIT = ("Sleep for the deficit, (amount - level) / rate, not amount / rate: the units already in the bucket count, "
           "so a bucket at 40 of 100 has acquire(50) wait for 10 units, not 50.")
CAPPED = "Cap the level at capacity when you refill: min(capacity, level + refill). An idle bucket is full, no fuller."
PROMPT = ("Sleep only until the missing amount has dripped in, (amount - level) / rate seconds, then refill and take; "
          "do not wait for a whole period.")
FIFO = ("Serve waiters in arrival order: hold one asyncio.Lock (it wakes waiters first come, first served) while "
        "you wait for the refill and take, so small requests cannot take the refill from under a large one.")
ZERO = ("Return from acquire(0) before taking the lock: a request that costs nothing must not queue behind "
        "others.")
TOO_BIG = ("Check the amount before waiting: no amount of waiting fills a bucket past its capacity, so raise "
           "ValueError at once for amount > capacity.")
NEGATIVE = "A negative amount would pour units into the bucket: raise ValueError for amount < 0 too."


@dataclass
class Grants:
    """When each acquire returned, and for how much, in virtual seconds."""

    times: list[tuple[float, float, int]] = field(default_factory=list)  # (time, amount, caller number)
    stalled: bool = False  # the scenario was still waiting when its virtual time ran out


def _make_bucket(cls: Any, capacity: float, period: float) -> Any:
    bucket = cls(capacity, period)
    if not callable(getattr(bucket, "acquire", None)):
        raise TypeError(f"TokenBucket({capacity:g}, {period:g}) gave a {type(bucket).__name__}, which has no acquire "
                        "method")
    return bucket


async def _acquire(bucket: Any, amount: float, grants: Grants, number: int) -> None:
    waiting = bucket.acquire(amount)
    if not inspect.isawaitable(waiting):
        raise TypeError(f"acquire() returned {type(waiting).__name__}, not a coroutine: define it with `async def`")
    await waiting
    grants.times.append((asyncio.get_running_loop().time(), amount, number))


async def _eleven_units(bucket: Any, grants: Grants) -> None:
    """A full bucket's ten units and the one after them, one at a time."""
    for n in range(11):
        await _acquire(bucket, 1, grants, n)


def _bucket_run(report: Report, cls: Any, scenario: Callable[[Any, Grants], Coroutine[Any, Any, Any]], *,
                capacity: float, period: float, seconds: float = 3600) -> Grants:
    """Build a bucket inside the world's loop and run `scenario(bucket, grants)` there for at most `seconds`.

    A bucket that never grants (a refill on the wrong clock) is stopped by the scenario's own timeout, so the
    case can say why, instead of by the world's bound, which would end the whole check.
    """
    world = checked_world(seed=0, max_attempts=0, max_seconds=seconds + 600)
    grants = Grants()

    async def main() -> None:
        bucket = _make_bucket(cls, capacity, period)
        try:
            async with asyncio.timeout(seconds):
                await scenario(bucket, grants)
        except TimeoutError:
            grants.stalled = True

    call_learner(report, world, main, what="acquire()")
    return grants


def most_granted(grants: Grants, *, capacity: float, period: float) -> tuple[float, float, float, float]:
    """The stretch of time in which the grants most exceed a full bucket plus its refill: (excess, taken, start, end).

    For each first grant i, the worst last grant j maximises taken(i..j) - rate * span; a running maximum from
    the end finds it for every i in one pass.
    """
    rate = capacity / period
    times = sorted((when, amount) for when, amount, _ in grants.times)
    prefix = [0.0]
    for _, amount in times:
        prefix.append(prefix[-1] + amount)
    worst = (-capacity, 0.0, 0.0, 0.0)
    best_j, best_value = -1, float("-inf")
    for i in range(len(times) - 1, -1, -1):
        value = prefix[i + 1] - rate * times[i][0]  # for j = i
        if value > best_value:
            best_j, best_value = i, value
        excess = best_value - (prefix[i] - rate * times[i][0]) - capacity
        if excess > worst[0]:
            worst = (excess, prefix[best_j + 1] - prefix[i], times[i][0], times[best_j][0])
    return worst


@register("parallelism-bucket")
def check_bucket(cls: Callable[..., Any], report: Report) -> None:
    with report.case("a fresh bucket lets a burst of `capacity` through at once") as notes:
        async def burst(bucket: Any, grants: Grants) -> None:
            await asyncio.gather(*(_acquire(bucket, 1, grants, n) for n in range(10)))
        grants = _bucket_run(report, cls, burst, capacity=10, period=60)
        notes.detail = f"10 acquire(1) granted by t={max((t for t, _, _ in grants.times), default=0):.2f} s"
        late = [t for t, _, _ in grants.times if t > 1e-6]
        report.expect(not late and len(grants.times) == 10,
                      f"{10 - len(grants.times) + len(late)} of the first 10 units waited; a new bucket starts full",
                      hint=START_FULL)

    with report.case("after the burst, the next unit comes one refill later (6 s), on the loop's clock") as notes:
        grants = _bucket_run(report, cls, _eleven_units, capacity=10, period=60, seconds=600)
        eleventh = grants.times[10][0] if len(grants.times) > 10 else None
        notes.detail = ("the 11th unit never came" if eleventh is None else
                        f"the 11th unit came at t={eleventh:.2f} s")
        report.expect(len(grants.times) >= 10, f"only {len(grants.times)} of the first 10 units were granted",
                      hint=START_FULL)
        report.expect(eleventh is not None, "after the first 10 units, the 11th was not granted within 10 simulated "
                                            "minutes: the bucket does not refill as the loop's clock moves",
                      hint=LOOP_CLOCK)
        assert eleventh is not None  # expect() ended the case otherwise
        report.expect(eleventh >= 6.0 - 1e-6, f"the 11th unit came at t={eleventh:.2f} s; a bucket of 10 per minute "
                                              "refills one unit in 6 s", hint=RATE)
        report.expect(eleventh <= 6.0 + 0.01, f"the 11th unit came at t={eleventh:.2f} s; one unit has dripped in "
                                              "after 6 s, so it waited longer than it had to", hint=PROMPT)

    with report.case("a bucket of 10 per 5 s: after the burst, the next unit comes 0.5 s later") as notes:
        grants = _bucket_run(report, cls, _eleven_units, capacity=10, period=5, seconds=600)
        eleventh = grants.times[10][0] if len(grants.times) > 10 else None
        notes.detail = "the 11th unit never came" if eleventh is None else f"the 11th unit came at t={eleventh:.2f} s"
        report.expect(eleventh is not None and abs(eleventh - 0.5) <= 0.01,
                      "after the first 10 units, the 11th " + ("never came" if eleventh is None else
                                                             f"came at t={eleventh:.2f} s") +
                      "; a bucket of 10 per 5 s refills one unit in 0.5 s", hint=PERIOD)

    with report.case("a bucket of 100 per minute at 40: acquire(50) waits only for the missing 10 (6 s)") as notes:
        async def partial(bucket: Any, grants: Grants) -> None:
            await _acquire(bucket, 60, grants, 0)
            await _acquire(bucket, 50, grants, 1)
        grants = _bucket_run(report, cls, partial, capacity=100, period=60, seconds=600)
        second = next((t for t, _, n in grants.times if n == 1), None)
        notes.detail = "acquire(50) never returned" if second is None else f"acquire(50) returned at t={second:.2f} s"
        report.expect(second is not None and second <= 6.0 + 0.01,
                      "acquire(50) on a bucket left at 40 of 100 " + ("never returned" if second is None else
                                                                        f"returned at t={second:.2f} s") +
                      "; the missing 10 units drip in within 6 s", hint=DEFICIT)

    with report.case("a steady stream, then an idle spell: capacity per period, and never more than capacity") as notes:
        async def steady(bucket: Any, grants: Grants) -> None:
            for n in range(40):  # 10 at once, then one every 6 s
                await _acquire(bucket, 1, grants, n)
            for n in range(40, 60):  # then in twos, by two callers at once: done at t=420
                await asyncio.gather(_acquire(bucket, 1, grants, n), _acquire(bucket, 1, grants, 100 + n))
            await asyncio.sleep(600)  # idle for ten minutes: the bucket fills up, and no further
            await asyncio.gather(*(_acquire(bucket, 1, grants, 200 + n) for n in range(25)))
        grants = _bucket_run(report, cls, steady, capacity=10, period=60, seconds=3600)
        last = max((t for t, _, _ in grants.times), default=0.0)
        notes.detail = f"{len(grants.times)} acquires of 1 from a bucket of 10 per minute, the last at t={last:.1f} s"
        after_idle = [t for t, _, n in grants.times if n >= 200]
        at_once = sum(abs(t - min(after_idle)) < 1e-6 for t in after_idle) if after_idle else 0
        report.expect(at_once <= 10, f"after ten idle minutes, {at_once} units were granted at once from a bucket "
                                     "of 10", hint=CAPPED)
        excess, taken, start, end = most_granted(grants, capacity=10, period=60)
        report.expect(excess <= 1e-6, f"it granted {taken:g} units between t={start:.1f} s and t={end:.1f} s; a bucket "
                                      f"of 10 refilling at 10 per 60 s allows at most {taken - excess:.1f}", hint=RATE)
        report.expect(len(grants.times) == 105, f"only {len(grants.times)} of 105 acquires returned within an hour",
                      hint=PROMPT)
        due = 420 + 600 + 15 * 6.0  # 70 units at 6 s each after the first burst; after the idle, 10 at once and 15 more
        report.expect(last <= due + 2, f"the last unit came at t={last:.1f} s; at 10 per minute it is due by "
                                       f"t={due:.0f} s (does it wait longer than it must?)", hint=PROMPT)

    with report.case("a large acquire is not starved by a stream of small ones (first come, first served)") as notes:
        async def contested(bucket: Any, grants: Grants) -> None:
            await _acquire(bucket, 100, grants, 0)  # empty it
            tasks = [asyncio.create_task(_acquire(bucket, 100, grants, 1))]  # the large one waits first
            for n in range(2, 202):  # then a small one every 0.5 s: 2 per second, more than the refill
                await asyncio.sleep(0.5)
                tasks.append(asyncio.create_task(_acquire(bucket, 1, grants, n)))
            await asyncio.gather(*tasks)
        grants = _bucket_run(report, cls, contested, capacity=100, period=60)
        big = next((t for t, amount, n in grants.times if n == 1), None)
        notes.detail = ("the acquire(100) never returned" if big is None else
                        f"the acquire(100) waited {big:.1f} s; {len(grants.times) - 2} small acquires followed")
        early = [n for t, _, n in grants.times if n >= 2 and (big is None or t < big - 1e-9)]
        report.expect(not early, f"{len(early)} small acquires that asked after the acquire(100) were served before "
                                 "it", hint=FIFO)
        report.expect(big is not None and big <= 61.0, "the acquire(100) that asked first was not served after one "
                                                       "refill (60 s)", hint=PROMPT)

    with report.case("acquire(0) returns at once, even from an empty bucket with a queue") as notes:
        async def zero(bucket: Any, grants: Grants) -> None:
            await _acquire(bucket, 5, grants, 0)
            waiting = asyncio.create_task(_acquire(bucket, 5, grants, 1))
            await asyncio.sleep(1)
            await _acquire(bucket, 0, grants, 2)
            await waiting
        grants = _bucket_run(report, cls, zero, capacity=5, period=60)
        when = next((t for t, _, n in grants.times if n == 2), None)
        notes.detail = "acquire(0) never returned" if when is None else f"acquire(0) returned at t={when:.2f} s"
        report.expect(when is not None and when <= 1.0 + 1e-6,
                      "acquire(0) waited behind the queue; a request that costs nothing has nothing to wait for",
                      hint=ZERO)

    for amount, hint in ((11, TOO_BIG), (-1, NEGATIVE)):
        with report.case(f"acquire({amount}) on a bucket of 10 raises ValueError at once") as notes:
            outcome: dict[str, Any] = {}

            async def impossible(bucket: Any, grants: Grants, amount: float = amount,
                                 outcome: dict[str, Any] = outcome) -> None:
                try:
                    async with asyncio.timeout(3600):
                        await _acquire(bucket, amount, grants, 0)
                except ValueError as err:
                    outcome["error"] = err
                except TimeoutError:
                    outcome["hung"] = True
                outcome["at"] = asyncio.get_running_loop().time()
            _bucket_run(report, cls, impossible, capacity=10, period=60)
            notes.detail = ("still waiting after an hour" if outcome.get("hung") else
                            f"{'raised' if 'error' in outcome else 'returned'} at t={outcome.get('at', 0):.1f} s")
            report.expect("error" in outcome and outcome["at"] <= 1e-6,
                          f"acquire({amount}) on a bucket of 10 " + (
                              "was still waiting after an hour" if outcome.get("hung") else
                              f"raised only after {outcome.get('at', 0):.0f} s" if "error" in outcome else
                              "returned instead of raising ValueError"), hint=hint)


mistakes(
    "parallelism-bucket",
    Mistake("starts empty", (("self.level = float(capacity)", "self.level = 0.0"),), START_FULL),
    Mistake("refills on the wall clock", (("loop = asyncio.get_running_loop()",
                                           "import time\n        loop = asyncio.get_running_loop()"),
                                          ("now = loop.time()", "now = time.monotonic()")), LOOP_CLOCK),
    Mistake("refill rate per second, not per period", (("self.rate = capacity / period", "self.rate = capacity"),),
            RATE),
    Mistake("the period ignored: always per minute",
            (("self.rate = capacity / period", "self.rate = capacity / 60.0"),),
            PERIOD),
    Mistake("sleeps for the whole amount, not the deficit",
            (("await asyncio.sleep(max((amount - self.level) / self.rate, 0.001))",
              "await asyncio.sleep(max(amount / self.rate, 0.001))"),), DEFICIT),
    Mistake("refill not capped at capacity",
            (("self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)",
              "self.level = self.level + (now - self.updated) * self.rate"),), CAPPED),
    Mistake("waits a whole period whenever short (a fixed window)",
            (("await asyncio.sleep(max((amount - self.level) / self.rate, 0.001))",
              "await asyncio.sleep(self.capacity / self.rate)"),), PROMPT),
    Mistake("no lock: waiters grab the refill in any order", (("async with self._turn:", "if True:"),), FIFO),
    Mistake("acquire(0) queues behind the lock", (("        if amount == 0:\n            return\n", ""),), ZERO),
    Mistake("no check for an amount above capacity", (("if not 0 <= amount <= self.capacity:", "if amount < 0:"),),
            TOO_BIG),
    Mistake("no check for a negative amount", (("if not 0 <= amount <= self.capacity:",
                                                "if amount > self.capacity:"),), NEGATIVE),
    Mistake("blocks the loop with time.sleep",
            (("loop = asyncio.get_running_loop()", "import time\n        loop = asyncio.get_running_loop()"),
             ("await asyncio.sleep(max((amount - self.level) / self.rate, 0.001))",
              "time.sleep(max((amount - self.level) / self.rate, 0.001))")), BLOCKING_SLEEP),
)

