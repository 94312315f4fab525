"""Checks for the lesson "Tail latency and hedged requests" (book/tier2/hedging.md).

`hedging-call` runs the learner's `hedged(attempt, *, delay)` on scripted
attempts: fakes that sleep a set number of virtual seconds, then answer or
raise, so the timing rules are pinned exactly (when the hedge starts, who wins,
what is cancelled and awaited). Failures are the SDK's own exception classes.
Many-call cases draw each attempt's time from the simulated world's latency
model (`_latency.LatencyModel`), first attempts and hedges from separate seeded
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

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx2
import openai

from ..model.catalog import CATALOG
from ..clock.limits import Runaway
from ..service.latency import LatencyModel
from ..world import World
from ..text import plural
from ._helpers import as_number, nearest_rank, spread
from ._async import NotAsync, cancel_and_wait, quiet_world, require_awaitable, run_in_world
from ._framework import Mistake, Report, mistakes, register, usage

MODEL = "gpt-fast"
PROMPT = "Summarise in a few sentences why a search page should not wait for a slow model call."
_MAX_TOKENS = 300
_REPLY_TOKENS = 80  # how long a modelled reply is, for attempts timed by the latency model
_EPS = 1e-6
_WATCHDOG = 600.0  # virtual seconds one call may take before it is stopped (none needs more than a minute)


# -- hints: each one the fix for one mistake ------------------------------------------------------------------------

START_HEDGE = ("When `asyncio.wait({first}, timeout=delay)` comes back with nothing done, call `attempt()` again "
               "(a new coroutine: one coroutine can be awaited only once) and start it as a second task.")
HEDGE_AT_DELAY = ("Start the second attempt when the delay runs out, not before: wait for the first with "
                  "`asyncio.wait([first], timeout=delay)` and hedge only if it is not done by then.")
NO_HEDGE_IF_ANSWERED = ("If the first attempt answered within the delay, return its result: a second attempt is "
                        "only for a first one that is still running (or has failed).")
HEDGE_ON_FAILURE = ("A failed first attempt is a surer sign than slowness: if it has finished with an exception when "
                    "the wait ends (`tasks[0].exception() is not None`), start the second attempt at once.")
KEEP_WAITING = ("FIRST_COMPLETED returns failures too: if the task that finished raised, keep its exception and "
                "wait for the other one; a failure ends the call only when both attempts have failed.")
TWO_ATTEMPTS = ("Never more than two attempts: the first, and one hedge (started at the delay, or at once when the "
                "first fails). A failed hedge ends the call.")
RERAISE = ("When both attempts fail, `raise` the exception of an attempt (the SDK's own error, e.g. "
           "openai.InternalServerError), not a new one, so that callers can still catch openai.APIError.")
RETURN_RESULT = "Return the winning attempt's result (`task.result()`), not the task or the set asyncio.wait gave back."
CANCEL_LOSER = ("Cancel the attempt that lost (`task.cancel()`) as soon as one succeeds: awaiting it uncancelled "
                "waits for its whole answer, and it is billed in full.")
AWAIT_CANCELLED = ("`task.cancel()` only asks: await the cancelled task (`await asyncio.gather(*tasks, "
                   "return_exceptions=True)`) so that it has finished before you return.")
GATHER_RETURN_EXCEPTIONS = ("`await asyncio.gather(*tasks)` re-raises the first exception among the tasks (the "
                            "CancelledError of the loser you just cancelled, or a failed attempt's error), so the call "
                            "ends in it instead of the winner's result: pass `return_exceptions=True`.")
KEEP_FIRST_RUNNING = ("Do not cancel the first attempt when you start the hedge: both run, and the first to succeed "
                      "wins (the slow first attempt may still answer before the hedge). Cancel only the loser, after "
                      "a success.")
CLEANUP_IN_FINALLY = ("A caller's deadline (asyncio.timeout) cancels `hedged` while it waits, and asyncio.wait does "
                      "not cancel the tasks it waits on: cancel and await them in a `finally:` block.")

MIN_SAMPLES = ("With fewer than `min_samples` latencies recorded the percentile is a guess (or there is none): "
               "return math.inf, and only from `min_samples` on a finite delay.")
WINDOW_LATENCIES = ("Keep only the last `window` latencies (a `collections.deque(maxlen=window)`), so the delay "
                    "follows recent calls and forgets old ones.")
USE_PERCENTILE = ("The delay is `nearest_rank(<the last window latencies>, self.percentile)`: the percentile the "
                  "policy was built with, not a mean, a maximum or a fixed 95.")
BUDGET_SPENT = ("Count the hedged calls among the last `window` recorded; at `budget * window` or more, the budget "
                "is spent: return math.inf.")
BUDGET_SHARE = ("The budget is a share of the window: compare the hedged calls among the last `window` with "
                "`budget * window` (20 for 10% of 200), not with `budget` itself nor with the calls recorded so far.")
NEAREST_RANK = ("Nearest rank: the value at index `math.ceil(p * n / 100) - 1` of the sorted latencies (the "
                "`nearest_rank` of the setup cell), not `int(p * n / 100)`, which is one rank too high.")
OWN_MIN_SAMPLES = ("Compare with `self.min_samples`, the `min_samples` the policy was built with, not a fixed 20: "
                   "with min_samples=5 it hedges from the fifth recorded call on.")
OWN_WINDOW = ("Use the `window` the policy was built with, not a fixed 200: size both deques with it "
              "(`deque(maxlen=window)`) and compare the hedged calls with `self.budget * self.window`.")
OWN_BUDGET = ("Use `self.budget`, the share the policy was built with, not a fixed 10%: with budget=0.2 and "
              "window=50, 10 hedged calls among the last 50 spend it.")
BUDGET_REFILLS = ("Keep the hedged flags of the last `window` calls only (a deque(maxlen=window), one flag per call, "
                  "hedged or not): a hedge older than that no longer counts, so the budget refills.")


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


# -- scripted attempts ------------------------------------------------------------------------------------------------

def _connection_error() -> openai.APIConnectionError:
    return openai.APIConnectionError(request=httpx2.Request("POST", "https://api.openai.com/v1/chat/completions"))


def _overloaded() -> openai.InternalServerError:
    request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")
    body = {"error": {"message": "The server is overloaded.", "type": "server_error"}}
    return openai.InternalServerError("Error code: 503", response=httpx2.Response(503, request=request, json=body),
                                      body=body)


Plan = tuple[float, BaseException | None]  # (seconds, the exception it raises then, or None to answer)


@dataclass
class _Attempt:
    start: float | None = None  # None: the coroutine was created but never ran
    end: float | None = None
    outcome: str = "never ran"  # 'running', 'answered', 'failed', 'cancelled'
    planned: float = math.inf  # how long it would have taken, had nobody cancelled it (scripted attempts)


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
class _Script:
    """A fake `attempt`: the i-th call sleeps plan[i][0] virtual seconds, then answers or raises plan[i][1].

    Past the end of `plan`, `draw(now, i)` gives the next attempt's plan (by default a 1,000 s answer).
    """

    plan: list[Plan]
    draw: Callable[[float, int], Plan] | None = None
    guard: _Guard | None = None
    attempts: list[_Attempt] = field(default_factory=list)
    answers: list[_Answer] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    at_return: list[str] = field(default_factory=list)  # each attempt's outcome when the function returned

    def snapshot(self) -> None:
        self.at_return = [a.outcome for a in self.attempts]

    def __call__(self) -> Any:
        i = len(self.attempts)
        if self.guard is not None:
            self.guard.count(i + 1)
        state = _Attempt()
        self.attempts.append(state)
        answer = _Answer(i + 1)
        self.answers.append(answer)
        planned = self.plan[i] if i < len(self.plan) else None

        async def run() -> _Answer:
            loop = asyncio.get_running_loop()
            state.start, state.outcome = loop.time(), "running"
            latency, error = planned if planned is not None else (
                self.draw(state.start, i) if self.draw is not None else (1_000.0, None))
            state.planned = latency
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


@dataclass
class _Run:
    """How one call of the learner's function ended, seen from the caller."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False  # the case's own deadline (asyncio.timeout around the call) fired
    hung: bool = False  # it had not returned after _WATCHDOG virtual seconds
    began: float = 0.0
    finished_at: float = 0.0
    left_cancelling: int = 0  # tasks it started that were asked to cancel but had not finished when it returned
    left_uncancelled: int = 0  # tasks it started that nobody had cancelled, still running when it returned


async def _call(fn: Callable[..., Any], attempt: Callable[[], Any], delay: float, *,
                deadline: float | None = None, on_return: Callable[[], None] | None = None) -> _Run:
    """Await the learner's function once; note what it left running; then cancel and await that, to clean up."""
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    before = {t for t in asyncio.all_tasks() if t is not me}
    run = _Run(began=loop.time())
    try:
        async with asyncio.timeout(_WATCHDOG) as watchdog:
            try:
                if deadline is None:
                    run.value = await _learner_coroutine(fn(attempt, delay=delay))
                else:
                    async with asyncio.timeout(deadline):
                        run.value = await _learner_coroutine(fn(attempt, delay=delay))
            except TimeoutError:
                if deadline is None or watchdog.expired():
                    raise
                run.timed_out = True
    except (NotImplementedError, NotAsync):
        raise
    except TimeoutError as err:
        run.hung = watchdog.expired()
        run.error = err
    except asyncio.CancelledError as err:
        if me is not None and me.cancelling():
            raise  # this task was cancelled (a guard stopping a runaway): not the learner's
        run.error = err  # the learner's own: a task it cancelled, re-raised by an await or a gather
    except Exception as err:  # noqa: BLE001 - the learner's exceptions are what the cases look at
        run.error = err
    run.finished_at = loop.time()
    leftover = [t for t in asyncio.all_tasks() if t is not me and t not in before and not t.done()]
    run.left_cancelling = sum(t.cancelling() > 0 for t in leftover)
    run.left_uncancelled = len(leftover) - run.left_cancelling
    if on_return is not None:
        on_return()
    await cancel_and_wait(leftover)
    return run


def _learner_coroutine(value: Any) -> Any:
    return require_awaitable(value, f"calling it returned {type(value).__name__}, not a coroutine: write it as "
                                    "`async def`")


def _describe(script: _Script, began: float = 0.0) -> str:
    parts = []
    for i, a in enumerate(script.attempts, 1):
        then = script.at_return[i - 1] if i <= len(script.at_return) else a.outcome
        if a.start is None:
            parts.append(f"attempt {i} was created but never awaited")
        elif then == "running":
            parts.append(f"attempt {i} started at t={a.start - began:g}, still running when the function returned")
        else:
            parts.append(f"attempt {i} started at t={a.start - began:g}, {then} at t={(a.end or 0) - began:g}")
    return "; ".join(parts) if parts else "no attempt was started"


# -- judging one call against the rules -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Problem:
    reason: str
    hint: str | None = None


def _judge(script: _Script, run: _Run, delay: float, *, deadline: bool = False) -> _Problem | None:
    """What, if anything, one call of the learner's function did against the rules; times relative to its start."""
    began, now, at = run.began, run.finished_at, run.began + delay
    said = _describe(script, began)
    if run.left_cancelling:
        return _Problem(f"when it returned, {plural(run.left_cancelling, 'attempt')} had been cancelled but had not "
                        f"finished ({said})", AWAIT_CANCELLED)
    if run.left_uncancelled:
        return _Problem(f"when it {'was cancelled' if deadline else 'returned'}, {plural(run.left_uncancelled, 'attempt')} "
                        f"was still running, never cancelled ({said})",
                        CLEANUP_IN_FINALLY if deadline else CANCEL_LOSER)
    attempts = script.attempts
    if run.hung:
        return _Problem(f"it had not returned after {_WATCHDOG:g} s ({said})",
                        TWO_ATTEMPTS if len(attempts) > 2 else None)
    if not attempts:
        return _Problem("it started no attempt: call `attempt()` and await what it returns")
    if len(attempts) > 2:
        return _Problem(f"it started {plural(len(attempts), 'attempt')} ({said})", TWO_ATTEMPTS)
    first = attempts[0]
    second = attempts[1] if len(attempts) == 2 else None
    first_end = first.end if first.end is not None else math.inf
    if (second is not None and second.start is not None and first.outcome == "cancelled"
            and first_end <= second.start + _EPS):
        return _Problem(f"the first attempt was cancelled at t={first_end - began:g}, when the hedge started, though "
                        f"no attempt had answered ({said})", KEEP_FIRST_RUNNING)
    if second is not None and first.outcome == "answered" and (second.start is None or
                                                               second.start >= first_end - _EPS):
        return _Problem(f"the first attempt answered after {first_end - began:g} s, within the delay of {delay:g} s, "
                        f"and a second attempt was still started ({said})", NO_HEDGE_IF_ANSWERED)
    if any(a.start is None for a in attempts):
        return _Problem(f"an attempt was created but never run ({said})", START_HEDGE)
    second_start = second.start if second is not None and second.start is not None else math.inf
    if first.outcome == "failed" and first_end < at - _EPS:  # failed before the delay
        if second is None:
            return _Problem(f"the first attempt failed after {first_end - began:g} s, before the delay, and no "
                            f"second attempt was started ({said})", HEDGE_ON_FAILURE)
        if abs(second_start - first_end) > _EPS:
            return _Problem(f"the first attempt failed at t={first_end - began:g} and the second started at "
                            f"t={second_start - began:g}; it should start at once, at the failure ({said})",
                            HEDGE_AT_DELAY if second_start < first_end else HEDGE_ON_FAILURE)
    else:
        if second is None and first_end > at + _EPS and now > at + _EPS:
            return _Problem(f"the first attempt was still running at the delay ({delay:g} s) and no second attempt "
                            f"was started ({said})", START_HEDGE)
        if second is not None and abs(second_start - at) > _EPS:
            return _Problem(f"the second attempt started at t={second_start - began:g}; with no failure before it, "
                            f"it should start when the delay runs out, at t={delay:g} ({said})", HEDGE_AT_DELAY)
    if deadline:
        return None
    answered = [a for a in attempts if a.outcome == "answered"]
    if isinstance(run.error, asyncio.CancelledError):
        return _Problem(f"it raised CancelledError{' although an attempt answered' if answered else ''}: the "
                        f"cancellation of an attempt it cancelled came out of the call ({said})",
                        GATHER_RETURN_EXCEPTIONS)
    first_answer = min((a.end or math.inf for a in answered), default=math.inf)
    if run.error is not None and run.finished_at >= first_answer - _EPS:
        return _Problem(f"it raised {type(run.error).__name__} ({run.error}) after an attempt had answered at "
                        f"t={first_answer - began:g}: its cleanup re-raised an attempt's exception ({said})",
                        GATHER_RETURN_EXCEPTIONS)
    if run.error is not None and (answered or any(a.outcome == "cancelled" for a in attempts)):
        return _Problem(f"it raised {type(run.error).__name__} ({run.error}) although "
                        f"{'an attempt answered' if answered else 'the other attempt was still running'} ({said})",
                        KEEP_WAITING)
    if answered:
        winner = min(answered, key=lambda a: a.end or math.inf)
        number = attempts.index(winner) + 1
        if not any(run.value is a for a in script.answers):
            return _Problem(f"it returned {run.value!r}, not what an attempt returned ({said})", RETURN_RESULT)
        late = now - (winner.end or 0)
        loser_answered = len(answered) == 2
        if run.value is not script.answers[number - 1]:
            return _Problem(f"it returned {run.value!r}; the first success was attempt {number}'s ({said})",
                            CANCEL_LOSER if loser_answered else None)
        if late > _EPS:
            return _Problem(f"it returned {late:g} s after attempt {number} answered ({said})",
                            CANCEL_LOSER if loser_answered else None)
        return None
    if run.error is None:
        return _Problem(f"every attempt failed, yet the call returned {run.value!r} instead of raising ({said})",
                        RERAISE)
    if not any(run.error is e for e in script.errors):
        return _Problem(f"every attempt failed and it raised {type(run.error).__name__}: {run.error}; not an "
                        f"attempt's own exception ({said})", RERAISE)
    return None


def _expect_call(report: Report, script: _Script, run: _Run, delay: float, *, starts: list[float],
                 returns: int | None = None, at: float | None = None, cancelled: tuple[int, ...] = (),
                 deadline: bool = False) -> None:
    """One scripted call: the rules (with their hints), then exactly the expected timeline."""
    problem = _judge(script, run, delay, deadline=deadline)
    report.expect(problem is None, problem.reason if problem else "", hint=problem.hint if problem else None)
    said = _describe(script)
    got = [a.start for a in script.attempts]
    report.expect(len(got) == len(starts) and all(abs((g or 0) - w) < _EPS for g, w in zip(got, starts)),
                  f"attempts should start at t={', '.join(f'{w:g}' for w in starts)} ({said})")
    if returns is not None:
        report.expect(run.value is script.answers[returns - 1] and abs(run.finished_at - (at or 0)) < _EPS,
                      f"it should return what attempt {returns} returned, at t={at:g}; it returned {run.value!r} "
                      f"at t={run.finished_at:g} ({said})")
    for number in cancelled:
        outcome = script.at_return[number - 1] if number <= len(script.at_return) else "never started"
        report.expect(outcome == "cancelled", f"attempt {number} should have been cancelled; it {outcome}",
                      hint=CANCEL_LOSER)


def _run_script(report: Report, fn: Callable[..., Any], plan: list[Plan], *, delay: float,
                deadline: float | None = None) -> tuple[_Run, _Script]:
    world = quiet_world(seed=0, max_attempts=50, max_seconds=_WATCHDOG * 2)
    guard = _Guard(20)
    script = _Script(plan, guard=guard)

    async def main() -> _Run:
        guard.driver = asyncio.current_task()
        try:
            return await _call(fn, script, delay, deadline=deadline, on_return=script.snapshot)
        except asyncio.CancelledError:
            if guard.tripped:
                script.snapshot()
                return _Run(error=Runaway(f"started more than {guard.limit} attempts"),
                            finished_at=asyncio.get_running_loop().time())
            raise

    return run_in_world(report, world, main), script


# -- many calls: attempts timed by the latency model, or real SDK calls ------------------------------------------------

@dataclass
class _Calls:
    """What a sequence of calls did, call by call."""

    latencies: list[float] = field(default_factory=list)
    unhedged: list[float] = field(default_factory=list)  # each call's first attempt's own time (scripted runs)
    attempts: list[int] = field(default_factory=list)
    failures: int = 0
    early_failures: int = 0  # calls whose first attempt failed before the delay
    problem: _Problem | None = None
    world: World | None = None


def _modelled(seed: int, *, drift: bool = False, failure_rate: float = 0.0) -> Callable[[float, int], Plan]:
    """Attempt plans drawn from the world's latency model: first attempts and hedges from separate seeded streams.

    With `failure_rate`, that share of attempts is refused within a fraction of a second with a 503, as the
    `overloaded` scenario does.
    """
    spec = CATALOG[MODEL]
    models = (LatencyModel(seed, drift=drift), LatencyModel(seed + 100_000, drift=drift))
    faults = random.Random(f"{seed}:hedging-check-faults")

    def draw(now: float, i: int) -> Plan:
        latency = models[min(i, 1)].sample(spec, now).total(_REPLY_TOKENS)
        if faults.random() < failure_rate:
            return faults.uniform(0.05, 0.3), _overloaded()
        return latency, None
    return draw


def _run_modelled(report: Report, fn: Callable[..., Any], *, seed: int, calls: int, delay: float,
                  failure_rate: float = 0.0) -> _Calls:
    """`calls` calls one after another, each of a fresh script drawing from the latency model; each one judged."""
    world = quiet_world(seed=0, max_attempts=10, max_seconds=calls * 300.0 + 2 * _WATCHDOG)
    draw = _modelled(seed, failure_rate=failure_rate)
    result = _Calls()
    guard = _Guard(10)

    async def main() -> None:
        guard.driver = asyncio.current_task()
        try:
            for _ in range(calls):
                script = _Script([], draw=draw, guard=guard)
                run = await _call(fn, script, delay, on_return=script.snapshot)
                result.problem = _judge(script, run, delay)
                if result.problem is not None:
                    return
                result.latencies.append(run.finished_at - run.began)
                result.unhedged.append(script.attempts[0].planned)
                result.attempts.append(len(script.attempts))
                result.failures += run.error is not None
        except asyncio.CancelledError:
            if guard.tripped:
                result.problem = _Problem(f"one call started more than {guard.limit} attempts", TWO_ATTEMPTS)
                return
            raise

    run_in_world(report, world, main)
    return result


def _run_world(report: Report, fn: Callable[..., Any], *, seed: int, scenario: str, calls: int,
               delay: float) -> _Calls:
    """`calls` calls one after another, each attempt a real SDK call in a seeded world; each one judged."""
    world = quiet_world(seed=seed, scenario=scenario, max_attempts=2 * calls + 20,
                   max_seconds=calls * 120.0 + 2 * _WATCHDOG)
    client = world.async_openai()
    guard = _Guard(2 * calls + 10)
    result = _Calls(world=world)

    def draw_for(script: _Script) -> Callable[[], Any]:
        def attempt() -> Any:
            state, answer = _Attempt(), _Answer(len(script.attempts) + 1)
            script.attempts.append(state)
            script.answers.append(answer)
            guard.count(sum(result.attempts) + len(script.attempts))

            async def one() -> Any:
                loop = asyncio.get_running_loop()
                state.start, state.outcome = loop.time(), "running"
                try:
                    completion = await client.chat.completions.create(
                        model=MODEL, max_tokens=_MAX_TOKENS, temperature=0,
                        messages=[{"role": "user", "content": PROMPT}])
                except asyncio.CancelledError:
                    state.end, state.outcome = loop.time(), "cancelled"
                    raise
                except Exception as err:
                    state.end, state.outcome = loop.time(), "failed"
                    script.errors.append(err)
                    raise
                state.end, state.outcome = loop.time(), "answered"
                script.answers[answer.number - 1] = completion
                return completion
            return one()
        return attempt

    async def main() -> None:
        guard.driver = asyncio.current_task()
        try:
            for _ in range(calls):
                script = _Script([])
                run = await _call(fn, draw_for(script), delay, on_return=script.snapshot)
                result.problem = _judge(script, run, delay)
                result.latencies.append(run.finished_at - run.began)
                result.attempts.append(len(script.attempts))
                result.failures += run.error is not None
                first = script.attempts[0] if script.attempts else None
                result.early_failures += bool(first and first.outcome == "failed" and first.end is not None
                                              and first.end < run.began + delay)
                if result.problem is not None:
                    return
        except asyncio.CancelledError:
            if guard.tripped:
                result.problem = _Problem(f"started more than {guard.limit} attempts for {calls} calls", TWO_ATTEMPTS)
                return
            raise

    run_in_world(report, world, main)
    return result


def _expect_no_problem(report: Report, calls: _Calls, prefix: str = "") -> None:
    problem = calls.problem
    report.expect(problem is None, f"{prefix}{problem.reason}" if problem else "", hint=problem.hint if problem else None)


# -- hedging-call ----------------------------------------------------------------------------------------------------

_CALM_SEEDS = (101, 102)
_CALM_CALLS = 150
_OVERLOADED_CALLS = 20


@register("hedging-call")
def check_hedged(fn: Callable[..., Any], report: Report) -> None:
    with report.case("an answer within the delay: one attempt, no hedge, its result returned") as notes:
        run, script = _run_script(report, fn, [(1.0, None)], delay=2.0)
        notes.detail = f"scripted: attempt 1 takes 1 s, delay 2 s; {_describe(script)}"
        _expect_call(report, script, run, 2.0, starts=[0.0], returns=1, at=1.0)

    with report.case("a slow first attempt: the hedge starts at the delay, wins, and the first is cancelled") as notes:
        run, script = _run_script(report, fn, [(10.0, None), (1.0, None)], delay=2.0)
        notes.detail = f"scripted: attempt 1 takes 10 s, attempt 2 takes 1 s, delay 2 s; {_describe(script)}"
        _expect_call(report, script, run, 2.0, starts=[0.0, 2.0], returns=2, at=3.0, cancelled=(1,))

    with report.case("the first attempt can still win after the hedge has started") as notes:
        run, script = _run_script(report, fn, [(3.0, None), (5.0, None)], delay=2.0)
        notes.detail = f"scripted: 3 s and 5 s, delay 2 s; {_describe(script)}"
        _expect_call(report, script, run, 2.0, starts=[0.0, 2.0], returns=1, at=3.0, cancelled=(2,))

    with report.case("a failure before the delay starts the hedge at once") as notes:
        run, script = _run_script(report, fn, [(0.5, _connection_error()), (1.0, None)], delay=2.0)
        notes.detail = f"scripted: attempt 1 fails after 0.5 s, attempt 2 takes 1 s, delay 2 s; {_describe(script)}"
        _expect_call(report, script, run, 2.0, starts=[0.0, 0.5], returns=2, at=1.5)

    with report.case("a hedge that fails does not end the call while the first attempt can still answer") as notes:
        run, script = _run_script(report, fn, [(6.0, None), (0.5, _connection_error())], delay=2.0)
        notes.detail = f"scripted: attempt 1 takes 6 s, attempt 2 fails after 0.5 s, delay 2 s; {_describe(script)}"
        _expect_call(report, script, run, 2.0, starts=[0.0, 2.0], returns=1, at=6.0)

    with report.case("both attempts fail: an attempt's own exception is raised, after exactly two") as notes:
        run, script = _run_script(report, fn, [(3.0, _overloaded()), (0.5, _overloaded())], delay=2.0)
        notes.detail = f"scripted: attempt 1 fails after 3 s, attempt 2 after 0.5 s, delay 2 s; {_describe(script)}"
        _expect_call(report, script, run, 2.0, starts=[0.0, 2.0])
        report.expect(isinstance(run.error, openai.APIError), "it should raise the SDK's error (openai.APIError)",
                      hint=RERAISE)

    with report.case("a deadline around the call cancels both attempts, and they have finished") as notes:
        run, script = _run_script(report, fn, [(100.0, None), (100.0, None)], delay=1.0, deadline=5.0)
        notes.detail = f"scripted: two 100 s attempts, delay 1 s, asyncio.timeout(5); {_describe(script)}"
        _expect_call(report, script, run, 1.0, starts=[0.0, 1.0], cancelled=(1, 2), deadline=True)
        report.expect(run.timed_out, "the caller's asyncio.timeout(5) should raise TimeoutError at t=5; "
                                     + (f"the call raised {type(run.error).__name__}" if run.error is not None
                                        else f"it returned {run.value!r} at t={run.finished_at:g}"))

    with report.case("real calls in an outage: the SDK's own error, after exactly two attempts") as notes:
        calls = _run_world(report, fn, seed=3, scenario="outage", calls=1, delay=2.0)
        notes.detail = usage(calls.world, lost=calls.failures) if calls.world else ""
        _expect_no_problem(report, calls)
        report.expect(calls.attempts == [2], f"made {plural(calls.attempts[0] if calls.attempts else 0, 'attempt')}; a failed "
                                             "first attempt gets one hedge, and a failed hedge ends the call",
                      hint=TWO_ATTEMPTS if calls.attempts and calls.attempts[0] > 2 else HEDGE_ON_FAILURE)

    with report.case(f"real calls on an overloaded day, {_OVERLOADED_CALLS} calls: an early failure is hedged at "
                     "once, never a third attempt") as notes:
        calls = _run_world(report, fn, seed=11, scenario="overloaded", calls=_OVERLOADED_CALLS, delay=2.5)
        notes.detail = (f"{usage(calls.world, lost=calls.failures)} (failed calls); {calls.early_failures} first "
                        "attempts were refused before the delay") if calls.world else ""
        _expect_no_problem(report, calls)
        report.expect(calls.failures <= 2, f"{calls.failures} of {_OVERLOADED_CALLS} calls failed; with a hedge after "
                                           "each early failure only calls whose two attempts both fail should",
                      hint=HEDGE_ON_FAILURE)

    with report.case(f"calm, {len(_CALM_SEEDS)} seeds x {_CALM_CALLS} calls timed by the world's latency model, "
                     "delay = p95: the tail is cut for a few percent more attempts") as notes:
        delay = nearest_rank(_sequential(100, 1000), 95)  # from another day's log
        hedged: list[float] = []
        unhedged: list[float] = []
        attempts = 0
        for seed in _CALM_SEEDS:
            calls = _run_modelled(report, fn, seed=seed, calls=_CALM_CALLS, delay=delay)
            _expect_no_problem(report, calls, f"seed {seed}: ")
            hedged += calls.latencies
            unhedged += calls.unhedged
            attempts += sum(calls.attempts)
        n = len(hedged)
        extra = attempts / n - 1
        p99, p999 = nearest_rank(hedged, 99), nearest_rank(hedged, 99.9)
        u99, u999 = nearest_rank(unhedged, 99), nearest_rank(unhedged, 99.9)
        notes.detail = (f"delay {delay:.2f} s; {attempts:,} attempts for {n} calls ({extra:.1%} extra); p99 {p99:.2f} s "
                        f"(unhedged {u99:.2f} s), p99.9 {p999:.2f} s (unhedged {u999:.2f} s)")
        report.expect(extra < 0.10, f"{extra:.1%} extra attempts; a hedge at the p95 delay should add about 5%",
                      hint=HEDGE_AT_DELAY)
        report.expect(p99 <= u99 / 2 and p999 < u999,
                      f"p99 {p99:.2f} s and p99.9 {p999:.2f} s against {u99:.2f} s and {u999:.2f} s unhedged: "
                      "the hedge should cut the tail")


def _sequential(seed: int, calls: int) -> list[float]:
    """Unhedged calls one after another on a calm day, as the latency model times them."""
    spec = CATALOG[MODEL]
    model = LatencyModel(seed, drift=False)
    return [model.sample(spec, 0.0).total(_REPLY_TOKENS) for _ in range(calls)]


_SOLUTION_LOOP = """            for task in done:
                if task.exception() is None:
                    return task.result()                    # the first success wins
                error = task.exception()                    # a failure: wait for the other"""

mistakes(
    "hedging-call",
    Mistake("hedges at once instead of after the delay",
            (("await asyncio.wait(tasks, timeout=delay)", "await asyncio.wait(tasks, timeout=0)"),), HEDGE_AT_DELAY),
    Mistake("always sends the hedge, also when the first answered within the delay",
            (("if not done or tasks[0].exception() is not None:", "if True:"),), NO_HEDGE_IF_ANSWERED),
    Mistake("a failure before the delay is not hedged",
            (("if not done or tasks[0].exception() is not None:", "if not done:"),), HEDGE_ON_FAILURE),
    Mistake("the first attempt to finish ends the call, also when it failed",
            (("error = task.exception()                    # a failure: wait for the other",
              "raise task.exception()"),), KEEP_WAITING),
    Mistake("wraps the error when both fail",
            (("        raise error\n", "        raise RuntimeError(f'both attempts failed: {error}')\n"),), RERAISE),
    Mistake("returns the task, not its result",
            (("return task.result()                    # the first success wins",
              "return task"),), RETURN_RESULT),
    Mistake("never cancels the loser (waits for it instead)",
            (("            task.cancel()                                   # no-op for finished tasks\n",
              "            pass\n"),), CANCEL_LOSER),
    Mistake("cancels the loser but does not await it",
            (("        await asyncio.gather(*tasks, return_exceptions=True)  # let every cancellation finish\n", ""),),
            AWAIT_CANCELLED),
    Mistake("cleans up when it returns, not in a finally (a caller's deadline leaves both attempts running)",
            ((_SOLUTION_LOOP, _SOLUTION_LOOP.replace(
                "                    return task.result()                    # the first success wins",
                "                    for other in tasks:\n                        other.cancel()\n"
                "                    await asyncio.gather(*tasks, return_exceptions=True)\n"
                "                    return task.result()")),
             ("    finally:\n        for task in tasks:\n"
              "            task.cancel()                                   # no-op for finished tasks\n"
              "        await asyncio.gather(*tasks, return_exceptions=True)  # let every cancellation finish\n",
              "    except Exception:\n        raise\n")), CLEANUP_IN_FINALLY),
    Mistake("starts another attempt after every failure",
            (("error = task.exception()                    # a failure: wait for the other",
              "error = task.exception()\n"
              "                tasks.append(asyncio.create_task(attempt()))\n"
              "                pending.add(tasks[-1])"),), TWO_ATTEMPTS),
    Mistake("awaits the cancelled tasks with gather but without return_exceptions=True",
            (("await asyncio.gather(*tasks, return_exceptions=True)", "await asyncio.gather(*tasks)"),),
            GATHER_RETURN_EXCEPTIONS),
    Mistake("cancels the first attempt when it starts the hedge",
            (("tasks.append(asyncio.create_task(attempt()))   # slow, or failed early: hedge now",
              "tasks[0].cancel()\n            tasks.append(asyncio.create_task(attempt()))"),), KEEP_FIRST_RUNNING),
    Mistake("reuses the first coroutine for the hedge",
            (("tasks = [asyncio.create_task(attempt())]", "call = attempt()\n    tasks = [asyncio.create_task(call)]"),
             ("tasks.append(asyncio.create_task(attempt()))", "tasks.append(asyncio.create_task(call))")),
            START_HEDGE),
)


# -- hedging-budget --------------------------------------------------------------------------------------------------

def _delay_value(value: Any) -> float | None:
    number = as_number(value)
    return None if number is None or math.isnan(number) or number < 0 else number


def _new_policy(report: Report, cls: Callable[..., Any], **options: Any) -> Any:
    policy = report.call(cls, **options)
    for name in ("delay", "record"):
        report.expect(callable(getattr(policy, name, None)), f"a HedgePolicy needs a `{name}` method")
    return policy


def _ask(report: Report, policy: Any, *, hint: str | None = None) -> float:
    """policy.delay(); an exception it raises fails the case with `hint` (a policy that cannot answer yet)."""
    value, err = report.outcome(policy.delay)
    report.expect(err is None, f"delay() raised {type(err).__name__}: {err}", hint=hint)
    delay = _delay_value(value)
    report.expect(delay is not None, f"delay() should return a number of seconds >= 0 (or math.inf), got {value!r}")
    return delay  # type: ignore[return-value]


def _feed(report: Report, policy: Any, latencies: list[float], hedged: bool | list[bool] = False) -> None:
    flags = hedged if isinstance(hedged, list) else [hedged] * len(latencies)
    record = policy.record
    for latency, flag in zip(latencies, flags):
        report.call(record, latency, hedged=flag)


_spread = partial(spread, low=1.0, step=0.01)  # n distinct latencies from 1 s up, 10 ms apart, in a fixed shuffled order


class _BadDelay(TypeError):
    """The policy gave something that is not a delay."""


@dataclass
class _Traffic:
    latencies: list[float]
    unhedged: list[float]
    hedged: list[bool]
    bad_delays: list[Any]


def _traffic(report: Report, cls: Callable[..., Any], *, seed: int, drift: bool, every: float,
             calls: int) -> _Traffic:
    """One call every `every` seconds, each hedged after the delay the policy gives when it starts.

    Attempts are timed by the world's latency model (first attempts and hedges from separate streams), so
    each call's unhedged latency is its first attempt's.
    """
    policy = _new_policy(report, cls)
    world = quiet_world(seed=seed, max_attempts=10, max_seconds=every * calls + 3600)
    draw = _modelled(seed, drift=drift)
    latencies, unhedged, hedged = [0.0] * calls, [0.0] * calls, [False] * calls
    bad: list[Any] = []
    delay_of, record = policy.delay, policy.record

    async def one(i: int) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(i * every)
        value = delay_of()
        delay = _delay_value(value)
        if delay is None:
            bad.append(value)
            raise _BadDelay(f"delay() returned {value!r}; return a number of seconds >= 0, or math.inf")
        script = _Script([], draw=draw)
        began = loop.time()
        await reference_hedged(script, delay=delay)
        latencies[i], hedged[i] = loop.time() - began, len(script.attempts) > 1
        unhedged[i] = script.attempts[0].planned
        record(latencies[i], hedged=hedged[i])

    async def main() -> None:
        try:
            await asyncio.gather(*(one(i) for i in range(calls)))
        except _BadDelay:
            pass  # reported below; run_in_world cancels the calls still running

    run_in_world(report, world, main)
    report.expect(not bad, f"delay() returned {bad[0]!r}; return a number of seconds >= 0, or math.inf" if bad else "")
    return _Traffic(latencies, unhedged, hedged, bad)


def _worst_window(flags: list[bool], width: int) -> int:
    if len(flags) <= width:
        return sum(flags)
    count = best = sum(flags[:width])
    for i in range(width, len(flags)):
        count += flags[i] - flags[i - width]
        best = max(best, count)
    return best


def _near_rank(values: list[float], p: float, got: float) -> bool:
    """Whether `got` is the value one rank above or below the nearest rank (an off-by-one rank)."""
    ordered = sorted(values)
    i = max(0, math.ceil(p * len(ordered) / 100) - 1)
    return any(0 <= j < len(ordered) and abs(ordered[j] - got) <= 1e-9 for j in (i - 1, i + 1))


def _percentile_hint(values: list[float], p: float, got: float) -> str:
    return NEAREST_RANK if _near_rank(values, p, got) else USE_PERCENTILE


@register("hedging-budget")
def check_budget(cls: Callable[..., Any], report: Report) -> None:
    with report.case("no hedge until min_samples calls are recorded (math.inf)") as notes:
        policy = _new_policy(report, cls, min_samples=20)
        report.expect(_ask(report, policy, hint=MIN_SAMPLES) == math.inf,
                      "a new policy should not hedge: delay() should be math.inf", hint=MIN_SAMPLES)
        _feed(report, policy, _spread(19))
        report.expect(_ask(report, policy, hint=MIN_SAMPLES) == math.inf,
                      "after 19 of 20 samples delay() should still be math.inf", hint=MIN_SAMPLES)
        _feed(report, policy, [1.05])
        got = _ask(report, policy)
        notes.detail = f"after 20 samples between 1.00 and 1.19 s: delay() = {got:g}"
        report.expect(math.isfinite(got), "after min_samples latencies, delay() should return a finite delay",
                      hint=MIN_SAMPLES)

    with report.case("the delay is the percentile (nearest rank) of the last `window` latencies") as notes:
        policy = _new_policy(report, cls, percentile=95.0, window=200)
        _feed(report, policy, _spread(200))  # 1.00 .. 2.99 s
        first = _ask(report, policy)
        want = nearest_rank(_spread(200), 95)
        _feed(report, policy, _spread(200, low=5.0))  # the window now holds only these
        second = _ask(report, policy)
        want_second = nearest_rank(_spread(200, low=5.0), 95)
        notes.detail = f"delay {first:g} (want {want:g}), then after 200 slower calls {second:g} (want {want_second:g})"
        report.expect(abs(first - want) <= 1e-9,
                      f"over latencies 1.00 .. 2.99 s, p95 (nearest rank) is {want:g}; delay() gave {first:g}",
                      hint=_percentile_hint(_spread(200), 95, first))
        report.expect(abs(second - want_second) <= 1e-9 or (second >= 5 and _near_rank(_spread(200, low=5.0), 95,
                                                                                          second)),
                      f"after 200 calls of 5.00 .. 6.99 s the window holds only those, so p95 is {want_second:g}; "
                      f"delay() gave {second:g}" + (" (older latencies are still counted)" if second < 5 else ""),
                      hint=WINDOW_LATENCIES)
        other = _new_policy(report, cls, percentile=90.0, window=200)
        _feed(report, other, _spread(200))
        got = _ask(report, other)
        report.expect(abs(got - nearest_rank(_spread(200), 90)) <= 1e-9,
                      f"with percentile=90 the delay should be p90 ({nearest_rank(_spread(200), 90):g}); got {got:g}",
                      hint=_percentile_hint(_spread(200), 90, got))

    with report.case("a policy built with min_samples=5, window=50, budget=0.2, percentile=80 uses those, not the "
                     "defaults") as notes:
        options = {"percentile": 80.0, "budget": 0.2, "window": 50, "min_samples": 5}
        policy = _new_policy(report, cls, **options)
        _feed(report, policy, _spread(4))
        early = _ask(report, policy, hint=MIN_SAMPLES)
        _feed(report, policy, [1.02])
        ready = _ask(report, policy, hint=OWN_MIN_SAMPLES)
        sliding = _new_policy(report, cls, **options)
        old, recent = _spread(50, low=5.0), _spread(50)
        _feed(report, sliding, old + recent)  # the last 50 are the fast ones
        slid = _ask(report, sliding)
        want = nearest_rank(recent, 80)
        spending = _new_policy(report, cls, **options)
        _feed(report, spending, _spread(50))
        _feed(report, spending, [1.5] * 9, hedged=True)
        nine = _ask(report, spending)
        _feed(report, spending, [1.5], hedged=True)
        ten = _ask(report, spending)
        _feed(report, spending, _spread(50))
        aged = _ask(report, spending)
        notes.detail = (f"after 4 and 5 calls: {early:g}, {ready:g}; p80 after 50 slow then 50 fast calls: {slid:g} "
                        f"(want {want:g}); 9, 10 and then no hedged calls in the last 50: {nine:g}, {ten:g}, {aged:g}")
        report.expect(early == math.inf, "after 4 of min_samples=5 calls delay() should still be math.inf",
                      hint=MIN_SAMPLES)
        report.expect(math.isfinite(ready), "with min_samples=5, delay() should be finite from the fifth recorded "
                                            "call on", hint=OWN_MIN_SAMPLES)
        report.expect(slid < 5, f"with window=50, after 50 slow calls (5.00 .. 5.49 s) and then 50 fast ones, only the "
                                f"fast ones count: p80 is {want:g}; delay() gave {slid:g}", hint=OWN_WINDOW)
        report.expect(abs(slid - want) <= 1e-9, f"p80 of the last 50 latencies is {want:g}; delay() gave {slid:g}",
                      hint=_percentile_hint(recent, 80, slid))
        report.expect(math.isfinite(nine), "9 hedged calls among the last 50 is under budget=0.2 (10 of 50): "
                                           "still hedge", hint=OWN_BUDGET)
        report.expect(ten == math.inf, "10 hedged calls among the last 50 is the whole budget=0.2 of window=50: "
                                       "delay() should be math.inf", hint=OWN_WINDOW)
        report.expect(math.isfinite(aged), "with window=50, once 50 unhedged calls have followed the hedged ones, "
                                           "the budget has refilled: delay() should be finite", hint=OWN_WINDOW)

    with report.case("the budget: once `budget` of the last `window` calls were hedged, no more hedges; "
                     "it refills as they age out") as notes:
        warming = _new_policy(report, cls, budget=0.10, window=200, min_samples=20)
        _feed(report, warming, _spread(20), hedged=[i % 4 == 0 for i in range(20)])
        warm = _ask(report, warming)
        policy = _new_policy(report, cls, budget=0.10, window=200)
        _feed(report, policy, _spread(200))
        _feed(report, policy, [3.5] * 19, hedged=True)
        open_ = _ask(report, policy)
        _feed(report, policy, [3.5], hedged=True)
        closed = _ask(report, policy)
        _feed(report, policy, _spread(200))  # every hedged call is now more than 200 calls back
        reopened = _ask(report, policy)
        notes.detail = (f"5 hedged of the first 20: {warm:g}; 19 hedged of the last 200: {open_:g}; 20 hedged: "
                        f"{closed:g}; all aged out: {reopened:g}")
        report.expect(math.isfinite(warm), "5 hedged calls among the first 20 recorded is far under 10% of a "
                                           "200-call window (20 hedges): still hedge", hint=BUDGET_SHARE)
        report.expect(math.isfinite(open_), "19 hedged calls in the last 200 is under a 10% budget: still hedge",
                      hint=BUDGET_SHARE)
        report.expect(closed == math.inf, "20 hedged calls in the last 200 is the whole 10% budget: "
                                          "delay() should be math.inf", hint=BUDGET_SPENT)
        report.expect(math.isfinite(reopened), "once the hedged calls are more than `window` calls old they no "
                                               "longer count: delay() should be finite again", hint=BUDGET_REFILLS)

    with report.case("calm, 400 calls timed by the world's latency model: hedges about 5% of calls and cuts the "
                     "tail") as notes:
        traffic = _traffic(report, cls, seed=21, drift=False, every=3.0, calls=400)
        extra = sum(traffic.hedged) / len(traffic.hedged)
        p99, u99 = nearest_rank(traffic.latencies, 99), nearest_rank(traffic.unhedged, 99)
        p999, u999 = nearest_rank(traffic.latencies, 99.9), nearest_rank(traffic.unhedged, 99.9)
        notes.detail = (f"{extra:.1%} of calls hedged; p99 {p99:.2f} s (unhedged {u99:.2f} s), "
                        f"p99.9 {p999:.2f} s (unhedged {u999:.2f} s)")
        report.expect(extra <= 0.08, f"{extra:.1%} of calls were hedged; after the p95 delay it should be about 5%",
                      hint=USE_PERCENTILE)
        report.expect(extra > 0.01, f"only {extra:.1%} of calls were hedged: hedge when the budget allows",
                      hint=BUDGET_SHARE)
        report.expect(p99 <= u99 / 2 and p999 < u999, f"p99 {p99:.2f} s and p99.9 {p999:.2f} s against {u99:.2f} s "
                                                       f"and {u999:.2f} s unhedged: hedging should cut the tail")

    for seed in (31,):
        with report.case(f"latency drift (seed {seed}), 360 calls over an hour: hedges stay within the 10% "
                         "budget") as notes:
            traffic = _traffic(report, cls, seed=seed, drift=True, every=10.0, calls=360)
            fixed = nearest_rank(_sequential(seed, 200), 95)
            flood = sum(b > fixed for b in traffic.unhedged) / len(traffic.unhedged)
            extra = sum(traffic.hedged) / len(traffic.hedged)
            worst = _worst_window(traffic.hedged, 200)
            notes.detail = (f"{extra:.1%} of calls hedged, at most {worst} in any 200 calls (a fixed delay of "
                            f"{fixed:.2f} s, the calm p95, would have hedged {flood:.0%} of calls)")
            report.expect(worst <= 24, f"{worst} of 200 consecutive calls were hedged; the budget allows 20 (a few "
                                       "more can slip through while calls are in flight)", hint=BUDGET_SPENT)
            report.expect(extra > 0.01, f"only {extra:.1%} of calls were hedged: hedge when the budget allows",
                          hint=BUDGET_SHARE)


mistakes(
    "hedging-budget",
    Mistake("hedges from the first call, with no minimum of samples",
            (("if len(self.latencies) < self.min_samples:", "if not self.latencies:"),), MIN_SAMPLES),
    Mistake("a percentile over no latencies (the min_samples test left out)",
            (("if len(self.latencies) < self.min_samples:", "if False:"),), MIN_SAMPLES),
    Mistake("keeps every latency ever recorded",
            (("self.latencies: deque[float] = deque(maxlen=window)", "self.latencies: list[float] = []"),),
            WINDOW_LATENCIES),
    Mistake("always the 95th percentile, whatever `percentile` says",
            (("return nearest_rank(self.latencies, self.percentile)", "return nearest_rank(self.latencies, 95)"),),
            USE_PERCENTILE),
    Mistake("the mean latency instead of the percentile",
            (("return nearest_rank(self.latencies, self.percentile)",
              "return sum(self.latencies) / len(self.latencies)"),), USE_PERCENTILE),
    Mistake("a budget that is never spent (no budget test)",
            (("if sum(self.hedged) >= self.budget * self.window:", "if False:"),), BUDGET_SPENT),
    Mistake("the budget compared with the calls recorded so far, not the window",
            (("if sum(self.hedged) >= self.budget * self.window:",
              "if sum(self.hedged) >= self.budget * len(self.hedged):"),), BUDGET_SHARE),
    Mistake("the budget share compared with a count of hedges",
            (("if sum(self.hedged) >= self.budget * self.window:", "if sum(self.hedged) >= self.budget:"),),
            BUDGET_SHARE),
    Mistake("a budget that is never refilled (every hedge ever counted)",
            (("self.hedged: deque[bool] = deque(maxlen=window)", "self.hedged: list[bool] = []"),), BUDGET_REFILLS),
    Mistake("a rank one too high: int(p * n / 100) as the index instead of the nearest rank",
            (("return nearest_rank(self.latencies, self.percentile)",
              "return sorted(self.latencies)[min(int(self.percentile * len(self.latencies) / 100), "
              "len(self.latencies) - 1)]"),), NEAREST_RANK),
    Mistake("a fixed 20 samples, whatever `min_samples` says",
            (("if len(self.latencies) < self.min_samples:", "if len(self.latencies) < 20:"),), OWN_MIN_SAMPLES),
    Mistake("deques of a fixed 200, whatever `window` says",
            (("self.latencies: deque[float] = deque(maxlen=window)", "self.latencies: deque[float] = deque(maxlen=200)"),
             ("self.hedged: deque[bool] = deque(maxlen=window)", "self.hedged: deque[bool] = deque(maxlen=200)")),
            OWN_WINDOW),
    Mistake("a fixed 10% budget, whatever `budget` says",
            (("if sum(self.hedged) >= self.budget * self.window:", "if sum(self.hedged) >= 0.1 * self.window:"),),
            OWN_BUDGET),
    Mistake("the budget counted against a fixed 200-call window",
            (("if sum(self.hedged) >= self.budget * self.window:", "if sum(self.hedged) >= self.budget * 200:"),),
            OWN_WINDOW),
    Mistake("records only the hedged calls, so the window of flags never ages",
            (("self.hedged.append(hedged)", "if hedged:\n            self.hedged.append(True)"),), BUDGET_REFILLS),
)
