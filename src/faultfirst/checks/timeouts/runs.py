"""One call of the learner's deadline-bounded function in a seeded world, and what the world saw of it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import anthropic
import openai
import tenacity

from ...clock.limits import Runaway
from ...model.tokens import count_tokens
from ...service.attempts import Attempt
from ...service.latency import LatencyModel
from ...service.records import RequestRecord
from ...text import plural
from ...wire.retryable import retryable_status
from ...world import World
from .._framework import Report, checked_world
from .hints import (
    NO_WAIT_PAST,
    RAISE_DEADLINE,
    REMAINING,
    RETRY_408_409,
    RETRY_429,
    RETRY_CONNECTION,
    RETRY_STATUS,
    WHOLE_BUDGET,
)

PROMPT = "What does the research say about sleep deprivation and working memory?"
_TOLERANCE = 1e-6  # seconds: floating-point slack on "never later than the deadline"
CUT = ("timeout", "cancelled")  # attempts the client stopped waiting for


def _is_deadline_exceeded(err: BaseException | None) -> bool:
    return err is not None and any(cls.__name__ == "DeadlineExceeded" for cls in type(err).__mro__)


def describe(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if len(text) > 100:
        text = text[:100].rsplit(" ", 1)[0] + " ..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def run_deadline(report: Report, fn: Callable[..., Any], world: World, model: str, *, deadline_s: float,
                 **options: Any) -> tuple[Any, BaseException | None, float]:
    """Call the learner's function once; return what it returned, what it raised, and the virtual seconds spent.

    The world's own bound on attempts or time (`Runaway`) comes back as what was raised, so the case can say
    what the attempts were instead of only "did not finish"; the framework's watchdog (a loop that touches no
    world) goes on to `report.call`, which stops the check.
    """
    start = world.clock.now()

    def attempt() -> tuple[Any, BaseException | None]:
        try:
            return fn(world, model, PROMPT, deadline_s=deadline_s, **options), None
        except NotImplementedError:
            raise
        except Runaway as err:
            if not _past_bounds(world):
                raise
            return None, err
        except Exception as err:
            return None, err

    value, err = report.call(attempt)
    return value, err, world.clock.now() - start


def _past_bounds(world: World) -> bool:
    """Did this world's bound on attempts or simulated time stop the call?"""
    limits = world.active_limits
    return limits is not None and (len(world.requests) > limits.max_attempts or world.clock.now() > limits.max_seconds)


def deadline_world(seed: int, scenario: str, *, at_peak: bool = False, deadline_s: float) -> World:
    """A bounded world, moved to the slowest moment of its drift first when `at_peak`."""
    peak = rise_seconds(seed) if at_peak else 0.0
    world = checked_world(seed=seed, scenario=scenario, max_attempts=40, max_seconds=peak + deadline_s + 300)
    if at_peak:
        world.clock.sleep(peak)  # the multiplier is at its peak one rise after minute 0
    return world


@cache
def rise_seconds(seed: int) -> float:
    """When the drift of a world with this seed peaks: its latency model draws the drift's shape from the seed alone."""
    return LatencyModel(seed, drift=True).rise_seconds


def detail(world: World, elapsed: float, *, peak: bool = False) -> str:
    """What one call cost: attempts, the virtual seconds it spent, its bill (and where the clock started)."""
    cost = sum(r.cost_usd for r in world.requests)
    line = f"{plural(len(world.requests), 'attempt')}, {elapsed:,.1f} s simulated, ${cost:.6f}"
    return f"{line}, starting at the drift's peak (minute {(world.clock.now() - elapsed) / 60:.1f})" if peak else line


def _within(report: Report, world: World, elapsed: float, deadline_s: float) -> None:
    """No attempt started or ran past the deadline, and the call returned by it: each told apart, with its hint."""
    begun = world.clock.now() - elapsed
    deadline = begun + deadline_s
    for n, record in enumerate(world.requests, 1):
        report.expect(record.start <= deadline + _TOLERANCE,
                      f"attempt {n} started at {record.start - begun:.2f} s, after the {deadline_s:g} s deadline: "
                      "a wait went past it", hint=NO_WAIT_PAST)
        report.expect(record.end <= deadline + _TOLERANCE,
                      f"attempt {n} started at {record.start - begun:.2f} s, with {deadline - record.start:.2f} s "
                      f"left, and ran {record.latency:.2f} s, to {record.end - begun:.2f} s: its timeout was longer "
                      "than what was left", hint=REMAINING)
    report.expect(elapsed <= deadline_s + _TOLERANCE,
                  f"returned after {elapsed:.2f} s of simulated time with a deadline of {deadline_s:g} s, although "
                  "every attempt ended in time: a wait ran past the deadline", hint=NO_WAIT_PAST)


def _expect_no_sdk_error(report: Report, world: World, err: BaseException | None, elapsed: float,
                         deadline_s: float) -> None:
    """An SDK exception or tenacity's RetryError escaped: say whether it was not retried or not converted."""
    if err is None or _is_deadline_exceeded(err):
        return
    attempts = len(world.requests)
    time_left = elapsed < deadline_s - 0.5
    if isinstance(err,
                  tenacity.RetryError) or (attempts > 1 and isinstance(err, (openai.APIError, anthropic.APIError))):
        report.expect(False, f"raised {describe(err)} after {plural(attempts, 'attempt')} and {elapsed:.2f} s",
                      hint=RAISE_DEADLINE)
    if isinstance(err, (openai.APITimeoutError, anthropic.APITimeoutError)):
        report.expect(not time_left, f"raised {describe(err)} after one attempt, with "
                                     f"{deadline_s - elapsed:.2f} s of the budget left", hint=RETRY_CONNECTION)
        report.expect(False, f"raised {describe(err)} when the budget was gone", hint=RAISE_DEADLINE)
    if isinstance(err, (openai.APIConnectionError, anthropic.APIConnectionError)):
        report.expect(False, f"raised {describe(err)} after one attempt, with {deadline_s - elapsed:.2f} s of the "
                             "budget left", hint=RETRY_CONNECTION)
    if isinstance(err, (openai.APIStatusError, anthropic.APIStatusError)) and retryable_status(err.status_code):
        status_hint = {429: RETRY_429, 408: RETRY_408_409, 409: RETRY_408_409}.get(err.status_code, RETRY_STATUS)
        report.expect(False, f"raised {describe(err)} after one attempt, with {deadline_s - elapsed:.2f} s of the "
                             "budget left", hint=status_hint)


def expect_answer(report: Report, world: World, model: str, value: Any, err: BaseException | None,
                  elapsed: float, deadline_s: float) -> None:
    _within(report, world, elapsed, deadline_s)
    _expect_no_sdk_error(report, world, err, elapsed, deadline_s)
    report.expect(err is None, f"raised {describe(err)}" if err is not None else "")
    report.expect(isinstance(value, str), f"should return the reply's text (a str), got {type(value).__name__}")
    answered = [r for r in world.requests if r.ok]
    report.expect(bool(answered), "returned without any attempt being answered")
    report.expect(count_tokens(value, world.catalog[model].encoding) == answered[-1].output_tokens,
                  "the text returned is not the text of the answered attempt")


def expect_deadline(report: Report, world: World, value: Any, err: BaseException | None, elapsed: float,
                    deadline_s: float, attempt_timeout_s: float | None = None) -> None:
    _within(report, world, elapsed, deadline_s)
    _expect_no_sdk_error(report, world, err, elapsed, deadline_s)
    answered = [n for n, r in enumerate(world.requests, 1) if r.ok]
    if err is None and answered:
        early = _cut_early(world, elapsed, deadline_s, attempt_timeout_s)
        report.expect(early is None,
                      f"returned the answer of attempt {answered[-1]}, after attempt {early[0] if early else 0} was "
                      f"cut at {early[1].latency if early else 0:.2f} s with {early[2] if early else 0:.2f} s left; "
                      "given all that was left, that attempt would have run to the deadline", hint=WHOLE_BUDGET)
    report.expect(err is not None, f"returned {value!r:.60} where DeadlineExceeded was expected", hint=RAISE_DEADLINE)
    report.expect(_is_deadline_exceeded(err), f"raised {describe(err)}" if err is not None else "")


def _cut_early(world: World, elapsed: float, deadline_s: float,
               attempt_timeout_s: float | None) -> tuple[int, RequestRecord, float] | None:
    """The first attempt that timed out before what was left (or attempt_timeout_s) ran out, if any."""
    deadline = world.clock.now() - elapsed + deadline_s
    for n, record in enumerate(world.requests, 1):
        left = deadline - record.start
        allowed = left if attempt_timeout_s is None else min(left, attempt_timeout_s)
        if record.error == "timeout" and record.latency < allowed - 1e-6:
            return n, record, left
    return None


def scripted_statuses(world: World, statuses: tuple[tuple[int, int | None], ...]) -> World:
    """The world's first attempts answered with these (status, retry-after) instead, in order; then as usual."""
    left = list(statuses)

    def scripted(attempt: Attempt) -> None:
        if not left:
            return
        status, advice = left.pop(0)
        kind = {408: "timeout", 409: "conflict", 429: "rate_limit_error"}.get(status, "api_error")
        headers = {"retry-after": str(advice)} if advice is not None else None
        attempt.answer(status, f"Scripted {status}.", error_type=kind, headers=headers, delay=0.05)

    world.on_attempt(after=scripted)
    return world


def cut_at(report: Report, world: World, n: int, seconds: float, why: str, hint: str) -> None:
    """Attempt n (from 1) timed out, at `seconds`."""
    report.expect(len(world.requests) >= n, f"made {plural(len(world.requests), 'attempt')}")
    record = world.requests[n - 1]
    report.expect(record.error == "timeout" and abs(record.latency - seconds) < 1e-6,
                  f"attempt {n} " + (f"was cut at {record.latency:.2f} s" if record.error == "timeout"
                                     else f"ended {record.status or record.error} after {record.latency:.2f} s")
                  + f"; {why}", hint=hint)


