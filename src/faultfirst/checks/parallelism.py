"""Checks for the lesson "Parallelism and rate limits" (book/tier2/parallelism.md).

`parallelism-bucket` drives the learner's token bucket with timed acquirers on
a world's virtual-time loop and records when each grant happened, so rate,
burst, order and edge cases are measured, not guessed. `parallelism-documents`
runs the learner's whole job over a thousand documents in several seeded
scenarios and reads the world's log: every attempt is matched to its document
by the id in its prompt (the check watches the requests as they reach the
simulated API), so lost, duplicated and unjustified failures can be told apart.

Learner code runs with two bounds: the world's own (attempts, virtual time)
and a real-time watchdog for a coroutine that spins without ever letting the
virtual clock move (`await asyncio.sleep(0)` in a loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import random
import re
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .._guard import Runaway
from .._records import RequestRecord
from .._world import World
from ._framework import Report, checked_world, register, usage

MAX_ATTEMPTS = 4  # the lesson's retry bound per document (its setup cell defines the same name)
MAX_IN_FLIGHT = 16  # the lesson's concurrency bound
_STILL_SECONDS = 5.0  # real seconds a learner's coroutine may run while the virtual clock stands still


# -- running learner coroutines ------------------------------------------------------------------------------

def _run(world: World, make: Callable[[], Any], *, what: str) -> Any:
    """Run the coroutine `make()` returns on the world's loop; stop it if it spins without time moving.

    Afterwards, whatever the learner left running is cancelled, so that no task is left pending
    (asyncio would print "Task was destroyed but it is pending!" into a later cell).
    """
    state: dict[str, Any] = {}
    finished = threading.Event()

    async def guarded() -> Any:
        state["loop"], state["task"] = asyncio.get_running_loop(), asyncio.current_task()
        coro = make()
        if not inspect.isawaitable(coro):
            raise TypeError(f"{what} returned {type(coro).__name__}, not a coroutine: define it with `async def`")
        try:
            return await coro
        except NotImplementedError as err:
            if what == "summarise_all" and "parallelism-bucket" in str(err):
                raise RuntimeError("it uses TokenBucket, which is still the stub of the previous exercise; "
                                   "complete that one first") from None
            raise
        except asyncio.CancelledError:
            if state.get("spinning"):
                raise Runaway(f"kept running for {_STILL_SECONDS:g} s of real time while the virtual clock stood "
                              "still, as a loop around asyncio.sleep(0) does") from None
            raise

    def watch() -> None:
        last, still = world.clock.now(), 0.0
        while not finished.wait(1.0):
            now = world.clock.now()
            last, still = now, (still + 1.0 if now == last else 0.0)
            if still >= _STILL_SECONDS and "task" in state:
                state["spinning"] = True
                state["loop"].call_soon_threadsafe(state["task"].cancel)
                return

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()
    try:
        return world.run(guarded())
    finally:
        finished.set()
        _cancel_leftovers(world)


def _cancel_leftovers(world: World) -> None:
    world.clock.limits = world._api.limits = None  # the case is over; cleaning up must not count as running away

    async def cancel() -> None:
        rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        if rest:
            await asyncio.wait(rest, timeout=1.0)
        for task in rest:
            if not task.done():
                task._log_destroy_pending = False  # type: ignore[attr-defined]  # it ignored cancellation

    with contextlib.suppress(Exception):  # a learner task that fails while being cancelled changes nothing here
        world.run(cancel())


# -- parallelism-bucket ----------------------------------------------------------------------------------------

@dataclass
class _Grants:
    """When each acquire returned, and for how much, in virtual seconds."""

    times: list[tuple[float, float, int]] = field(default_factory=list)  # (time, amount, caller number)


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
                capacity: float, period: float, max_seconds: float = 4 * 3600) -> _Grants:
    """Build a bucket inside the world's loop and run `scenario(bucket, grants)` there."""
    world = checked_world(seed=0, max_attempts=0, max_seconds=max_seconds)
    grants = _Grants()

    async def main() -> None:
        bucket = _make_bucket(cls, capacity, period)
        await scenario(bucket, grants)

    report.call(_run, world, main, what="acquire()")
    return grants


def _check_rate(report: Report, grants: _Grants, *, capacity: float, period: float) -> None:
    """In any stretch of time, at most a full bucket plus what refills during it may have been granted."""
    rate = capacity / period
    times = sorted((when, amount) for when, amount, _ in grants.times)
    starts = [i for i, (when, _) in enumerate(times) if i == 0 or when > times[i - 1][0] + 1e-9]
    prefix = [0.0]
    for _, amount in times:
        prefix.append(prefix[-1] + amount)
    for i in starts:
        for j in range(i, len(times)):
            taken, span = prefix[j + 1] - prefix[i], times[j][0] - times[i][0]
            allowed = capacity + rate * span
            when = (f"at t={times[i][0]:.1f} s" if span == 0 else
                    f"between t={times[i][0]:.1f} s and t={times[j][0]:.1f} s")
            report.expect(taken <= allowed + 1e-6,
                          f"it granted {taken:g} units {when}; a bucket of {capacity:g} refilling at {capacity:g} per {period:g} s allows at most "
                          f"{allowed:.1f} (does it refill on the loop's clock, and never above capacity?)")


@register("parallelism-bucket")
def check_bucket(cls: Callable[..., Any], report: Report) -> None:
    with report.case("a fresh bucket lets a burst of `capacity` through at once") as notes:
        async def burst(bucket: Any, grants: _Grants) -> None:
            await asyncio.gather(*(_acquire(bucket, 1, grants, n) for n in range(10)))
        grants = _bucket_run(report, cls, burst, capacity=10, period=60)
        notes.detail = f"10 acquire(1) granted by t={max((t for t, _, _ in grants.times), default=0):.2f} s"
        report.expect(len(grants.times) == 10, f"only {len(grants.times)} of 10 acquires returned")
        late = [t for t, _, _ in grants.times if t > 1e-6]
        report.expect(not late, f"{len(late)} of the first 10 units waited (the first at t={min(late, default=0):.2f} s)"
                                "; a new bucket starts full")

    with report.case("then it refills at capacity per period, and no faster",
                     hint="Refill by (now - updated) * capacity / period with now = asyncio.get_running_loop().time(), "
                          "never above capacity; sleep until the missing amount has dripped in.") as notes:
        async def steady(bucket: Any, grants: _Grants) -> None:
            for n in range(40):  # 10 at once, then one every 6 s
                await _acquire(bucket, 1, grants, n)
            for n in range(40, 60):  # then in twos, by two callers at once: done at t=420
                await asyncio.gather(_acquire(bucket, 1, grants, n), _acquire(bucket, 1, grants, 100 + n))
            await asyncio.sleep(600)  # idle for ten minutes: the bucket fills up, and no further
            await asyncio.gather(*(_acquire(bucket, 1, grants, 200 + n) for n in range(25)))
        grants = _bucket_run(report, cls, steady, capacity=10, period=60)
        last = max((t for t, _, _ in grants.times), default=0.0)
        notes.detail = f"{len(grants.times)} acquires of 1 from a bucket of 10 per minute, the last at t={last:.1f} s"
        report.expect(len(grants.times) == 105, f"only {len(grants.times)} of 105 acquires returned")
        _check_rate(report, grants, capacity=10, period=60)
        due = 420 + 600 + 15 * 6.0  # 70 units at 6 s each after the first burst; after the idle, 10 at once and 15 more
        report.expect(last <= due + 2, f"the last unit came at t={last:.1f} s; at 10 per minute it is due by "
                                       f"t={due:.0f} s (does it wait longer than it must?)")

    with report.case("a large acquire is not starved by a stream of small ones (first come, first served)",
                     hint="Let one waiter at a time wait for its amount, in arrival order: an asyncio.Lock held "
                          "while waiting does that.") as notes:
        async def contested(bucket: Any, grants: _Grants) -> None:
            await _acquire(bucket, 100, grants, 0)  # empty it
            tasks = [asyncio.create_task(_acquire(bucket, 100, grants, 1))]  # the large one waits first
            for n in range(2, 602):  # then a small one every 0.5 s: 2 per second, more than the refill
                await asyncio.sleep(0.5)
                tasks.append(asyncio.create_task(_acquire(bucket, 1, grants, n)))
            await asyncio.gather(*tasks)
        grants = _bucket_run(report, cls, contested, capacity=100, period=60)
        big = next((t for t, amount, n in grants.times if n == 1), None)
        notes.detail = ("the acquire(100) never returned" if big is None else
                        f"the acquire(100) waited {big:.1f} s; {len(grants.times) - 2} small acquires followed")
        report.expect(big is not None, "the acquire(100) never returned")
        report.expect(big <= 61.0, f"the acquire(100) that asked first waited {big:.0f} s, while small acquires that "
                                   "asked later went ahead of it; it should be served after one refill (60 s)")
        early = [n for t, _, n in grants.times if n >= 2 and t < big - 1e-9]
        report.expect(not early, f"{len(early)} small acquires that asked after the large one were served before it")
        _check_rate(report, grants, capacity=100, period=60)

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
                      "acquire(0) waited; a request that costs nothing has nothing to wait for")

    with report.case("acquire(more than capacity) raises ValueError at once, instead of waiting forever",
                     hint="No amount of waiting fills a bucket past its capacity: check the amount first.") as notes:
        outcome: dict[str, Any] = {}

        async def too_big(bucket: Any, grants: _Grants) -> None:
            try:
                async with asyncio.timeout(3600):
                    await _acquire(bucket, 11, grants, 0)
            except ValueError as err:
                outcome["error"] = err
            except TimeoutError:
                outcome["hung"] = True
            outcome["at"] = asyncio.get_running_loop().time()
        grants = _bucket_run(report, cls, too_big, capacity=10, period=60)
        notes.detail = ("still waiting after an hour" if outcome.get("hung") else
                        f"{'raised' if 'error' in outcome else 'returned'} at t={outcome.get('at', 0):.1f} s")
        report.expect(not outcome.get("hung"), "acquire(11) on a bucket of 10 was still waiting after an hour; it can "
                                               "never be served, so raise ValueError instead of waiting")
        report.expect("error" in outcome, "acquire(11) on a bucket of 10 returned instead of raising ValueError")
        report.expect(outcome["at"] <= 1e-6, f"acquire(11) raised only after {outcome['at']:.0f} s; raise before waiting")


# -- parallelism-documents -------------------------------------------------------------------------------------

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
_GIANT = "doc-9999"


@lru_cache(maxsize=8)
def documents(n: int, seed: int, *, long_first: int = 0, giant: bool = False) -> tuple[tuple[str, str], ...]:
    """`n` short papers with ids doc-0000... and numbered titles, the first `long_first` of them with a long table.

    The long ones (about 3,500 tokens each) make the tokens-per-minute limit bind before the requests limit does.
    `giant` adds one document too long for any model's context window and for the tightest tokens limit.
    """
    rng = random.Random(f"parallelism:{seed}")
    found = []
    for i in range(n):
        field_ = rng.choice(_FIELDS)
        body = " ".join(rng.choice(_SENTENCES).format(f=field_, n=rng.randint(12, 4000), y=rng.randint(2, 12))
                        for _ in range(rng.randint(3, 8)))
        if i < long_first:
            body += " Appendix table, site and reading: " + ", ".join(
                f"{rng.randint(1, 400)} {rng.randint(0, 99)}" for _ in range(700))
        found.append((f"doc-{i:04d}", f"Paper {seed}-{i} studies {field_}. {body}"))
    if giant:  # about 150,000 tokens
        found.append((_GIANT, "Appendix. " + "Table 3 lists every measurement with its uncertainty. " * 16_000))
    return tuple(found)


class _Watch:
    """Tags each attempt with the document id in its body, and keeps the text of every successful reply."""

    def __init__(self, world: World) -> None:
        self.tagged: list[tuple[RequestRecord, str | None]] = []
        self.texts: dict[int, str | None] = {}
        plan = world._api.plan

        def watched(provider: str, request: Any, now: float) -> Any:
            outcome = plan(provider, request, now)
            ids = set(_ID.findall(request.content or b""))
            doc = ids.pop().decode() if len(ids) == 1 else None
            self.tagged.append((outcome.record, doc))
            if doc is not None and outcome.status == 200 and outcome.body and outcome.failure is None:
                self.texts[id(outcome.record)] = _reply_text(outcome.body)
            return outcome

        world._api.plan = watched  # this world only; it is thrown away after the case


def _reply_text(body: bytes) -> str | None:
    """The text of a Chat Completions or Messages reply body (None for any other shape)."""
    try:
        data = json.loads(body)
        if "choices" in data:
            return data["choices"][0]["message"]["content"] or ""
        if data.get("type") == "message":
            return "".join(block.get("text", "") for block in data["content"] if block.get("type") == "text")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    return None


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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _sample(ids: list[str], n: int = 3) -> str:
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def _documents_case(report: Report, fn: Callable[..., Any], notes: Any, *, seed: int, scenario: str, n: int,
                    minutes: float, long_first: int = 0, giant: bool = False, max_429: int = 10) -> None:
    docs = dict(documents(n, seed, long_first=long_first, giant=giant))
    world = checked_world(seed=seed, scenario=scenario, max_attempts=6 * len(docs) + 50, max_seconds=4 * 3600)
    watch = _Watch(world)
    limits = world.scenario.rate_limits
    result = report.call(_run, world, lambda: fn(world, dict(docs), requests_per_minute=limits.requests_per_minute,
                                                 tokens_per_minute=limits.tokens_per_minute), what="summarise_all")
    records = [r for r, _ in watch.tagged]
    ok_by_doc: dict[str, list[RequestRecord]] = {}
    tried: dict[str, int] = {}
    for record, doc in watch.tagged:
        if doc is not None:
            tried[doc] = tried.get(doc, 0) + 1
            if record.ok:
                ok_by_doc.setdefault(doc, []).append(record)
    got = result if isinstance(result, Mapping) else {}
    lost = [d for d in docs if d not in got]
    failed = [d for d in docs if _is_failure(got.get(d))]
    limited = sum(r.status == 429 for r in records)
    most = max_in_flight(records)
    notes.detail = (f"{usage(world, lost=len(lost))}; {len(failed)} failed, {limited} rate-limited (429), "
                    f"at most {most} in flight")

    report.expect(isinstance(result, Mapping), f"should return a dict of document id -> summary or Failed, got "
                                               f"{type(result).__name__}")
    report.expect(not lost, f"{len(lost)} of {len(docs)} documents missing from the result ({_sample(lost)}); "
                            "every id must appear once, with a summary or a Failed")
    extra = [k for k in got if k not in docs]
    report.expect(not extra, f"the result has ids that are not documents: {_sample([str(k) for k in extra])}")
    wrong_type = [d for d in docs if not isinstance(got[d], str) and not _is_failure(got[d])]
    report.expect(not wrong_type, f"{_sample(wrong_type)} map to {type(got[wrong_type[0]]).__name__ if wrong_type else ''}"
                                  "; each value must be the summary (a str) or a Failed(attempts, error)")
    untagged = sum(doc is None for r, doc in watch.tagged if r.endpoint == "chat.completions")
    report.expect(not untagged, f"{_count(untagged, 'request')} carried no single document id in the prompt; put "
                                "the id (such as doc-0042) in each prompt so that attempts can be matched to documents")
    twice = sorted(d for d, oks in ok_by_doc.items() if len(oks) > 1)
    report.expect(not twice, f"{_count(len(twice), 'document')} summarised more than once ({_sample(twice)}); "
                             "each successful call is paid for, so stop at the first success")
    for doc in docs:
        value = got[doc]
        if isinstance(value, str):
            oks = ok_by_doc.get(doc)
            report.expect(bool(oks), f"{doc} has a summary, but no call for it succeeded")
            reply = watch.texts.get(id(oks[0]))  # type: ignore[index]
            report.expect(reply is None or value == reply,
                          f"the summary returned for {doc} is not the reply to {doc}'s request (results matched to "
                          "the wrong documents?)")
    unjustified = [d for d in failed if d != _GIANT and (tried.get(d, 0) < MAX_ATTEMPTS or d in ok_by_doc)]
    if unjustified:
        d = unjustified[0]
        report.expect(False, f"{_count(len(unjustified), 'document')} given up on without cause "
                             f"({_sample(unjustified)}): {d} had {_count(tried.get(d, 0), 'attempt')}"
                             + (" and one succeeded" if d in ok_by_doc else
                                f"; retry 429s, 5xx and connection errors up to {MAX_ATTEMPTS} attempts"))
    if giant:
        report.expect(_is_failure(got[_GIANT]), f"{_GIANT} is longer than the model's context window, so it cannot "
                                                "succeed; it should be a Failed")
        report.expect(tried.get(_GIANT, 0) <= 1, f"{_GIANT} was sent {tried.get(_GIANT, 0)} times; a 400, or a "
                                                 "request larger than the bucket, will never succeed: don't retry it")
    report.expect(most <= MAX_IN_FLIGHT, f"{most} requests were in flight at once; the limit is {MAX_IN_FLIGHT}")
    report.expect(limited <= max_429, f"{_count(limited, 'attempt')} refused with 429; a client-side limiter that "
                                      f"charges what the server charges keeps that near zero (at most {max_429} allowed)")
    took = world.clock.now() / 60
    report.expect(took <= minutes, f"took {took:.1f} simulated minutes; under these limits it should take at most "
                                   f"{minutes:g} (is the limiter slower than the limit, or are retries waiting too long?)")


@register("parallelism-documents")
def check_documents(fn: Callable[..., Any], report: Report) -> None:
    with report.case("calm, 30 documents: one summary per id, each the reply to its own document") as notes:
        _documents_case(report, fn, notes, seed=31, scenario="calm", n=30, minutes=5)
    with report.case("rate-limited (60 RPM, 100k TPM), 150 documents, long ones first: the tokens limit binds",
                     hint="Two buckets, one for requests and one for tokens (input + max_tokens), taken together "
                          "under one lock right before every attempt, retries included.") as notes:
        _documents_case(report, fn, notes, seed=32, scenario="rate-limited", n=150, long_first=60, minutes=8)
    for seed, n in ((33, 1000), (34, 1000), (36, 1000)):
        with report.case(f"bad-day (seed {seed}), {n:,} documents: overloads, resets and drift; nothing lost",
                         hint=f"Retry RateLimitError, InternalServerError and APIConnectionError up to {MAX_ATTEMPTS} "
                              "attempts, waiting between them; return a Failed only after the last.") as notes:
            _documents_case(report, fn, notes, seed=seed, scenario="bad-day", n=n, minutes=15)
    with report.case("a document longer than the model's context fails at once, and the others still finish",
                     hint="A 400 (BadRequestError) fails the same way every time: return a Failed without "
                          "retrying. A request larger than the tokens bucket can never be admitted either.") as notes:
        _documents_case(report, fn, notes, seed=35, scenario="rate-limited", n=20, minutes=5, giant=True)
