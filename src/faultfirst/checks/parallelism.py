"""Checks for the lesson "Parallelism and rate limits" (book/tier2/parallelism.md).

`parallelism-bucket` drives the learner's token bucket with timed acquirers on
a world's virtual-time loop and records when each grant happened, so rate,
burst, order and edge cases are measured, not guessed. `parallelism-documents`
runs the learner's whole job in small seeded worlds, each chosen for one thing
it exercises (the tokens limit binding, a shared allowance that makes
`retry-after` matter, bad-day faults, a document that gets a 400, one that no
bucket can admit), and reads the world's log: every attempt is matched to its
document by the id in its prompt (the check watches the requests as they reach
the simulated API), so lost, duplicated and unjustified failures, retries that
came too soon and retries that should never have been sent can be told apart.

Learner code runs with two bounds: the world's own (attempts, virtual time)
and a real-time watchdog for a coroutine that spins without ever letting the
virtual clock move (`await asyncio.sleep(0)` in a loop). A `time.sleep` on
the world's loop (which would block it in real time) raises at once instead.
Nothing here joins a thread or takes a lock from code the GC may run: the
watchdog is a daemon thread that ends on an event, and leftover learner tasks
are cancelled with one more `world.run` while the world is alive.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import openai

from ..service.attempts import Attempt
from ..service.records import RequestRecord
from ..service.scenarios import RateLimits, Scenario
from ..world import World
from ..text import plural
from ._helpers import reply_text
from ._async import run_learner
from ._framework import Mistake, Report, checked_world, mistakes, register, usage

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


def _call(report: Report, world: World, make: Callable[[], Any], *, what: str,
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


# -- parallelism-bucket ----------------------------------------------------------------------------------------

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
class _Grants:
    """When each acquire returned, and for how much, in virtual seconds."""

    times: list[tuple[float, float, int]] = field(default_factory=list)  # (time, amount, caller number)
    stalled: bool = False  # the scenario was still waiting when its virtual time ran out


def _make_bucket(cls: Any, capacity: float, period: float) -> Any:
    bucket = cls(capacity, period)
    if not callable(getattr(bucket, "acquire", None)):
        raise TypeError(f"TokenBucket({capacity:g}, {period:g}) gave a {type(bucket).__name__}, which has no acquire method")
    return bucket


async def _acquire(bucket: Any, amount: float, grants: _Grants, number: int) -> None:
    waiting = bucket.acquire(amount)
    if not inspect.isawaitable(waiting):
        raise TypeError(f"acquire() returned {type(waiting).__name__}, not a coroutine: define it with `async def`")
    await waiting
    grants.times.append((asyncio.get_running_loop().time(), amount, number))


def _bucket_run(report: Report, cls: Any, scenario: Callable[[Any, _Grants], Coroutine[Any, Any, Any]], *,
                capacity: float, period: float, seconds: float = 3600) -> _Grants:
    """Build a bucket inside the world's loop and run `scenario(bucket, grants)` there for at most `seconds`.

    A bucket that never grants (a refill on the wrong clock) is stopped by the scenario's own timeout, so the
    case can say why, instead of by the world's bound, which would end the whole check.
    """
    world = checked_world(seed=0, max_attempts=0, max_seconds=seconds + 600)
    grants = _Grants()

    async def main() -> None:
        bucket = _make_bucket(cls, capacity, period)
        try:
            async with asyncio.timeout(seconds):
                await scenario(bucket, grants)
        except TimeoutError:
            grants.stalled = True

    _call(report, world, main, what="acquire()")
    return grants


def _most_granted(grants: _Grants, *, capacity: float, period: float) -> tuple[float, float, float, float]:
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
        async def burst(bucket: Any, grants: _Grants) -> None:
            await asyncio.gather(*(_acquire(bucket, 1, grants, n) for n in range(10)))
        grants = _bucket_run(report, cls, burst, capacity=10, period=60)
        notes.detail = f"10 acquire(1) granted by t={max((t for t, _, _ in grants.times), default=0):.2f} s"
        late = [t for t, _, _ in grants.times if t > 1e-6]
        report.expect(not late and len(grants.times) == 10,
                      f"{10 - len(grants.times) + len(late)} of the first 10 units waited; a new bucket starts full",
                      hint=START_FULL)

    with report.case("after the burst, the next unit comes one refill later (6 s), on the loop's clock") as notes:
        async def next_one(bucket: Any, grants: _Grants) -> None:
            for n in range(11):
                await _acquire(bucket, 1, grants, n)
        grants = _bucket_run(report, cls, next_one, capacity=10, period=60, seconds=600)
        eleventh = grants.times[10][0] if len(grants.times) > 10 else None
        notes.detail = ("the 11th unit never came" if eleventh is None else
                        f"the 11th unit came at t={eleventh:.2f} s")
        report.expect(len(grants.times) >= 10, f"only {len(grants.times)} of the first 10 units were granted",
                      hint=START_FULL)
        report.expect(eleventh is not None, "after the first 10 units, the 11th was not granted within 10 simulated "
                                            "minutes: the bucket does not refill as the loop's clock moves",
                      hint=LOOP_CLOCK)
        report.expect(eleventh >= 6.0 - 1e-6, f"the 11th unit came at t={eleventh:.2f} s; a bucket of 10 per minute "
                                              "refills one unit in 6 s", hint=RATE)
        report.expect(eleventh <= 6.0 + 0.01, f"the 11th unit came at t={eleventh:.2f} s; one unit has dripped in "
                                              "after 6 s, so it waited longer than it had to", hint=PROMPT)

    with report.case("a bucket of 10 per 5 s: after the burst, the next unit comes 0.5 s later") as notes:
        async def short_period(bucket: Any, grants: _Grants) -> None:
            for n in range(11):
                await _acquire(bucket, 1, grants, n)
        grants = _bucket_run(report, cls, short_period, capacity=10, period=5, seconds=600)
        eleventh = grants.times[10][0] if len(grants.times) > 10 else None
        notes.detail = "the 11th unit never came" if eleventh is None else f"the 11th unit came at t={eleventh:.2f} s"
        report.expect(eleventh is not None and abs(eleventh - 0.5) <= 0.01,
                      "after the first 10 units, the 11th " + ("never came" if eleventh is None else
                                                             f"came at t={eleventh:.2f} s") +
                      "; a bucket of 10 per 5 s refills one unit in 0.5 s", hint=PERIOD)

    with report.case("a bucket of 100 per minute at 40: acquire(50) waits only for the missing 10 (6 s)") as notes:
        async def partial(bucket: Any, grants: _Grants) -> None:
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
        async def steady(bucket: Any, grants: _Grants) -> None:
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
        excess, taken, start, end = _most_granted(grants, capacity=10, period=60)
        report.expect(excess <= 1e-6, f"it granted {taken:g} units between t={start:.1f} s and t={end:.1f} s; a bucket "
                                      f"of 10 refilling at 10 per 60 s allows at most {taken - excess:.1f}", hint=RATE)
        report.expect(len(grants.times) == 105, f"only {len(grants.times)} of 105 acquires returned within an hour",
                      hint=PROMPT)
        due = 420 + 600 + 15 * 6.0  # 70 units at 6 s each after the first burst; after the idle, 10 at once and 15 more
        report.expect(last <= due + 2, f"the last unit came at t={last:.1f} s; at 10 per minute it is due by "
                                       f"t={due:.0f} s (does it wait longer than it must?)", hint=PROMPT)

    with report.case("a large acquire is not starved by a stream of small ones (first come, first served)") as notes:
        async def contested(bucket: Any, grants: _Grants) -> None:
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
        async def zero(bucket: Any, grants: _Grants) -> None:
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

            async def impossible(bucket: Any, grants: _Grants, amount: float = amount,
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
    Mistake("the period ignored: always per minute", (("self.rate = capacity / period", "self.rate = capacity / 60.0"),),
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


# -- parallelism-documents -------------------------------------------------------------------------------------

CONCURRENCY = (f"Bound the requests in flight to {MAX_IN_FLIGHT}: {MAX_IN_FLIGHT} workers that share one iterator "
               "of documents, or an asyncio.Semaphore around each attempt.")
TOKENS = ("Pace with two buckets: one unit from the requests bucket and request_tokens(MODEL, prompt, 200) (the "
          "prompt plus all of max_tokens, as the server charges) from the tokens bucket, before every attempt.")
RETRY = (f"Retry what is worth retrying (a status for which faultfirst.retryable_status is true: 429, 5xx; and "
         f"APIConnectionError) up to MAX_ATTEMPTS = {MAX_ATTEMPTS} attempts; return a Failed only after the last.")
NO_RETRY = ("Do not retry a status that retryable_status(err.status_code) says is not worth it: a 400 fails the "
            "same way every time. Return a Failed after that one attempt.")
RETRY_AFTER = ("After a 429, wait at least what its retry-after header says, "
               "float(err.response.headers['retry-after']), before the next attempt.")
TOO_LARGE = ("Catch the ValueError your tokens bucket raises for a request larger than its capacity: it can never be "
             "admitted, so return a Failed for that document without sending it.")
ESCAPED = ("Catch each attempt's errors (openai.APIStatusError and openai.APIConnectionError, timeouts included) "
           "inside the document's own loop, so that one document's failure becomes its result, not the end of the job.")
EVERY_ATTEMPT = ("Take from both buckets before every attempt, retries included: a retry is a request like any other, "
                 "and the server counts it against the same limits.")
WAIT_RESET = ("Wait before retrying after a connection error too (a growing back-off, such as 0.5 * 2**attempt "
              "seconds): a reset often means the server is struggling, and an instant retry adds to its load.")
ATTEMPTS_SENT = ("Failed.attempts counts the attempts actually sent for the document: 0 for one that the tokens "
                 "bucket can never admit, MAX_ATTEMPTS for one that failed every attempt.")
LAST_WAIT = ("Do not wait after the last attempt: once the document has failed MAX_ATTEMPTS times, return its "
             "Failed at once; a wait there only delays the job.")
LOST = "Return every id of `documents` exactly once: a summary (str) or a Failed, never a missing key."
MATCHED = ("Key each result by its own document id as it finishes (results[doc_id] = ...): calls finish in any "
           "order, not in the order of `documents`.")
SDK_RETRIES = ("Keep the client's max_retries=0 (world.async_openai() gives you that): the SDK's own retries are "
               "not paced by your buckets nor counted in your attempts.")

_FIELDS = ("retrieval", "protein folding", "crop yields", "sleep", "battery chemistry", "malaria", "urban heat",
           "language acquisition", "microplastics", "gene editing", "wind power", "antibiotic resistance")
_SENTENCES = (
    "We measure {f} across {n} sites over {y} years.",
    "The effect of the intervention on {f} was small but consistent.",
    "Prior studies of {f} relied on self-reported data.",
    "A randomised trial with {n} participants confirms the result.",
    "Confidence intervals are wide for the smallest groups.",
    "Results replicate in a second cohort of {n} cases.",
    "We discuss limitations, including selection bias and missing data.",
    "Table {y} lists every measurement with its uncertainty.",
)
_ID = re.compile(rb"doc-\d{4}")
_GIANT = "doc-9999"  # about 150,000 tokens: past gpt-fast's context window (128,000)
_LARGE = "doc-8888"  # about 25,000 tokens: inside the context window, larger than _TIGHT's tokens bucket
# `rate-limited` with a fifth of its tokens: a handful of long documents make the tokens limit bind, so the
# check tokenizes (in pure Python, on first use) a few tens of thousands of tokens, not hundreds of thousands.
_TIGHT = Scenario("rate-limited, 20k TPM", "60 requests and 20,000 tokens per minute per model.",
                  RateLimits(60, 20_000))
# Every attempt reset, under a requests limit that a job's retries exceed unless each one takes from the buckets.
_RESETS = Scenario("resets, 3 RPM", "3 requests per minute, and every connection reset.", RateLimits(3, 1_000_000),
                   reset_rate=1.0)


@lru_cache(maxsize=8)
def documents(n: int, seed: int, *, long_first: int = 0, giant: bool = False,
              large: bool = False) -> tuple[tuple[str, str], ...]:
    """`n` short papers with ids doc-0000... and numbered titles, the first `long_first` of them with a long table.

    The long ones (about 2,000 tokens each) make a 20,000 tokens-per-minute limit bind before the requests limit
    does. `giant` adds one document longer than gpt-fast's context window; `large` one larger than 20,000 tokens.
    Those two are a dump of one made-up word, 7 tokens each, which a pure-Python tokenizer counts several times
    faster than prose of as many tokens (the lesson's request_tokens counts each prompt in every fresh kernel).
    """
    rng = random.Random(f"parallelism:{seed}")
    found = []
    for i in range(n):
        field_ = rng.choice(_FIELDS)
        body = " ".join(rng.choice(_SENTENCES).format(f=field_, n=rng.randint(12, 4000), y=rng.randint(2, 12))
                        for _ in range(rng.randint(3, 8)))
        if i < long_first:  # rows from a pool of 400 short sentences: each is tokenized once, then counted from cache
            body += " Appendix table. " + " ".join(
                f"Site {rng.randint(1, 40)} reads {rng.randint(0, 9)}." for _ in range(300))
        found.append((f"doc-{i:04d}", f"Paper {seed}-{i} studies {field_}. {body}"))
    if giant:  # about 150,000 tokens
        found.append((_GIANT, "Appendix, raw instrument dump:" + " Qxzjvbrwkq" * 21_500))
    if large:  # about 25,000 tokens
        found.append((_LARGE, "Appendix, raw instrument dump:" + " Qxzjvbrwkq" * 3_600))
    return tuple(found)


@dataclass
class _Attempt:
    record: RequestRecord
    doc: str | None
    retry_after: float | None  # seconds, from a 429's header
    sdk_retry: bool  # the SDK sent it as its own retry (x-stainless-retry-count > 0)


class _Watch:
    """Tags each attempt with the document id in its body, and keeps the text of every successful reply."""

    def __init__(self, world: World) -> None:
        self.attempts: list[_Attempt] = []
        self.texts: dict[int, str | None] = {}

        def watched(attempt: Attempt) -> None:
            request, record = attempt.request, attempt.record
            assert record is not None  # an after hook: the world has answered
            ids = set(_ID.findall(request.content or b""))
            doc = ids.pop().decode() if len(ids) == 1 else None
            after = attempt.headers.get("retry-after") if attempt.status == 429 else None
            retried = request.headers.get("x-stainless-retry-count", "0") not in ("", "0")
            self.attempts.append(_Attempt(record, doc, float(after) if after else None, retried))
            if doc is not None and attempt.status == 200 and attempt.body and attempt.failure is None:
                self.texts[id(record)] = reply_text(attempt.body)

        world.on_attempt(after=watched)  # this world only; it is thrown away after the case


def max_in_flight(records: list[RequestRecord]) -> int:
    """The most attempts that were open at the same virtual moment (an attempt ending as another starts counts once)."""
    edges = sorted([(r.start, 1) for r in records] + [(r.end, -1) for r in records], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _is_failure(value: Any) -> bool:
    return not isinstance(value, str) and hasattr(value, "attempts") and hasattr(value, "error")


def _sample(ids: list[str], n: int = 3) -> str:
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def _leaves(err: BaseException) -> list[BaseException]:
    """The exceptions inside an exception group, however nested (or the exception itself)."""
    if isinstance(err, BaseExceptionGroup):
        return [leaf for inner in err.exceptions for leaf in _leaves(inner)]
    return [err]


def _spend_tokens(world: World, tokens: int) -> None:
    """Another job on the same key spends `tokens` of this minute's tokens allowance, just before ours starts."""
    client = world.openai()
    while tokens > 1_000:
        wanted = min(16_000, tokens - 20)
        client.chat.completions.create(model="gpt-fast", max_tokens=wanted,
                                       messages=[{"role": "user", "content": "Another job's request."}])
        tokens -= world.requests[-1].input_tokens + wanted


def _documents_case(report: Report, fn: Callable[..., Any], notes: Any, *, seed: int, scenario: str | Scenario,
                    n: int, minutes: float, long_first: int = 0, giant: bool = False, large: bool = False,
                    max_429: int = 10, spent: int = 0, paced: bool = False) -> None:
    docs = dict(documents(n, seed, long_first=long_first, giant=giant, large=large))
    world = checked_world(seed=seed, scenario=scenario, max_attempts=6 * len(docs) + 60, max_seconds=4 * 3600)
    if spent:
        _spend_tokens(world, spent)
    watch = _Watch(world)
    limits = world.scenario.rate_limits
    start, state = world.clock.now(), {}
    try:
        result = _call(report, world, lambda: fn(world, dict(docs), requests_per_minute=limits.requests_per_minute,
                                                 tokens_per_minute=limits.tokens_per_minute),
                       what="summarise_all", state=state)
    except Exception:
        _diagnose_escape(report, state.get("raised"))
        raise
    attempts = watch.attempts
    records = [a.record for a in attempts]
    ok_by_doc: dict[str, list[RequestRecord]] = {}
    tried: dict[str, list[_Attempt]] = {}
    for attempt in attempts:
        if attempt.doc is not None:
            tried.setdefault(attempt.doc, []).append(attempt)
            if attempt.record.ok:
                ok_by_doc.setdefault(attempt.doc, []).append(attempt.record)
    got = result if isinstance(result, Mapping) else {}
    lost = [d for d in docs if d not in got]
    failed = [d for d in docs if _is_failure(got.get(d))]
    limited = sum(r.status == 429 for r in records)
    most = max_in_flight(records)
    notes.detail = (f"{usage(world, lost=len(lost))}; {len(failed)} failed, {limited} rate-limited (429), "
                    f"at most {most} in flight")

    report.expect(not any(a.sdk_retry for a in attempts), "the SDK retried requests by itself (their "
                  "x-stainless-retry-count header was not 0)", hint=SDK_RETRIES)
    report.expect(isinstance(result, Mapping), f"should return a dict of document id -> summary or Failed, got "
                                               f"{type(result).__name__}", hint=LOST)
    report.expect(not lost, f"{len(lost)} of {len(docs)} documents missing from the result ({_sample(lost)}); "
                            "every id must appear once, with a summary or a Failed", hint=LOST)
    extra = [k for k in got if k not in docs]
    report.expect(not extra, f"the result has ids that are not documents: {_sample([str(k) for k in extra])}")
    wrong_type = [d for d in docs if not isinstance(got[d], str) and not _is_failure(got[d])]
    report.expect(not wrong_type, f"{_sample(wrong_type)} map to {type(got[wrong_type[0]]).__name__ if wrong_type else ''}"
                                  "; each value must be the summary (a str) or a Failed(attempts, error)")
    untagged = sum(a.doc is None for a in attempts if a.record.endpoint == "chat.completions")
    report.expect(not untagged, f"{plural(untagged, 'request')} carried no single document id in the prompt; put "
                                "the id (such as doc-0042) in each prompt so that attempts can be matched to documents")
    report.expect(most <= MAX_IN_FLIGHT, f"{most} requests were in flight at once; the limit is {MAX_IN_FLIGHT}",
                  hint=CONCURRENCY)
    twice = sorted(d for d, oks in ok_by_doc.items() if len(oks) > 1)
    report.expect(not twice, f"{plural(len(twice), 'document')} summarised more than once ({_sample(twice)}); "
                             "each successful call is paid for, so stop at the first success")
    for doc in docs:
        value = got[doc]
        if isinstance(value, str):
            oks = ok_by_doc.get(doc)
            report.expect(bool(oks), f"{doc} has a summary, but no call for it succeeded", hint=MATCHED)
            reply = watch.texts.get(id(oks[0]))  # type: ignore[index]
            report.expect(reply is None or value == reply,
                          f"the summary returned for {doc} is not the reply to {doc}'s request (results matched to "
                          "the wrong documents?)", hint=MATCHED)
    early = []
    for doc, its in tried.items():
        for one, following in zip(its, its[1:]):
            if one.retry_after is not None and following.record.start < one.record.end + one.retry_after - 1e-6:
                early.append((doc, following.record.start - one.record.end, one.retry_after))
    if early:
        doc, waited, after = early[0]
        report.expect(False, f"{plural(len(early), 'retry', 'retries')} came sooner than the 429's retry-after said: {doc} "
                             f"waited {waited:.1f} s where retry-after was {after:g} s", hint=RETRY_AFTER)
    if large:
        sent = len(tried.get(_LARGE, []))
        report.expect(sent == 0 and _is_failure(got[_LARGE]), f"{_LARGE} was sent {plural(sent, 'time')}; it is "
                      "larger than the tokens bucket, so no wait can admit it: return a Failed without sending it",
                      hint=TOO_LARGE)
    if giant:
        sent = len(tried.get(_GIANT, []))
        statuses = sorted({a.record.status for a in tried.get(_GIANT, [])})
        report.expect(sent == 1, f"{_GIANT} was sent {plural(sent, 'time')} (answered {statuses}); a 400 fails "
                                 "the same way every time: send it once", hint=NO_RETRY)
        report.expect(_is_failure(got[_GIANT]), f"{_GIANT} is longer than the model's context window, so it can "
                                                "never succeed; it should be a Failed", hint=NO_RETRY)
    unjustified = [d for d in failed if d not in (_GIANT, _LARGE) and (len(tried.get(d, [])) < MAX_ATTEMPTS or d in ok_by_doc)]
    if unjustified:
        d = unjustified[0]
        report.expect(False, f"{plural(len(unjustified), 'document')} given up on without cause "
                             f"({_sample(unjustified)}): {d} had {plural(len(tried.get(d, [])), 'attempt')}"
                             + (" and one succeeded" if d in ok_by_doc else
                                f"; a 429, a 5xx or a connection error is worth {MAX_ATTEMPTS} attempts"),
                      hint=RETRY)
    miscounted = [d for d in failed if isinstance(getattr(got[d], "attempts", None), int)
                  and got[d].attempts != len(tried.get(d, []))]
    if miscounted:
        d = miscounted[0]
        report.expect(False, f"{plural(len(miscounted), 'Failed result')} report a number of attempts that were not sent: "
                             f"{d} says attempts={got[d].attempts}, and {plural(len(tried.get(d, [])), 'attempt')} "
                             "for it reached the API", hint=ATTEMPTS_SENT)
    hasty = [(doc, one, following) for doc, its in tried.items() for one, following in zip(its, its[1:])
             if one.record.status is None and following.record.start <= one.record.end + 1e-9]
    if hasty:
        doc, one, _ = hasty[0]
        report.expect(False, f"{plural(len(hasty), 'retry', 'retries')} after a connection error went at once, with no wait "
                             f"(first {doc}, after its {one.record.error or 'connection error'})", hint=WAIT_RESET)
    if paced:
        excess, count, first, last = _most_granted(
            _Grants([(r.start, 1, 0) for r in records]), capacity=limits.requests_per_minute, period=60)
        report.expect(excess <= 1 + 1e-6, f"{count:g} attempts went between t={first - start:.1f} s and "
                                         f"t={last - start:.1f} s; a requests bucket of "
                                         f"{limits.requests_per_minute} per minute admits at most "
                                         f"{count - excess:.1f} (are retries sent without taking from the buckets?)",
                      hint=EVERY_ATTEMPT)
        idle = world.clock.now() - max((r.end for r in records), default=start)
        report.expect(idle <= 0.5, f"the function returned {idle:.1f} s after the last attempt was answered "
                                   "(does it wait after the last attempt?)", hint=LAST_WAIT)
    report.expect(limited <= max_429, f"{plural(limited, 'attempt')} refused with 429; a client-side limiter that "
                                      f"charges what the server charges keeps that near zero (at most {max_429} allowed)",
                  hint=TOKENS)
    took = (world.clock.now() - start) / 60
    report.expect(took <= minutes, f"took {took:.1f} simulated minutes; under these limits it should take at most "
                                   f"{minutes:g} (is the limiter slower than the limit, or are retries waiting too long?)")


def _diagnose_escape(report: Report, raised: BaseException | None) -> None:
    """The learner's function raised: say which kind of error escaped, with the hint for that mistake."""
    if raised is None:
        return
    leaves = _leaves(raised)
    too_large = next((e for e in leaves if isinstance(e, ValueError)), None)
    report.expect(too_large is None, f"summarise_all raised ValueError ({too_large}): a request the tokens bucket "
                                     "can never admit ended the job", hint=TOO_LARGE)
    api = next((e for e in leaves if isinstance(e, (openai.APIError, openai.APIConnectionError))), None)
    report.expect(api is None, f"summarise_all raised {type(api).__name__}: one document's error ended the job",
                  hint=ESCAPED)


@register("parallelism-documents")
def check_documents(fn: Callable[..., Any], report: Report) -> None:
    # Each case is as small as the behaviour it exercises allows: every attempt costs the SDK's own work.
    with report.case("calm, 17 documents: one summary per id, each the reply to its own document") as notes:
        _documents_case(report, fn, notes, seed=31, scenario="calm", n=17, minutes=5)
    with report.case("60 RPM and 20k TPM, 24 documents, 16 long ones first: the tokens limit binds") as notes:
        _documents_case(report, fn, notes, seed=32, scenario=_TIGHT, n=24, long_first=16, minutes=5, max_429=2)
    with report.case("60 RPM and 20k TPM, and another job on the key has just spent the minute's tokens: "
                     "retries wait as long as retry-after says") as notes:
        # Three long documents: each 429 says 7 s, and the job's own buckets, still full, would let a retry go
        # after 1 s; the three then take turns, the last one admitted on its fourth attempt.
        _documents_case(report, fn, notes, seed=32, scenario=_TIGHT, n=3, long_first=3, minutes=5,
                        spent=20_000, max_429=10)
    with report.case(f"bad-day (seed {_BAD_DAY_SEED}), {_BAD_DAY_DOCUMENTS} documents: overloads and connection "
                     "resets; nothing lost") as notes:
        _documents_case(report, fn, notes, seed=_BAD_DAY_SEED, scenario="bad-day", n=_BAD_DAY_DOCUMENTS, minutes=5)
    with report.case(f"{_RESETS.rate_limits.requests_per_minute} RPM and every connection reset: each retry waits and "
                     f"is paced, Failed after {MAX_ATTEMPTS} attempts, and nothing waits after the last") as notes:
        _documents_case(report, fn, notes, seed=37, scenario=_RESETS, n=2, minutes=5, paced=True)
    with report.case("60 RPM and 20k TPM: a document larger than the tokens bucket is never sent") as notes:
        _documents_case(report, fn, notes, seed=35, scenario=_TIGHT, n=8, minutes=5, large=True)
    with report.case("calm: a document longer than the context window gets a 400, is sent once and "
                     "fails") as notes:
        _documents_case(report, fn, notes, seed=36, scenario="calm", n=2, minutes=5, giant=True)


# A seed whose 17 documents (one more than the workers) meet two 503s and two connection resets: 21 attempts
# with the reference solution instead of 1000 documents. Too few attempts, uncaught connection errors and the
# SDK's own retries fail here and in the resets case (tests/test_mistakes.py runs each).
_BAD_DAY_SEED, _BAD_DAY_DOCUMENTS = 45, 17


mistakes(
    "parallelism-documents",
    Mistake("a worker per document: unbounded concurrency", (("for _ in range(16):", "for _ in documents:"),),
            CONCURRENCY),
    Mistake("no tokens bucket, only the requests bucket", (("await tokens.acquire(cost)", "pass"),), TOKENS),
    Mistake("no retry: one attempt per document", (("for attempt in range(1, MAX_ATTEMPTS + 1):",
                                                    "for attempt in range(1, 2):"),), RETRY),
    Mistake("one attempt too few", (("for attempt in range(1, MAX_ATTEMPTS + 1):",
                                     "for attempt in range(1, MAX_ATTEMPTS):"),), RETRY),
    Mistake("retries every status but authentication errors, 400s included",
            (("if not retryable_status(err.status_code):", "if err.status_code in (401, 403):"),), NO_RETRY),
    Mistake("ignores retry-after: the same back-off for a 429 as for a 5xx",
            (('float(err.response.headers.get("retry-after", 0.5 * 2**attempt))', "0.5 * 2**attempt"),), RETRY_AFTER),
    Mistake("sends a request the tokens bucket can never admit (no ValueError handling)",
            (("            try:\n                async with turn:", "            if True:\n                async with turn:"),
             ("            except ValueError:  # larger than a whole minute's tokens: it can never be admitted\n"
              "                return Failed(attempt - 1, \"TooLarge\")\n", "")), TOO_LARGE),
    Mistake("connection errors not caught", (("            except openai.APIConnectionError as err:  # a reset or a "
                                              "timeout: no status, worth another attempt\n"
                                              "                error, wait = type(err).__name__, 0.5 * 2**attempt\n",
                                              ""),), ESCAPED),
    Mistake("takes from the buckets only before the first attempt",
            (("async with turn:\n                    await requests.acquire(1)\n                    await tokens.acquire(cost)",
              "async with turn:\n                    if attempt == 1:\n                        await requests.acquire(1)\n"
              "                        await tokens.acquire(cost)"),), EVERY_ATTEMPT),
    Mistake("no wait after a connection error", (("error, wait = type(err).__name__, 0.5 * 2**attempt",
                                                  "error, wait = type(err).__name__, 0"),), WAIT_RESET),
    Mistake("counts the attempt that was never sent", (('return Failed(attempt - 1, "TooLarge")',
                                                         'return Failed(attempt, "TooLarge")'),), ATTEMPTS_SENT),
    Mistake("waits after the last attempt too", (("            if attempt < MAX_ATTEMPTS:\n                await asyncio.sleep(wait)",
                                                  "            await asyncio.sleep(wait)"),), LAST_WAIT),
    Mistake("keeps only the summaries: failed documents vanish",
            (("return {doc_id: results[doc_id] for doc_id in documents}",
              "return {doc_id: r for doc_id, r in results.items() if isinstance(r, str)}"),), LOST),
    Mistake("results zipped with the documents in completion order",
            (("return {doc_id: results[doc_id] for doc_id in documents}",
              "return dict(zip(documents, results.values()))"),), MATCHED),
    Mistake("leaves the SDK's own retries on", (("client = world.async_openai()",
                                                 "client = world.async_openai(max_retries=2)"),), SDK_RETRIES),
    Mistake("blocks the loop with time.sleep between attempts",
            (("                await asyncio.sleep(wait)", "                __import__('time').sleep(wait)"),),
            BLOCKING_SLEEP),
)
