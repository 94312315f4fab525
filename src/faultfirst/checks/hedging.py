"""Checks for the lesson "Tail latency and hedged requests" (book/tier2/hedging.md).

`hedging-call` runs the learner's `hedged(attempt, *, delay)` two ways. Scripted
attempts (a fake that sleeps a set number of virtual seconds, then answers or
raises) pin the timing rules exactly: when the hedge starts, who wins, what is
cancelled. Real SDK attempts in seeded worlds (calm, overloaded, outage) show
the same rules hold against the simulated API, with the tail, the extra
attempts and the cost measured. After every call the check looks for anything
the function left running (a task not done, an attempt still in flight), then
cleans it up itself so that one mistake does not leak into the next case.

`hedging-budget` drives the learner's `HedgePolicy` with scripted latencies
(pure cases) and with steady traffic through a reference hedged call in calm
and latency-drift worlds. Unhedged baselines come from the world's own latency
model with the same seed, which gives exactly what unhedged calls would have
seen, at no cost.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from numbers import Real
from typing import Any

import httpx2
import openai

from .._guard import Runaway
from .._latency import LatencyModel
from .._world import World
from ._framework import Report, bounded, checked_world, register, usage

MODEL = "gpt-fast"
PROMPT = "Summarise in a few sentences why a search page should not wait for a slow model call."
_MAX_TOKENS = 300
_EPS = 1e-6
_WATCHDOG = 600.0  # virtual seconds one call may take before it is stopped (none needs more than a minute)


def nearest_rank(values: list[float], p: float) -> float:
    """The smallest value with at least p% of `values` at or below it (values non-empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered) / 100) - 1)]


# -- reference implementations ------------------------------------------------------------------------------------

async def reference_hedged(attempt: Callable[[], Any], *, delay: float) -> Any:
    """What a correct `hedged` does (the lesson's solution)."""
    tasks = [asyncio.ensure_future(attempt())]
    try:
        done, _ = await asyncio.wait(tasks, timeout=delay)
        if not done or tasks[0].exception() is not None:
            tasks.append(asyncio.ensure_future(attempt()))
        error: BaseException | None = None
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is None:
                    return task.result()
                error = task.exception()
        assert error is not None
        raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ReferencePolicy:
    """What a correct `HedgePolicy` does (the lesson's solution)."""

    def __init__(self, *, percentile: float = 95.0, budget: float = 0.10, window: int = 200,
                 min_samples: int = 20) -> None:
        self.percentile, self.budget, self.window, self.min_samples = percentile, budget, window, min_samples
        self.latencies: deque[float] = deque(maxlen=window)
        self.hedges: deque[bool] = deque(maxlen=window)

    def delay(self) -> float:
        if len(self.latencies) < self.min_samples or sum(self.hedges) >= self.budget * self.window:
            return math.inf
        return nearest_rank(list(self.latencies), self.percentile)

    def record(self, latency: float, *, hedged: bool) -> None:
        self.latencies.append(latency)
        self.hedges.append(hedged)


# -- scripted attempts ------------------------------------------------------------------------------------------------

def _connection_error() -> openai.APIConnectionError:
    return openai.APIConnectionError(request=httpx2.Request("POST", "https://api.openai.com/v1/chat/completions"))


@dataclass
class _Attempt:
    start: float | None = None  # None: the coroutine was created but never ran
    end: float | None = None
    outcome: str = "never ran"  # 'running', 'answered', 'failed', 'cancelled'


@dataclass
class _Script:
    """A fake `attempt`: the i-th call sleeps plan[i][0] virtual seconds, then answers or raises plan[i][1]."""

    plan: list[tuple[float, BaseException | None]]
    attempts: list[_Attempt] = field(default_factory=list)
    answers: list[object] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    guard: _Guard | None = None
    at_return: list[str] = field(default_factory=list)  # each attempt's outcome when the function returned

    def snapshot(self) -> None:
        self.at_return = [a.outcome for a in self.attempts]

    def __call__(self) -> Any:
        if self.guard is not None:
            self.guard.count(len(self.attempts) + 1)
        i = len(self.attempts)
        latency, error = self.plan[i] if i < len(self.plan) else (1_000.0, None)
        state = _Attempt()
        self.attempts.append(state)
        answer = _Answer(i + 1)
        self.answers.append(answer)

        async def run() -> object:
            loop = asyncio.get_running_loop()
            state.start, state.outcome = loop.time(), "running"
            try:
                await asyncio.sleep(latency)
            except asyncio.CancelledError:
                state.end, state.outcome = loop.time(), "cancelled"
                raise
            state.end = loop.time()
            if error is not None:
                state.outcome = "failed"
                self.errors.append(error)
                raise error
            state.outcome = "answered"
            return answer

        return run()


@dataclass(frozen=True)
class _Answer:
    """What a scripted attempt returns: a value whose identity says which attempt answered."""

    number: int

    def __repr__(self) -> str:
        return f"<answer of attempt {self.number}>"


class _Guard:
    """Stops a function that starts attempts without end, even one that swallows the exceptions of its tasks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.tripped = False
        self.driver: asyncio.Task[Any] | None = None

    def count(self, started: int) -> None:
        if started > self.limit:
            self.tripped = True
            if self.driver is not None:
                self.driver.cancel()
            raise Runaway(f"started more than {self.limit} attempts")


@dataclass
class _Run:
    """How one call of the learner's function ended, seen from the caller."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False  # the case's own deadline (asyncio.timeout around the call) fired
    finished_at: float = 0.0
    left_running: int = 0  # tasks other than the caller's that were not done when the function returned


async def _call(fn: Callable[..., Any], attempt: Callable[[], Any], delay: float, *,
                deadline: float | None = None, on_return: Callable[[], None] | None = None) -> _Run:
    """Await the learner's function once; note what it left running; then cancel and await that, to clean up."""
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    before = {t for t in asyncio.all_tasks() if t is not me}
    run = _Run()
    try:
        async with asyncio.timeout(_WATCHDOG) as watchdog:
            try:
                if deadline is None:
                    run.value = await _awaitable(fn(attempt, delay=delay))
                else:
                    async with asyncio.timeout(deadline):
                        run.value = await _awaitable(fn(attempt, delay=delay))
            except TimeoutError:
                if deadline is None or watchdog.expired():
                    raise
                run.timed_out = True
    except (NotImplementedError, _NotAsync):
        raise
    except TimeoutError as err:
        if watchdog.expired():
            raise Runaway(f"had not returned after {_WATCHDOG:g} simulated seconds") from None
        run.error = err
    except Exception as err:  # noqa: BLE001 - the learner's exceptions are what the cases look at
        run.error = err
    run.finished_at = loop.time()
    leftover = [t for t in asyncio.all_tasks() if t is not me and t not in before and not t.done()]
    run.left_running = len(leftover)
    if on_return is not None:
        on_return()
    await _cancel(leftover)
    return run


class _NotAsync(TypeError):
    """The learner's function returned no coroutine; reported as the TypeError it is."""


_NotAsync.__name__ = "TypeError"


async def _awaitable(value: Any) -> Any:
    if not inspect.isawaitable(value):
        raise _NotAsync(f"calling it returned {type(value).__name__}, not a coroutine: write it as `async def`")
    return await value


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _quiet(world: World) -> World:
    """Learner mistakes (a task left pending, an exception never retrieved) are reported by the case, not logged."""
    world._runner.loop.set_exception_handler(lambda loop, context: None)
    return world


def _finish(report: Report, world: World, main: Callable[[], Any]) -> Any:
    """Run `main()` in `world`; whatever happens, cancel what the learner's code left behind in it."""
    _skip_if_stuck(report)
    try:
        return report.call(lambda: world.run(main()))
    finally:
        if world._runner.loop.is_running():
            # Code that never awaits (`while True: pass` in a coroutine) still holds the world's thread after
            # the real-time watchdog gave up on it; nothing can stop it, so start no more worlds.
            report.stuck = True  # type: ignore[attr-defined]
        else:
            async def cleanup() -> None:
                await _cancel([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])
            world.clock.limits = world._api.limits = None
            try:
                world.run(cleanup())
            except BaseException:  # noqa: BLE001 - best effort: the world is thrown away next
                pass


def _skip_if_stuck(report: Report) -> None:
    report.expect(not getattr(report, "stuck", False),
                  "not run: an earlier case never returned, and its code is still running (a loop that never awaits?)")


def _run_script(report: Report, fn: Callable[..., Any], plan: list[tuple[float, BaseException | None]], *,
                delay: float, deadline: float | None = None) -> tuple[_Run, _Script]:
    world = _quiet(checked_world(seed=0, max_attempts=50, max_seconds=_WATCHDOG * 2))
    guard = _Guard(20)
    script = _Script(plan, guard=guard)

    async def main() -> _Run:
        guard.driver = asyncio.current_task()
        try:
            return await _call(fn, script, delay, deadline=deadline, on_return=script.snapshot)
        except asyncio.CancelledError:
            if guard.tripped:
                raise Runaway(f"started more than {guard.limit} attempts") from None
            raise

    return _finish(report, world, main), script


def _describe(script: _Script) -> str:
    parts = []
    for i, a in enumerate(script.attempts, 1):
        then = script.at_return[i - 1] if i <= len(script.at_return) else a.outcome
        if a.start is None:
            parts.append(f"attempt {i} was created but never awaited")
        elif then == "running":
            parts.append(f"attempt {i} started at t={a.start:g}, still running when the function returned")
        else:
            parts.append(f"attempt {i} started at t={a.start:g}, {then} at t={a.end:g}")
    return "; ".join(parts) if parts else "no attempt was started"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _expect_started(report: Report, script: _Script, times: list[float]) -> None:
    started = [a.start for a in script.attempts if a.start is not None]
    report.expect(len(script.attempts) == len(times),
                  f"started {_n(len(script.attempts), 'attempt')}, expected {len(times)} ({_describe(script)})")
    report.expect(len(started) == len(times), f"an attempt was created but never run ({_describe(script)})")
    for i, (got, want) in enumerate(zip(started, times), 1):
        report.expect(abs(got - want) < _EPS, f"attempt {i} should start at t={want:g}, started at t={got:g} "
                                              f"({_describe(script)})")


def _expect_returned(report: Report, run: _Run, script: _Script, number: int, at: float) -> None:
    if run.error is not None:
        report.expect(False, f"raised {type(run.error).__name__}: {run.error} ({_describe(script)})")
    report.expect(run.value is script.answers[number - 1],
                  f"should return what attempt {number} returned, returned {run.value!r} ({_describe(script)})")
    report.expect(abs(run.finished_at - at) < _EPS,
                  f"should return at t={at:g}, when attempt {number} answered; returned at t={run.finished_at:g}")


def _expect_clean(report: Report, run: _Run, script: _Script, *, cancelled: list[int]) -> None:
    running = [str(i) for i, outcome in enumerate(script.at_return, 1) if outcome == "running"]
    if running or run.left_running:
        which = (f"attempt {running[0]} was still running" if len(running) == 1
                 else f"attempts {' and '.join(running)} were still running" if running
                 else "an attempt was still running")
        report.expect(False, f"when it returned, {which} ({run.left_running} task(s) not done): cancel() only "
                             "asks; await the cancelled task so that it has finished before you return")
    for number in cancelled:
        outcome = script.at_return[number - 1] if number <= len(script.at_return) else "never started"
        report.expect(outcome == "cancelled", f"attempt {number} should have been cancelled; it {outcome}")


# -- real attempts in a world -----------------------------------------------------------------------------------------

@dataclass
class _Calls:
    """What a sequence of hedged calls in one world did, call by call."""

    world: World
    delay: float
    latencies: list[float] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    failures: int = 0
    problems: list[str] = field(default_factory=list)


def _world_attempt(world: World, guard: _Guard) -> tuple[Callable[[], Any], list[Any], list[BaseException]]:
    """An `attempt` that makes one real call (at temperature 0, so every reply is as long), and what it saw."""
    client = world.async_openai()
    answers: list[Any] = []
    errors: list[BaseException] = []
    started = [0]

    def attempt() -> Any:
        started[0] += 1
        guard.count(started[0])

        async def one() -> Any:
            try:
                completion = await client.chat.completions.create(
                    model=MODEL, max_tokens=_MAX_TOKENS, temperature=0, messages=[{"role": "user", "content": PROMPT}])
            except Exception as err:
                errors.append(err)
                raise
            answers.append(completion)
            return completion
        return one()
    return attempt, answers, errors


def _run_calls(report: Report, fn: Callable[..., Any], *, seed: int, scenario: str, calls: int,
               delay: float, stop_at_first: bool = True) -> _Calls:
    """`calls` hedged calls one after another; every call checked against the spec as it ends."""
    world = _quiet(checked_world(seed=seed, scenario=scenario, max_attempts=2 * calls + 20,
                                 max_seconds=calls * 120.0 + 2 * _WATCHDOG))
    guard = _Guard(2 * calls + 10)
    attempt, answers, errors = _world_attempt(world, guard)
    result = _Calls(world, delay)

    async def main() -> None:
        guard.driver = asyncio.current_task()
        loop = asyncio.get_running_loop()
        try:
            for _ in range(calls):
                first_record, first_answer, first_error = len(world.requests), len(answers), len(errors)
                began = loop.time()
                run = await _call(fn, attempt, delay)
                problem = _judge(world.requests[first_record:], began, delay, run,
                                 answers[first_answer:], errors[first_error:])
                result.latencies.append(run.finished_at - began)
                result.attempts.append(len(world.requests) - first_record)
                result.failures += run.error is not None
                if problem:
                    result.problems.append(problem)
                    if stop_at_first:
                        return
        except asyncio.CancelledError:
            if guard.tripped:
                raise Runaway(f"started more than {guard.limit} attempts for {calls} calls") from None
            raise

    _finish(report, world, main)
    return result


def _judge(records: list[Any], began: float, delay: float, run: _Run, answers: list[Any],
           errors: list[BaseException]) -> str | None:
    """What, if anything, one hedged call did against the spec."""
    now, at = run.finished_at, began + delay
    if run.left_running or any(r.end > now + _EPS and r.error != "cancelled" for r in records):
        return (f"at t={now:.2f} it returned while an attempt was still in flight ({run.left_running} task(s) not "
                "done): cancel the other attempt and await it, so that it is finished when you return")
    if not records:
        return "made no request"
    if len(records) > 2:
        return f"one call made {len(records)} attempts; never more than two (the first and one hedge)"
    first = records[0]
    first_failed = first.error not in (None, "cancelled") or (first.status is not None and first.status >= 400)
    if first.ok and first.end < at - _EPS and len(records) == 2:
        return (f"the first attempt answered after {first.latency:.2f} s, within the delay of {delay:.2f} s, "
                "and a second attempt was still sent: hedge only when the first has not answered by the delay")
    if first_failed and first.end < at - _EPS:
        if len(records) == 1:
            return (f"the first attempt failed ({first.status or first.error}) after {first.latency:.2f} s, before "
                    f"the delay, and no hedge was sent: start the second attempt at once when the first fails")
        if abs(records[1].start - first.end) > _EPS:
            return (f"the first attempt failed at t={first.end - began:.2f} s into the call but the hedge started "
                    f"at t={records[1].start - began:.2f} s: start it at once, not at the delay")
    elif first.end > at + _EPS or first.error == "cancelled":
        if len(records) == 1:
            return (f"the first attempt was still running at the delay ({delay:.2f} s) and no hedge was sent")
        if abs(records[1].start - at) > _EPS:
            return (f"the hedge started {records[1].start - began:.2f} s into the call; it should start when the "
                    f"delay ({delay:.2f} s) runs out")
    if answers:
        if run.error is not None:
            return (f"an attempt answered, yet the call raised {type(run.error).__name__}: return the first success; "
                    "a failed attempt ends the call only when the other has failed too")
        if not any(run.value is a for a in answers):
            return f"returned {type(run.value).__name__}, not the completion an attempt returned"
        if run.value is not answers[0]:
            return "returned the completion of the attempt that answered second; return the first success"
        winner_end = min(r.end for r in records if r.ok)
        if now > winner_end + _EPS:
            return (f"returned {now - winner_end:.2f} s after the first success: return as soon as one attempt "
                    "answers, and cancel the other rather than waiting for it")
        return None
    if run.error is None:
        return f"both attempts failed, yet the call returned {run.value!r} instead of raising"
    if not any(run.error is e for e in errors):
        return (f"both attempts failed and it raised {type(run.error).__name__}; re-raise an attempt's own "
                "exception (the SDK's error), so that callers can catch openai.APIError")
    return None


def _baseline(seed: int, scenario: str, starts: list[float]) -> list[float]:
    """The latencies unhedged calls starting at `starts` would have had in this world: its own latency model."""
    spec = World().catalog[MODEL]
    model = LatencyModel(seed, drift=World(seed=seed, scenario=scenario).scenario.drift)
    tokens = _reply_tokens()
    return [model.sample(spec, t).total(tokens) for t in starts]


@lru_cache(maxsize=1)
def _reply_tokens() -> int:
    """How many tokens the check's prompt is answered with (at temperature 0 the reply never varies)."""
    completion = World(seed=0).openai().chat.completions.create(
        model=MODEL, max_tokens=_MAX_TOKENS, temperature=0, messages=[{"role": "user", "content": PROMPT}])
    return completion.usage.completion_tokens


def _sequential_baseline(seed: int, calls: int) -> list[float]:
    """Unhedged calls one after another in a calm world: each starts when the last ends."""
    spec = World().catalog[MODEL]
    model = LatencyModel(seed, drift=False)
    tokens = _reply_tokens()
    return [model.sample(spec, 0.0).total(tokens) for _ in range(calls)]


# -- hedging-call ----------------------------------------------------------------------------------------------------

_CALM_SEEDS = (101, 102, 103)
_CALM_CALLS = 200


@register("hedging-call")
def check_hedged(fn: Callable[..., Any], report: Report) -> None:
    with report.case("an answer within the delay: one attempt, no hedge, its completion returned") as notes:
        calls = _run_calls(report, fn, seed=7, scenario="calm", calls=1, delay=30.0)
        notes.detail = usage(calls.world)
        report.expect(not calls.problems, calls.problems[0] if calls.problems else "")
        report.expect(calls.attempts == [1], f"made {calls.attempts[0] if calls.attempts else 0} attempts; "
                                             "an answer within the delay needs exactly one")

    with report.case("a slow first attempt: the hedge starts at the delay, wins, and the first is cancelled",
                     hint="asyncio.wait({first}, timeout=delay) returns after `delay` without cancelling anything; "
                          "then start the second task and wait with return_when=FIRST_COMPLETED.") as notes:
        run, script = _run_script(report, fn, [(10.0, None), (1.0, None)], delay=2.0)
        notes.detail = f"scripted: attempt 1 takes 10 s, attempt 2 takes 1 s, delay 2 s; {_describe(script)}"
        _expect_started(report, script, [0.0, 2.0])
        _expect_returned(report, run, script, 2, at=3.0)
        _expect_clean(report, run, script, cancelled=[1])

    with report.case("the first attempt can still win after the hedge has started") as notes:
        run, script = _run_script(report, fn, [(3.0, None), (5.0, None)], delay=2.0)
        notes.detail = f"scripted: 3 s and 5 s, delay 2 s; {_describe(script)}"
        _expect_started(report, script, [0.0, 2.0])
        _expect_returned(report, run, script, 1, at=3.0)
        _expect_clean(report, run, script, cancelled=[2])

    with report.case("a failure before the delay starts the hedge at once",
                     hint="A failed first attempt is a surer sign than slowness: if it has finished with an exception "
                          "when the wait ends, start the second attempt immediately.") as notes:
        run, script = _run_script(report, fn, [(0.5, _connection_error()), (1.0, None)], delay=2.0)
        notes.detail = f"scripted: attempt 1 fails after 0.5 s, attempt 2 takes 1 s, delay 2 s; {_describe(script)}"
        _expect_started(report, script, [0.0, 0.5])
        _expect_returned(report, run, script, 2, at=1.5)
        _expect_clean(report, run, script, cancelled=[])

    with report.case("a hedge that fails does not end the call while the first attempt can still answer",
                     hint="FIRST_COMPLETED returns failures too: if the task that finished raised, keep waiting for "
                          "the other one.") as notes:
        run, script = _run_script(report, fn, [(6.0, None), (0.5, _connection_error())], delay=2.0)
        notes.detail = f"scripted: attempt 1 takes 6 s, attempt 2 fails after 0.5 s, delay 2 s; {_describe(script)}"
        _expect_started(report, script, [0.0, 2.0])
        _expect_returned(report, run, script, 1, at=6.0)
        _expect_clean(report, run, script, cancelled=[])

    with report.case("both attempts fail (an outage): the SDK's own error is raised, after exactly two attempts",
                     hint="Keep the exception of the attempt that failed last and `raise` it.") as notes:
        calls = _run_calls(report, fn, seed=3, scenario="outage", calls=1, delay=2.0)
        notes.detail = usage(calls.world, lost=calls.failures)
        report.expect(not calls.problems, calls.problems[0] if calls.problems else "")
        report.expect(calls.attempts == [2], f"made {calls.attempts[0] if calls.attempts else 0} attempts; a failed "
                                             "first attempt gets one hedge, and a failed hedge ends the call")

    with report.case("a deadline around the call cancels both attempts",
                     hint="If the caller cancels `hedged` (asyncio.timeout), asyncio.wait does not cancel the tasks "
                          "it waits on: cancel and await them in a `finally:` block.") as notes:
        run, script = _run_script(report, fn, [(100.0, None), (100.0, None)], delay=1.0, deadline=5.0)
        notes.detail = f"scripted: two 100 s attempts, delay 1 s, asyncio.timeout(5); {_describe(script)}"
        report.expect(run.timed_out, "the caller's asyncio.timeout(5) should raise TimeoutError at t=5; "
                                     + (f"the call raised {type(run.error).__name__}" if run.error is not None
                                        else f"it returned {run.value!r} at t={run.finished_at:g}"))
        _expect_started(report, script, [0.0, 1.0])
        _expect_clean(report, run, script, cancelled=[1, 2])

    with report.case("overloaded, 150 calls: a failure before the delay is hedged at once, never a third attempt",
                     hint="In this scenario 15% of attempts are refused within a fraction of a second.") as notes:
        calls = _run_calls(report, fn, seed=11, scenario="overloaded", calls=150, delay=2.5)
        notes.detail = (f"{usage(calls.world, lost=calls.failures)} (failed calls; unhedged, about 17% of calls "
                        f"would fail)")
        report.expect(not calls.problems, calls.problems[0] if calls.problems else "")
        report.expect(len(calls.attempts) == 150, f"stopped after {len(calls.attempts)} calls")
        report.expect(calls.failures <= 10, f"{calls.failures} of 150 calls failed; with a hedge after each early "
                                            "failure only calls whose two attempts both fail should")

    with report.case(f"calm, {len(_CALM_SEEDS)} seeds x {_CALM_CALLS} calls, delay = p95: the tail is cut for a few "
                     "percent more attempts") as notes:
        hedged_latencies: list[float] = []
        unhedged: list[float] = []
        attempts = 0
        worlds = []
        delay = nearest_rank(_sequential_baseline(100, 1000), 95)  # from another day's log
        for seed in _CALM_SEEDS:
            base = _sequential_baseline(seed, _CALM_CALLS)
            calls = _run_calls(report, fn, seed=seed, scenario="calm", calls=_CALM_CALLS, delay=delay)
            worlds.append(calls.world)
            report.expect(not calls.problems, f"seed {seed}: {calls.problems[0]}" if calls.problems else "")
            hedged_latencies += calls.latencies
            unhedged += base
            attempts += sum(calls.attempts)
        n = len(hedged_latencies)
        extra = attempts / n - 1
        p99, p999 = nearest_rank(hedged_latencies, 99), nearest_rank(hedged_latencies, 99.9)
        u99, u999 = nearest_rank(unhedged, 99), nearest_rank(unhedged, 99.9)
        cost = sum(r.cost_usd for w in worlds for r in w.requests)
        notes.detail = (f"delay {delay:.2f} s; {attempts:,} attempts for {n} calls ({extra:.1%} extra), ${cost:.4f}; "
                        f"p99 {p99:.2f} s "
                        f"(unhedged {u99:.2f} s), p99.9 {p999:.2f} s (unhedged {u999:.2f} s)")
        report.expect(extra < 0.10, f"{extra:.1%} extra attempts; a hedge at the p95 delay should add about 5%")
        report.expect(p99 <= u99 / 2 and p999 < u999,
                      f"p99 {p99:.2f} s and p99.9 {p999:.2f} s against {u99:.2f} s and {u999:.2f} s unhedged: "
                      "the hedge should cut the tail")


# -- hedging-budget --------------------------------------------------------------------------------------------------

def _delay_value(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    number = float(value)
    return None if math.isnan(number) or number < 0 else number


def _new_policy(report: Report, cls: Callable[..., Any], **options: Any) -> Any:
    policy = report.call(bounded(cls), **options)
    for name in ("delay", "record"):
        report.expect(callable(getattr(policy, name, None)), f"a HedgePolicy needs a `{name}` method")
    return policy


def _ask(report: Report, policy: Any) -> float:
    value = report.call(bounded(policy.delay))
    delay = _delay_value(value)
    report.expect(delay is not None, f"delay() should return a number of seconds >= 0 (or math.inf), got {value!r}")
    return delay  # type: ignore[return-value]


def _feed(report: Report, policy: Any, latencies: list[float], hedged: bool | list[bool] = False) -> None:
    flags = hedged if isinstance(hedged, list) else [hedged] * len(latencies)
    record = bounded(policy.record)
    for latency, flag in zip(latencies, flags):
        report.call(record, latency, hedged=flag)


def _spread(n: int, low: float = 1.0, step: float = 0.01) -> list[float]:
    """n distinct latencies from `low` up, in a fixed shuffled order."""
    return [low + step * ((i * 37) % n) for i in range(n)]


class _BadDelay(TypeError):
    """The policy gave something that is not a delay."""


@dataclass
class _Traffic:
    world: World
    latencies: list[float]
    hedged: list[bool]
    starts: list[float]
    bad_delays: list[Any]


def _traffic(report: Report, cls: Callable[..., Any], *, seed: int, scenario: str, every: float,
             calls: int) -> _Traffic:
    """One call every `every` seconds, each hedged after the delay the policy gives when it starts."""
    policy = _new_policy(report, cls)
    world = _quiet(checked_world(seed=seed, scenario=scenario, max_attempts=2 * calls + 20,
                                 max_seconds=every * calls + 3600))
    client = world.async_openai()
    latencies = [0.0] * calls
    hedged = [False] * calls
    bad: list[Any] = []
    delay_of, record = bounded(policy.delay), bounded(policy.record)

    async def one(i: int) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(i * every)
        value = delay_of()
        delay = _delay_value(value)
        if delay is None:
            bad.append(value)
            raise _BadDelay(f"delay() returned {value!r}; return a number of seconds >= 0, or math.inf")
        started = 0

        def attempt() -> Any:
            nonlocal started
            started += 1
            return client.chat.completions.create(model=MODEL, max_tokens=_MAX_TOKENS, temperature=0,
                                                  messages=[{"role": "user", "content": PROMPT}])
        began = loop.time()
        await reference_hedged(attempt, delay=delay)
        latencies[i], hedged[i] = loop.time() - began, started > 1
        record(latencies[i], hedged=hedged[i])

    async def main() -> None:
        try:
            await asyncio.gather(*(one(i) for i in range(calls)))
        except _BadDelay:
            pass  # reported below; _finish cancels the calls still running

    _finish(report, world, main)
    report.expect(not bad, f"delay() returned {bad[0]!r}; return a number of seconds >= 0, or math.inf" if bad else "")
    return _Traffic(world, latencies, hedged, [i * every for i in range(calls)], bad)


def _worst_window(flags: list[bool], width: int) -> int:
    if len(flags) <= width:
        return sum(flags)
    count = best = sum(flags[:width])
    for i in range(width, len(flags)):
        count += flags[i] - flags[i - width]
        best = max(best, count)
    return best


@register("hedging-budget")
def check_budget(cls: Callable[..., Any], report: Report) -> None:
    with report.case("no hedge until min_samples calls are recorded (math.inf)",
                     hint="With fewer than `min_samples` latencies the percentile is a guess; "
                          "return math.inf.") as notes:
        policy = _new_policy(report, cls, min_samples=20)
        report.expect(_ask(report, policy) == math.inf, "a new policy should not hedge: delay() should be math.inf")
        _feed(report, policy, _spread(19))
        report.expect(_ask(report, policy) == math.inf, "after 19 of 20 samples delay() should still be math.inf")
        _feed(report, policy, [1.05])
        got = _ask(report, policy)
        notes.detail = f"after 20 samples between 1.00 and 1.19 s: delay() = {got:g}"
        report.expect(math.isfinite(got), "after min_samples latencies, delay() should return a finite delay")

    with report.case("the delay is the percentile (nearest rank) of the last `window` latencies",
                     hint="Keep the last `window` latencies in a collections.deque(maxlen=window) and take the "
                          "nearest-rank percentile of them.") as notes:
        policy = _new_policy(report, cls, percentile=95.0, window=200)
        _feed(report, policy, _spread(200))  # 1.00 .. 2.99 s
        first = _ask(report, policy)
        want = nearest_rank(_spread(200), 95)
        _feed(report, policy, _spread(200, low=5.0))  # the window now holds only these
        second = _ask(report, policy)
        want_second = nearest_rank(_spread(200, low=5.0), 95)
        notes.detail = f"delay {first:g} (want {want:g}), then after 200 slower calls {second:g} (want {want_second:g})"
        report.expect(abs(first - want) <= 0.0101,
                      f"over latencies 1.00 .. 2.99 s, p95 is {want:g}; delay() gave {first:g}")
        report.expect(abs(second - want_second) <= 0.0101,
                      f"after 200 calls of 5.00 .. 6.99 s the window holds only those, so p95 is {want_second:g}; "
                      f"delay() gave {second:g}" + (" (older latencies are still counted)" if second < 5 else ""))
        other = _new_policy(report, cls, percentile=90.0, window=200)
        _feed(report, other, _spread(200))
        got = _ask(report, other)
        report.expect(abs(got - nearest_rank(_spread(200), 90)) <= 0.0101,
                      f"with percentile=90 the delay should be p90 ({nearest_rank(_spread(200), 90):g}); got {got:g}")

    with report.case("the budget: once `budget` of the last `window` calls were hedged, no more hedges",
                     hint="Count the hedged calls among the last `window` recorded; at budget * window or more, "
                          "return math.inf.") as notes:
        policy = _new_policy(report, cls, budget=0.10, window=200)
        _feed(report, policy, _spread(200))
        _feed(report, policy, [3.5] * 19, hedged=True)
        open_ = _ask(report, policy)
        _feed(report, policy, [3.5], hedged=True)
        closed = _ask(report, policy)
        _feed(report, policy, _spread(181))  # the first hedged call is now 201 calls back
        reopened = _ask(report, policy)
        notes.detail = f"19 hedged of 200: {open_:g}; 20 hedged: {closed:g}; one aged out: {reopened:g}"
        report.expect(math.isfinite(open_), "19 hedged calls in the last 200 is under a 10% budget: still hedge")
        report.expect(closed == math.inf, "20 hedged calls in the last 200 is the whole 10% budget: "
                                          "delay() should be math.inf")
        report.expect(math.isfinite(reopened), "once a hedged call is more than `window` calls old it no longer counts")

    with report.case("calm, 500 calls: hedges about 5% of calls and cuts the tail") as notes:
        traffic = _traffic(report, cls, seed=21, scenario="calm", every=3.0, calls=500)
        base = _baseline(21, "calm", traffic.starts)
        extra = sum(traffic.hedged) / len(traffic.hedged)
        p99, u99 = nearest_rank(traffic.latencies, 99), nearest_rank(base, 99)
        p999, u999 = nearest_rank(traffic.latencies, 99.9), nearest_rank(base, 99.9)
        notes.detail = (f"{usage(traffic.world)}; {extra:.1%} extra; p99 {p99:.2f} s (unhedged {u99:.2f} s), "
                        f"p99.9 {p999:.2f} s (unhedged {u999:.2f} s)")
        report.expect(not traffic.bad_delays, f"delay() returned {traffic.bad_delays[0]!r}; return seconds or math.inf"
                      if traffic.bad_delays else "")
        report.expect(extra <= 0.08, f"{extra:.1%} of calls were hedged; after the p95 delay it should be about 5%")
        report.expect(p99 <= u99 / 2 and p999 < u999, f"p99 {p99:.2f} s and p99.9 {p999:.2f} s against {u99:.2f} s "
                                                       f"and {u999:.2f} s unhedged: hedging should cut the tail")

    for seed in (31, 32):
        with report.case(f"latency drift (seed {seed}), 360 calls over an hour: hedges stay within the 10% budget",
                         hint="When latency climbs, the recent percentile lags behind and more calls pass it; the "
                              "budget is what bounds the extra load.") as notes:
            traffic = _traffic(report, cls, seed=seed, scenario="latency-drift", every=10.0, calls=360)
            base = _baseline(seed, "latency-drift", traffic.starts)
            fixed = nearest_rank(_sequential_baseline(seed, 200), 95)
            flood = sum(b > fixed for b in base) / len(base)
            extra = sum(traffic.hedged) / len(traffic.hedged)
            worst = _worst_window(traffic.hedged, 200)
            notes.detail = (f"{usage(traffic.world)}; {extra:.1%} extra, at most {worst} hedges in any 200 calls "
                            f"(a fixed delay of {fixed:.2f} s, the calm p95, would have hedged {flood:.0%} of calls)")
            report.expect(not traffic.bad_delays,
                          f"delay() returned {traffic.bad_delays[0]!r}" if traffic.bad_delays else "")
            report.expect(worst <= 24, f"{worst} of 200 consecutive calls were hedged; the budget allows 20 (a few "
                                       "more can slip through while calls are in flight)")
            report.expect(extra > 0.01, f"only {extra:.1%} of calls were hedged: hedge when the budget allows")
