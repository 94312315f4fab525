"""Judging one hedged call against the lesson's rules: what it did wrong, and the hint for that mistake."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...clock.limits import Runaway
from ...text import plural
from .._async import quiet_world, run_in_world
from .._framework import Report
from .hints import (
    AWAIT_CANCELLED,
    CANCEL_LOSER,
    CLEANUP_IN_FINALLY,
    GATHER_RETURN_EXCEPTIONS,
    HEDGE_AT_DELAY,
    HEDGE_ON_FAILURE,
    KEEP_FIRST_RUNNING,
    KEEP_WAITING,
    NO_HEDGE_IF_ANSWERED,
    RERAISE,
    RETURN_RESULT,
    START_HEDGE,
    TWO_ATTEMPTS,
)
from .scripted import EPS, WATCHDOG, Guard, Plan, Run, Script, call_once, describe


@dataclass(frozen=True)
class Problem:
    reason: str
    hint: str | None = None


def judge(script: Script, run: Run, delay: float, *, deadline: bool = False) -> Problem | None:
    """What, if anything, one call of the learner's function did against the rules; times relative to its start."""
    began, now, at = run.began, run.finished_at, run.began + delay
    said = describe(script, began)
    if run.left_cancelling:
        return Problem(f"when it returned, {plural(run.left_cancelling, 'attempt')} had been cancelled but had not "
                        f"finished ({said})", AWAIT_CANCELLED)
    if run.left_uncancelled:
        return Problem(f"when it {'was cancelled' if deadline else 'returned'}, "
                       f"{plural(run.left_uncancelled, 'attempt')} "
                        f"was still running, never cancelled ({said})",
                       CLEANUP_IN_FINALLY if deadline else CANCEL_LOSER)
    attempts = script.attempts
    if run.hung:
        return Problem(f"it had not returned after {WATCHDOG:g} s ({said})",
                       TWO_ATTEMPTS if len(attempts) > 2 else None)
    if not attempts:
        return Problem("it started no attempt: call `attempt()` and await what it returns")
    if len(attempts) > 2:
        return Problem(f"it started {plural(len(attempts), 'attempt')} ({said})", TWO_ATTEMPTS)
    first = attempts[0]
    second = attempts[1] if len(attempts) == 2 else None
    first_end = first.end if first.end is not None else math.inf
    if (second is not None and second.start is not None and first.outcome == "cancelled"
            and first_end <= second.start + EPS):
        return Problem(f"the first attempt was cancelled at t={first_end - began:g}, when the hedge started, though "
                        f"no attempt had answered ({said})", KEEP_FIRST_RUNNING)
    if second is not None and first.outcome == "answered" and (second.start is None or
                                                               second.start >= first_end - EPS):
        return Problem(f"the first attempt answered after {first_end - began:g} s, within the delay of {delay:g} s, "
                        f"and a second attempt was still started ({said})", NO_HEDGE_IF_ANSWERED)
    if any(a.start is None for a in attempts):
        return Problem(f"an attempt was created but never run ({said})", START_HEDGE)
    second_start = second.start if second is not None and second.start is not None else math.inf
    if first.outcome == "failed" and first_end < at - EPS:  # failed before the delay
        if second is None:
            return Problem(f"the first attempt failed after {first_end - began:g} s, before the delay, and no "
                            f"second attempt was started ({said})", HEDGE_ON_FAILURE)
        if abs(second_start - first_end) > EPS:
            return Problem(f"the first attempt failed at t={first_end - began:g} and the second started at "
                            f"t={second_start - began:g}; it should start at once, at the failure ({said})",
                           HEDGE_AT_DELAY if second_start < first_end else HEDGE_ON_FAILURE)
    else:
        if second is None and first_end > at + EPS and now > at + EPS:
            return Problem(f"the first attempt was still running at the delay ({delay:g} s) and no second attempt "
                            f"was started ({said})", START_HEDGE)
        if second is not None and abs(second_start - at) > EPS:
            return Problem(f"the second attempt started at t={second_start - began:g}; with no failure before it, "
                            f"it should start when the delay runs out, at t={delay:g} ({said})", HEDGE_AT_DELAY)
    if deadline:
        return None
    answered = [a for a in attempts if a.outcome == "answered"]
    if isinstance(run.error, asyncio.CancelledError):
        return Problem(f"it raised CancelledError{' although an attempt answered' if answered else ''}: the "
                        f"cancellation of an attempt it cancelled came out of the call ({said})",
                       GATHER_RETURN_EXCEPTIONS)
    first_answer = min((a.end or math.inf for a in answered), default=math.inf)
    if run.error is not None and run.finished_at >= first_answer - EPS:
        return Problem(f"it raised {type(run.error).__name__} ({run.error}) after an attempt had answered at "
                        f"t={first_answer - began:g}: its cleanup re-raised an attempt's exception ({said})",
                       GATHER_RETURN_EXCEPTIONS)
    if run.error is not None and (answered or any(a.outcome == "cancelled" for a in attempts)):
        return Problem(f"it raised {type(run.error).__name__} ({run.error}) although "
                        f"{'an attempt answered' if answered else 'the other attempt was still running'} ({said})",
                       KEEP_WAITING)
    if answered:
        winner = min(answered, key=lambda a: a.end or math.inf)
        number = attempts.index(winner) + 1
        if not any(run.value is a for a in script.answers):
            return Problem(f"it returned {run.value!r}, not what an attempt returned ({said})", RETURN_RESULT)
        late = now - (winner.end or 0)
        loser_answered = len(answered) == 2
        if run.value is not script.answers[number - 1]:
            return Problem(f"it returned {run.value!r}; the first success was attempt {number}'s ({said})",
                           CANCEL_LOSER if loser_answered else None)
        if late > EPS:
            return Problem(f"it returned {late:g} s after attempt {number} answered ({said})",
                           CANCEL_LOSER if loser_answered else None)
        return None
    if run.error is None:
        return Problem(f"every attempt failed, yet the call returned {run.value!r} instead of raising ({said})",
                       RERAISE)
    if not any(run.error is e for e in script.errors):
        return Problem(f"every attempt failed and it raised {type(run.error).__name__}: {run.error}; not an "
                        f"attempt's own exception ({said})", RERAISE)
    return None


def expect_call(report: Report, script: Script, run: Run, delay: float, *, starts: list[float],
                returns: int | None = None, at: float | None = None, cancelled: tuple[int, ...] = (),
                deadline: bool = False) -> None:
    """One scripted call: the rules (with their hints), then exactly the expected timeline."""
    problem = judge(script, run, delay, deadline=deadline)
    report.expect(problem is None, problem.reason if problem else "", hint=problem.hint if problem else None)
    said = describe(script)
    got = [a.start for a in script.attempts]
    report.expect(len(got) == len(starts) and all(abs((g or 0) - w) < EPS for g, w in zip(got, starts, strict=False)),
                  f"attempts should start at t={', '.join(f'{w:g}' for w in starts)} ({said})")
    if returns is not None:
        report.expect(run.value is script.answers[returns - 1] and abs(run.finished_at - (at or 0)) < EPS,
                      f"it should return what attempt {returns} returned, at t={at:g}; it returned {run.value!r} "
                      f"at t={run.finished_at:g} ({said})")
    for number in cancelled:
        outcome = script.at_return[number - 1] if number <= len(script.at_return) else "never started"
        report.expect(outcome == "cancelled", f"attempt {number} should have been cancelled; it {outcome}",
                      hint=CANCEL_LOSER)


def run_script(report: Report, fn: Callable[..., Any], plan: list[Plan], *, delay: float,
               deadline: float | None = None) -> tuple[Run, Script]:
    world = quiet_world(seed=0, max_attempts=50, max_seconds=WATCHDOG * 2)
    guard = Guard(20)
    script = Script(plan, guard=guard)

    async def main() -> Run:
        guard.driver = asyncio.current_task()
        try:
            return await call_once(fn, script, delay, deadline=deadline, on_return=script.snapshot)
        except asyncio.CancelledError:
            if guard.tripped:
                script.snapshot()
                return Run(error=Runaway(f"started more than {guard.limit} attempts"),
                           finished_at=asyncio.get_running_loop().time())
            raise

    return run_in_world(report, world, main), script


