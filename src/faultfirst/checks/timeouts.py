"""Checks for the lesson "Timeouts and deadlines" (book/tier2/timeouts.md).

`timeouts-deadline` runs the learner's call in fresh seeded worlds: calm, at
the peak of latency drift, overloaded (a quick 529, then an attempt slower than
what is left of the deadline), during an outage, and with a request the API
refuses. Every case measures the world's clock around the call and around each
attempt, so "never spends more than the deadline" is a measurement, not a
promise, and an attempt that ran past the deadline is told apart from a wait
that did.

`timeouts-choose` is a pure function over a request log. The logs are built
here from seeded worlds (and by hand where an exact shape is needed), the
expected answer comes from `reference_timeout`, and a wrong answer is matched
against the value each listed mistake would give, so the report names the
mistake and gives its hint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from numbers import Real
from typing import Any

import anthropic
import httpx2
import openai
import tenacity

from ..clock.limits import Runaway
from ..wire import anthropic_render
from ..wire import openai_render
from ..service.records import RequestRecord
from ..wire.retryable import retryable_status
from ..model.tokens import count_tokens
from ..world import World
from ..text import plural
from ._framework import Mistake, Report, checked_world, mistakes, register

_PROMPT = "What does the research say about sleep deprivation and working memory?"
_TOLERANCE = 1e-6  # seconds: floating-point slack on "never later than the deadline"
_CUT = ("timeout", "cancelled")  # attempts the client stopped waiting for


# -- timeouts-deadline -----------------------------------------------------------------------------------------

REMAINING = ("Each attempt's timeout is what is left of the deadline when that attempt starts, "
             "`deadline - world.clock.now()` computed just before it (or attempt_timeout_s if that is smaller), "
             "never a fixed number such as deadline_s: after a quick failure and a wait, less is left.")
ATTEMPT_CAP = ("attempt_timeout_s caps every attempt: timeout = min(what is left, attempt_timeout_s), so a slow "
               "attempt is cut early and a retry still fits in the deadline.")
WHOLE_BUDGET = ("Without attempt_timeout_s, give each attempt all that is left of the deadline, not a slice of "
                "it: a slow model that needs most of the budget must get it.")
NO_WAIT_PAST = ("Never wait into the deadline: stop before a wait that would end after it "
                "(tenacity.stop_before_delay(deadline_s), or compare the wait with what is left before sleeping).")
RAISE_DEADLINE = ("When the budget is gone, raise DeadlineExceeded (from the setup cell): not tenacity's RetryError, "
                  "not the SDK's last exception, not a return value.")
RETRY_STATUS = ("A 529, 503 or 429 is transient: retry every failure transient(err) accepts (a timeout or other "
                "connection error, or a status retryable_status accepts: 408, 409, 429, 5xx), not only timeouts.")
RETRY_429 = ("A 429 (RateLimitError) is transient: retry_if_exception(transient) retries it; a rate limit with a "
             "short retry-after is the commonest failure worth another attempt, so do not filter it out.")
RETRY_408_409 = ("A 408 (request timeout) and a 409 (conflict) are transient too: retryable_status accepts them, as "
                 "both SDKs do, so retry every status transient(err) accepts, not only 429 and 5xx.")
PASS_MAX_TOKENS = ("Pass max_tokens on to every attempt: ask(world, model, prompt, timeout=..., max_tokens=max_tokens); "
                   "without it each attempt asks for the default 300 tokens, not what the caller asked for.")
RETRY_CONNECTION = ("A connection reset or a timeout (APIConnectionError, and its subclass APITimeoutError) is "
                    "transient: retry it while the budget lasts.")
BACK_OFF = ("Wait between attempts (tenacity.wait_exponential(multiplier=0.5, max=8) with sleep=world.clock.sleep): "
            "a provider that is down answers at once, and a retry loop without waits hammers it.")
NO_RETRY_400 = ("Retry only what transient(err) accepts: a 400 (BadRequestError) fails the same way every time, "
                "so it is not retried.")
PASS_400_THROUGH = ("Let an error that is not transient through unchanged, at once: the caller must see the SDK's "
                    "BadRequestError, not DeadlineExceeded (the budget was not the problem).")


def _is_deadline_exceeded(err: BaseException | None) -> bool:
    return err is not None and any(cls.__name__ == "DeadlineExceeded" for cls in type(err).__mro__)


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if len(text) > 100:
        text = text[:100].rsplit(" ", 1)[0] + " ..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _run(report: Report, fn: Callable[..., Any], world: World, model: str, *, deadline_s: float,
         **options: Any) -> tuple[Any, BaseException | None, float]:
    """Call the learner's function once; return what it returned, what it raised, and the virtual seconds spent.

    The world's own bound on attempts or time (`Runaway`) comes back as what was raised, so the case can say
    what the attempts were instead of only "did not finish"; the framework's watchdog (a loop that touches no
    world) goes on to `report.call`, which stops the check.
    """
    start = world.clock.now()

    def attempt() -> tuple[Any, BaseException | None]:
        try:
            return fn(world, model, _PROMPT, deadline_s=deadline_s, **options), None
        except NotImplementedError:
            raise
        except Runaway as err:
            if not _past_bounds(world):
                raise
            return None, err
        except Exception as err:  # noqa: BLE001 - what the learner raised is what the case judges
            return None, err

    value, err = report.call(attempt)
    return value, err, world.clock.now() - start


def _past_bounds(world: World) -> bool:
    """Did this world's bound on attempts or simulated time stop the call?"""
    limits = world.active_limits
    return limits is not None and (len(world.requests) > limits.max_attempts or world.clock.now() > limits.max_seconds)


def _world(seed: int, scenario: str, *, at_peak: bool = False, deadline_s: float) -> World:
    """A bounded world, moved to the slowest moment of its drift first when `at_peak`."""
    peak = _rise_seconds(seed) if at_peak else 0.0
    world = checked_world(seed=seed, scenario=scenario, max_attempts=40, max_seconds=peak + deadline_s + 300)
    if at_peak:
        world.clock.sleep(peak)  # the multiplier is at its peak one rise after minute 0
    return world


@lru_cache(maxsize=None)
def _rise_seconds(seed: int) -> float:
    return World(seed=seed, scenario="latency-drift")._api.latency.rise_seconds


def _detail(world: World, elapsed: float, *, peak: bool = False) -> str:
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
    if isinstance(err, tenacity.RetryError) or (attempts > 1 and isinstance(err, (openai.APIError, anthropic.APIError))):
        report.expect(False, f"raised {_describe(err)} after {plural(attempts, 'attempt')} and {elapsed:.2f} s",
                      hint=RAISE_DEADLINE)
    if isinstance(err, (openai.APITimeoutError, anthropic.APITimeoutError)):
        report.expect(not time_left, f"raised {_describe(err)} after one attempt, with "
                                     f"{deadline_s - elapsed:.2f} s of the budget left", hint=RETRY_CONNECTION)
        report.expect(False, f"raised {_describe(err)} when the budget was gone", hint=RAISE_DEADLINE)
    if isinstance(err, (openai.APIConnectionError, anthropic.APIConnectionError)):
        report.expect(False, f"raised {_describe(err)} after one attempt, with {deadline_s - elapsed:.2f} s of the "
                             "budget left", hint=RETRY_CONNECTION)
    if isinstance(err, (openai.APIStatusError, anthropic.APIStatusError)) and retryable_status(err.status_code):
        status_hint = {429: RETRY_429, 408: RETRY_408_409, 409: RETRY_408_409}.get(err.status_code, RETRY_STATUS)
        report.expect(False, f"raised {_describe(err)} after one attempt, with {deadline_s - elapsed:.2f} s of the "
                             "budget left", hint=status_hint)


def _expect_answer(report: Report, world: World, model: str, value: Any, err: BaseException | None,
                   elapsed: float, deadline_s: float) -> None:
    _within(report, world, elapsed, deadline_s)
    _expect_no_sdk_error(report, world, err, elapsed, deadline_s)
    report.expect(err is None, f"raised {_describe(err)}" if err is not None else "")
    report.expect(isinstance(value, str), f"should return the reply's text (a str), got {type(value).__name__}")
    answered = [r for r in world.requests if r.ok]
    report.expect(bool(answered), "returned without any attempt being answered")
    report.expect(count_tokens(value, world.catalog[model].encoding) == answered[-1].output_tokens,
                  "the text returned is not the text of the answered attempt")


def _expect_deadline(report: Report, world: World, value: Any, err: BaseException | None, elapsed: float,
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
    report.expect(_is_deadline_exceeded(err), f"raised {_describe(err)}" if err is not None else "")


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


def _scripted(world: World, statuses: tuple[tuple[int, int | None], ...]) -> World:
    """The world's first attempts answered with these (status, retry-after) instead, in order; then as usual."""
    engine = world._api
    plan = engine.plan
    left = list(statuses)

    def scripted(provider: str, request: Any, now: float) -> Any:
        outcome = plan(provider, request, now)
        if not left:
            return outcome
        status, advice = left.pop(0)
        record = RequestRecord(provider, outcome.record.model, outcome.record.endpoint, now)
        engine._log[-1] = record
        kind = {408: "timeout", 409: "conflict", 429: "rate_limit_error"}.get(status, "api_error")
        data = (openai_render.error(f"Scripted {status}.", kind) if provider == "openai"
                else anthropic_render.error(kind, f"Scripted {status}.", "scripted"))
        headers = {"retry-after": str(advice)} if advice is not None else None
        return engine.answer_json(record, data, "scripted", 0.05, status=status, headers=headers)

    engine.plan = scripted  # type: ignore[method-assign]
    return world


def _cut_at(report: Report, world: World, n: int, seconds: float, why: str, hint: str) -> None:
    """Attempt n (from 1) timed out, at `seconds`."""
    report.expect(len(world.requests) >= n, f"made {plural(len(world.requests), 'attempt')}")
    record = world.requests[n - 1]
    report.expect(record.error == "timeout" and abs(record.latency - seconds) < 1e-6,
                  f"attempt {n} " + (f"was cut at {record.latency:.2f} s" if record.error == "timeout"
                                     else f"ended {record.status or record.error} after {record.latency:.2f} s")
                  + f"; {why}", hint=hint)


@register("timeouts-deadline")
def check_deadline(fn: Callable[..., Any], report: Report) -> None:
    for seed, model in ((61, "gpt-fast"), (62, "claude-fast")):
        with report.case(f"calm: {model} answers at once, well within a 10 s deadline") as notes:
            world = _world(seed, "calm", deadline_s=10)
            value, err, elapsed = _run(report, fn, world, model, deadline_s=10)
            notes.detail = _detail(world, elapsed)
            _expect_answer(report, world, model, value, err, elapsed, 10)
            report.expect(len(world.requests) == 1, f"made {len(world.requests)} requests; one was enough")

    with report.case("latency drift at its peak: claude-strong cannot answer in 8 s, so DeadlineExceeded after "
                     "no more than 8 s") as notes:
        world = _world(64, "latency-drift", at_peak=True, deadline_s=8)
        value, err, elapsed = _run(report, fn, world, "claude-strong", deadline_s=8)
        notes.detail = _detail(world, elapsed, peak=True)
        _expect_deadline(report, world, value, err, elapsed, 8)

    with report.case("overloaded: a 529 at once, then an attempt slower than the 9.4 s left: it is cut at the "
                     "deadline, and DeadlineExceeded at 10 s") as notes:
        world = _world(360, "overloaded", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "claude-fast", deadline_s=10)
        notes.detail = _detail(world, elapsed)
        _expect_deadline(report, world, value, err, elapsed, 10)

    with report.case("calm, the slow path: attempt_timeout_s=4 cuts a 17 s first attempt at 4 s, and a retry "
                     "answers within the 10 s deadline") as notes:
        world = _world(60, "calm", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "claude-fast", deadline_s=10, attempt_timeout_s=4)
        notes.detail = _detail(world, elapsed)
        _cut_at(report, world, 1, 4, "with attempt_timeout_s=4 it should be cut at 4 s", ATTEMPT_CAP)
        _expect_answer(report, world, "claude-fast", value, err, elapsed, 10)

    with report.case("calm, the same 17 s attempt with deadline_s=3 and attempt_timeout_s=4: the deadline wins, "
                     "the attempt is cut at 3 s, DeadlineExceeded") as notes:
        world = _world(60, "calm", deadline_s=3)
        value, err, elapsed = _run(report, fn, world, "claude-fast", deadline_s=3, attempt_timeout_s=4)
        notes.detail = _detail(world, elapsed)
        _expect_deadline(report, world, value, err, elapsed, 3, attempt_timeout_s=4)

    with report.case("latency drift at its peak: gpt-fast needs most of a 30 s budget, and gets it") as notes:
        world = _world(73, "latency-drift", at_peak=True, deadline_s=30)
        value, err, elapsed = _run(report, fn, world, "gpt-fast", deadline_s=30)
        notes.detail = _detail(world, elapsed, peak=True)
        first = world.requests[0] if world.requests else None
        report.expect(first is None or first.error != "timeout" or first.latency >= 30 - 1e-6,
                      f"the first attempt was cut at {first.latency if first else 0:.2f} s of a 30 s budget",
                      hint=WHOLE_BUDGET)
        _expect_answer(report, world, "gpt-fast", value, err, elapsed, 30)

    with report.case("overloaded: three 529s in a row from claude-fast are retried, and the fourth attempt answers "
                     "within 10 s") as notes:
        world = _world(205, "overloaded", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "claude-fast", deadline_s=10)
        notes.detail = _detail(world, elapsed)
        _expect_answer(report, world, "claude-fast", value, err, elapsed, 10)

    with report.case("overloaded: a connection reset from gpt-fast is retried, and the retry answers") as notes:
        world = _world(45, "overloaded", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "gpt-fast", deadline_s=10)
        notes.detail = _detail(world, elapsed)
        _expect_answer(report, world, "gpt-fast", value, err, elapsed, 10)

    for seed, model, script, what in (
            (61, "gpt-fast", ((429, 1),), "a 429 with retry-after: 1"),
            (62, "claude-fast", ((408, None), (409, None)), "a 408, then a 409")):
        with report.case(f"{what} from {model}: transient, retried, and a later attempt answers within 10 s") as notes:
            world = _scripted(_world(seed, "calm", deadline_s=10), script)
            value, err, elapsed = _run(report, fn, world, model, deadline_s=10)
            notes.detail = _detail(world, elapsed)
            _expect_answer(report, world, model, value, err, elapsed, 10)

    with report.case("outage: every gpt-fast attempt gets 503; DeadlineExceeded within 10 s, waiting between "
                     "attempts") as notes:
        world = _world(66, "outage", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "gpt-fast", deadline_s=10)
        notes.detail = _detail(world, elapsed)
        report.expect(len(world.requests) <= 12,
                      f"made {len(world.requests)}{'+' if isinstance(err, Runaway) else ''} attempts in "
                      f"{elapsed:.1f} s against a provider that is down", hint=BACK_OFF)
        _expect_deadline(report, world, value, err, elapsed, 10)

    with report.case("a request the API refuses (400) is not retried: the SDK's BadRequestError comes back at "
                     "once") as notes:
        for seed, model, max_tokens in ((68, "gpt-fast", 50_000), (69, "claude-strong", 40_000)):
            world = _world(seed, "calm", deadline_s=10)
            value, err, elapsed = _run(report, fn, world, model, deadline_s=10, max_tokens=max_tokens)
            notes.detail = _detail(world, elapsed)
            report.expect(len(world.requests) <= 1,
                          f"{model}: made {len(world.requests)} requests for one refused with 400", hint=NO_RETRY_400)
            report.expect(not (world.requests and world.requests[0].ok),
                          f"{model}: the attempt was answered, so it did not ask for max_tokens={max_tokens:,} "
                          "(which the API refuses)", hint=PASS_MAX_TOKENS)
            report.expect(isinstance(err, (openai.BadRequestError, anthropic.BadRequestError)),
                          f"{model} with max_tokens={max_tokens:,}: expected the SDK's BadRequestError, "
                          + (f"got {_describe(err)}" if err is not None else f"got a return value {value!r:.60}"),
                          hint=PASS_400_THROUGH)


_SOLUTION_RETRY = "retry=tenacity.retry_if_exception(transient),"
_SOLUTION_TIMEOUT = "timeout = deadline - world.clock.now()"
_SOLUTION_CAP = "timeout = min(timeout, attempt_timeout_s)"

mistakes(
    "timeouts-deadline",
    Mistake("one fixed timeout, the whole deadline, on every attempt",
            ((_SOLUTION_TIMEOUT, "timeout = deadline_s"),), REMAINING),
    Mistake("attempt_timeout_s used as it is, even when less than that is left",
            ((_SOLUTION_CAP, "timeout = attempt_timeout_s"),), REMAINING),
    Mistake("attempt_timeout_s ignored",
            ((_SOLUTION_CAP, "pass"),), ATTEMPT_CAP),
    Mistake("the budget split into three fixed slices, like the SDK's three attempts",
            ((_SOLUTION_TIMEOUT, "timeout = deadline_s / 3"),), WHOLE_BUDGET),
    Mistake("stop_after_delay, which sleeps into the deadline and starts another attempt after it",
            (("stop=tenacity.stop_before_delay(deadline_s),", "stop=tenacity.stop_after_delay(deadline_s),"),),
            NO_WAIT_PAST),
    Mistake("tenacity's reraise=True: the SDK's last exception instead of DeadlineExceeded",
            (("sleep=world.clock.sleep,", "sleep=world.clock.sleep, reraise=True,"),), RAISE_DEADLINE),
    Mistake("the wrong exception caught, so tenacity's RetryError escapes",
            (("except tenacity.RetryError as gave_up:", "except ValueError as gave_up:"),), RAISE_DEADLINE),
    Mistake("only timeouts retried",
            ((_SOLUTION_RETRY, "retry=tenacity.retry_if_exception_type((openai.APITimeoutError, "
                               "anthropic.APITimeoutError)),"),), RETRY_STATUS),
    Mistake("only status errors retried, not connection resets",
            ((_SOLUTION_RETRY, "retry=tenacity.retry_if_exception(lambda err: transient(err) and not "
                               "isinstance(err, (openai.APIConnectionError, anthropic.APIConnectionError))),"),),
            RETRY_CONNECTION),
    Mistake("429 not retried",
            ((_SOLUTION_RETRY, "retry=tenacity.retry_if_exception(lambda e: transient(e) and "
                               "getattr(e, 'status_code', None) != 429),"),), RETRY_429),
    Mistake("408 and 409 not retried",
            ((_SOLUTION_RETRY, "retry=tenacity.retry_if_exception(lambda e: transient(e) and "
                               "getattr(e, 'status_code', None) not in (408, 409)),"),), RETRY_408_409),
    Mistake("max_tokens not passed on to ask",
            (("timeout=timeout, max_tokens=max_tokens)", "timeout=timeout)"),), PASS_MAX_TOKENS),
    Mistake("no wait between attempts",
            (("wait=tenacity.wait_exponential(multiplier=0.5, max=8),", ""),), BACK_OFF),
    Mistake("every exception retried, a 400 included",
            ((_SOLUTION_RETRY, "retry=tenacity.retry_if_exception_type(Exception),"),), NO_RETRY_400),
    Mistake("every error turned into DeadlineExceeded, a 400 included",
            (("except tenacity.RetryError as gave_up:", "except Exception as gave_up:"),
             ("from gave_up.last_attempt.exception()", "from gave_up"),), PASS_400_THROUGH),
)


# -- timeouts-choose -------------------------------------------------------------------------------------------

NEAREST_RANK = ("The p-th percentile of n sorted samples is the one at rank ceil(p * n / 100), counting from 1: "
                "index rank - 1 in a Python list.")
FLOAT_RANK = ("Compute the rank as math.ceil(percentile * n / 100), in that order: percentile / 100 * n rounds "
              "99.9 / 100 * 1000 to 999.0000000000001, and ceil makes that rank 1000, one too high.")
USE_ARGUMENTS = "Use the percentile and margin the caller passes, not 99 and 1.5 every time."
MARGIN = "Multiply the percentile by margin: the timeout sits a little above the p99, not on it."
FAILURES_NOT_SAMPLES = ("Only answered attempts (record.ok) and attempts cut short are samples: a 429, a 5xx or a "
                        "reset that came back fast says nothing about how long an answer takes.")
CUT_ARE_SAMPLES = ("A timed-out attempt is a sample too, one slower than its timeout: count the cut attempts in n, "
                   "after every answered one; leaving them out makes the tail look shorter than it is.")
CUT_ARE_LOWER_BOUNDS = ("An attempt cut short has as its latency the moment the client stopped waiting, a lower "
                        "bound: count it as slower than every answered attempt, not at its latency.")
CANCELLED_ARE_CUT = ("An attempt with error 'cancelled' was cut short by asyncio.timeout: it is a timeout too, "
                     "counted like error 'timeout'.")
UNKNOWN_PERCENTILE = ("When the rank lands beyond the answered attempts, the percentile is only known to be above "
                      "some timeout: raise ValueError instead of returning the slowest answer or failing with "
                      "another error.")
NO_SAMPLES = ("With no answered and no cut attempts there is nothing to measure: check for that first and raise "
              "ValueError (an empty list has no element to index).")


def reference_timeout(records: list[RequestRecord], *, percentile: float = 99, margin: float = 1.5) -> float:
    """What a correct `choose_timeout` returns."""
    answered = sorted(r.latency for r in records if r.ok)
    cut = sum(r.error in _CUT for r in records)
    n = len(answered) + cut
    if n == 0:
        raise ValueError("no latency samples in the log")
    rank = math.ceil(percentile * n / 100)
    if rank > len(answered):
        raise ValueError(f"the p{percentile:g} lands on an attempt that was cut short; the log cannot tell")
    return answered[rank - 1] * margin


@lru_cache(maxsize=None)
def _canary(seed: int, scenario: str, model: str, *, calls: int, timeout: float | None = None,
            start: float = 0.0) -> tuple[RequestRecord, ...]:
    """A canary's log: `calls` requests to `model`, one every 10 s from `start`, failures caught.

    The requests go through the world's HTTP layer, as the SDK would send them (`max_retries=0`, the read
    timeout in `extensions["timeout"]`), without the SDK's response parsing: the log is the world's, and a
    check answers in a fraction of the time.
    """
    world = World(seed=seed, scenario=scenario)
    world.clock.sleep(start)
    on_openai = world.catalog[model].provider == "openai"
    client: Any = world.openai() if on_openai else world.anthropic()
    url = f"{client.base_url}".rstrip("/") + ("/chat/completions" if on_openai else "/v1/messages")
    body = {"model": model, "max_tokens": 300, "messages": [{"role": "user", "content": _PROMPT}]}
    limit = 600.0 if timeout is None else timeout
    extensions = {"timeout": {"connect": 5.0, "read": limit, "write": limit, "pool": limit}}
    for _ in range(calls):
        began = world.clock.now()
        try:
            client._client.post(url, json=body, extensions=extensions)
        except httpx2.TransportError:
            pass
        world.clock.sleep(max(0.0, began + 10 - world.clock.now()))
    return tuple(world.requests)


def _ok(latency: float) -> RequestRecord:
    return RequestRecord("anthropic", "claude-fast", "messages", 0.0, status=200, latency=latency,
                         input_tokens=20, output_tokens=80, stop_reason="end_turn")


def _cut(latency: float, error: str = "timeout") -> RequestRecord:
    return RequestRecord("anthropic", "claude-fast", "messages", 0.0, error=error, latency=latency,
                         input_tokens=20, output_tokens=80)


def _failed(latency: float, status: int | None, error: str) -> RequestRecord:
    return RequestRecord("anthropic", "claude-fast", "messages", 0.0, status=status, error=error, latency=latency)


def _spread(n: int, low: float = 0.8, high: float = 3.0) -> list[float]:
    """n distinct latencies between low and high, in a fixed shuffled order."""
    step = (high - low) / max(1, n - 1)
    return [low + step * ((i * 37) % n) for i in range(n)]


def _deadline_log() -> list[RequestRecord]:
    """Calls made under a deadline: some attempts were cut at what was left of the budget, sooner than others answered."""
    log = [_ok(x) for x in _spread(198)]
    log[10:10] = [_cut(1.2), _cut(0.9)]  # retries that had only a second left
    return log


def _cancelled_log() -> list[RequestRecord]:
    """An asyncio.timeout cancelled two attempts; the rest answered."""
    log = [_ok(x) for x in _spread(198)]
    log[50:50] = [_cut(2.0, "cancelled"), _cut(2.5, "cancelled")]
    return log


def _copies(log: tuple[RequestRecord, ...] | list[RequestRecord]) -> list[RequestRecord]:
    return [replace(record) for record in log]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    return float(value)


def _nearest(values: list[float], p: float, *, off_by_one: bool = False) -> float | None:
    """Nearest rank (or the element after it, as `values[rank]` would give); None where there is none."""
    if not values:
        return None
    index = math.ceil(p * len(values) / 100) - (0 if off_by_one else 1)
    return values[index] if 0 <= index < len(values) else None


def _mistaken_values(records: list[RequestRecord], p: float, margin: float) -> list[tuple[float | None, str, str]]:
    """What each listed mistake returns for this log: (value, what it did, its hint).

    Where two mistakes give the same value on a log, the first listed names it: a log without failures
    cannot tell "every attempt" from "cut attempts at their latency", so the latter comes first, and a log
    whose only cut attempts were cancelled cannot tell "cancelled left out" from "answered only".
    """
    answered = sorted(r.latency for r in records if r.ok)
    timeouts = sum(r.error == "timeout" for r in records)
    cut = sum(r.error in _CUT for r in records)
    with_cut = answered + [math.inf] * cut

    def times(value: float | None, factor: float = margin) -> float | None:
        return None if value is None else value * factor

    n = len(with_cut)
    float_rank = math.ceil(p / 100 * n)
    return [
        (times(with_cut[float_rank - 1] if 0 < float_rank <= n else None), "a rank computed as percentile / 100 * n",
         FLOAT_RANK),
        (times(_nearest(with_cut, p, off_by_one=True)), "the sample one rank above the nearest rank", NEAREST_RANK),
        (times(reference_or_none(records, 99, margin), 1.0), "p99 instead of the percentile asked for",
         USE_ARGUMENTS),
        (reference_or_none(records, p, 1.5), "a margin of 1.5 instead of the margin asked for", USE_ARGUMENTS),
        (reference_or_none(records, 99, 1.5), "p99 x 1.5 whatever was asked for", USE_ARGUMENTS),
        (reference_or_none(records, p, 1.0), "the percentile without the margin", MARGIN),
        (times(_nearest(sorted(r.latency for r in records if r.ok or r.error in _CUT), p)),
         "cut attempts counted at their latency", CUT_ARE_LOWER_BOUNDS),
        (times(_nearest(answered + [math.inf] * timeouts, p)), "cancelled attempts left out", CANCELLED_ARE_CUT),
        (times(_nearest(sorted(r.latency for r in records), p)), "every attempt's latency, failures included",
         FAILURES_NOT_SAMPLES),
        (times(_nearest(answered, p)), "the answered attempts only", CUT_ARE_SAMPLES),
    ]


def reference_or_none(records: list[RequestRecord], p: float, margin: float) -> float | None:
    try:
        return reference_timeout(records, percentile=p, margin=margin)
    except ValueError:
        return None


def _compare(report: Report, fn: Callable[..., Any], log: tuple[RequestRecord, ...] | list[RequestRecord], what: str,
             **options: float) -> None:
    records = _copies(log)
    want = reference_timeout(records, **options)
    got = report.call(fn, _copies(log), **options)
    number = _number(got)
    report.expect(number is not None, f"{what}: should return a number of seconds, got {type(got).__name__} {got!r:.60}")
    assert number is not None
    p, margin = options.get("percentile", 99), options.get("margin", 1.5)
    if math.isclose(number, want, rel_tol=1e-9):
        return
    for value, meaning, hint in _mistaken_values(records, p, margin):
        if value is not None and math.isfinite(value) and not math.isclose(value, want, rel_tol=1e-9):
            report.expect(not math.isclose(number, value, rel_tol=1e-9),
                          f"{what}: expected {want:.4f} s (p{p:g} by nearest rank x {margin:g}), got {number:.4f}: "
                          f"the value from {meaning}", hint=hint)
    report.expect(False, f"{what}: expected {want:.4f} s (p{p:g} by nearest rank x {margin:g}), got {number:.4f}")


def _refuses(report: Report, fn: Callable[..., Any], log: tuple[RequestRecord, ...] | list[RequestRecord],
             what: str, why: str, hint: str, **options: float) -> None:
    def attempt() -> tuple[str, Any]:
        try:
            return "returned", fn(_copies(log), **options)
        except ValueError as err:
            return "raised", err
        except Exception as err:  # noqa: BLE001 - an IndexError here is the mistake this case names
            return "failed", err

    outcome, value = report.call(attempt)
    report.expect(outcome == "raised",
                  f"{what}: should raise ValueError ({why}), but "
                  + (f"returned {value!r:.60}" if outcome == "returned" else f"raised {type(value).__name__}: {value}"),
                  hint=hint)


def _summary(log: tuple[RequestRecord, ...] | list[RequestRecord]) -> str:
    answered = sum(r.ok for r in log)
    cut = sum(r.error in _CUT for r in log)
    return f"log: {plural(len(log), 'attempt')}, {answered} answered, {cut} cut short, {len(log) - answered - cut} failed"


@register("timeouts-choose")
def check_choose(fn: Callable[..., Any], report: Report) -> None:
    calm = _canary(71, "calm", "claude-fast", calls=100)
    with report.case("a calm log (claude-fast): p99 by nearest rank, times 1.5") as notes:
        notes.detail = _summary(calm)
        _compare(report, fn, calm, "calm, seed 71, claude-fast")

    with report.case("the percentile and margin asked for are the ones used (p90 x 2, p50 x 3)"):
        _compare(report, fn, calm, "p90 x 2", percentile=90, margin=2.0)
        _compare(report, fn, calm, "p50 x 3", percentile=50, margin=3.0)

    with report.case("p99.9 of 1,000 answers is the 999th: the rank computed exactly"):
        log = [_ok(x) for x in _spread(1000)]
        _compare(report, fn, log, "1,000 answers, p99.9", percentile=99.9)

    with report.case("failed attempts (529s, a connection reset) are not latency samples") as notes:
        log = _canary(73, "overloaded", "claude-fast", calls=60)
        notes.detail = _summary(log)
        _compare(report, fn, log, "overloaded, seed 73, claude-fast", percentile=90)

    with report.case("timed-out attempts count, as slower than every answer (calm, 6 s timeout)") as notes:
        log = _canary(76, "calm", "claude-fast", calls=100, timeout=6.0)
        notes.detail = _summary(log)
        _compare(report, fn, log, "calm, seed 76, claude-fast, timeout 6 s", percentile=90)

    with report.case("an attempt cut at what was left of a deadline is a lower bound, not a sample") as notes:
        notes.detail = _summary(_deadline_log())
        _compare(report, fn, _deadline_log(), "198 answers and 2 attempts cut at about 1 s")

    with report.case("an attempt cancelled by asyncio.timeout ('cancelled') is cut short too") as notes:
        notes.detail = _summary(_cancelled_log())
        _compare(report, fn, _cancelled_log(), "198 answers and 2 cancelled attempts")

    with report.case("when the percentile lands on attempts that were cut short, the log cannot tell: "
                     "ValueError") as notes:
        log = _canary(79, "latency-drift", "claude-fast", calls=20, timeout=10.0, start=_rise_seconds(79) - 100)
        notes.detail = _summary(log)
        _refuses(report, fn, log, "latency drift at its peak with a 10 s timeout",
                 "most attempts timed out, so the p99 is somewhere above 10 s", UNKNOWN_PERCENTILE)

    with report.case("an empty log, and a log of failures only, raise ValueError"):
        _refuses(report, fn, [], "an empty log", "there are no samples", NO_SAMPLES)
        _refuses(report, fn, [_failed(0.05, 529, "overloaded_error"), _failed(0.3, None, "connection reset")],
                 "a 529 and a reset", "there are no samples", NO_SAMPLES)


_SOLUTION_ANSWERED = "answered = sorted(record.latency for record in records if record.ok)"
_SOLUTION_RETURN = "return answered[rank - 1] * margin"

mistakes(
    "timeouts-choose",
    Mistake("index rank instead of rank - 1", ((_SOLUTION_RETURN, "return answered[rank] * margin"),), NEAREST_RANK),
    Mistake("rank computed as percentile / 100 * n (floating point)",
            (("rank = math.ceil(percentile * n / 100)", "rank = math.ceil(percentile / 100 * n)"),), FLOAT_RANK),
    Mistake("the percentile argument ignored (always p99)",
            (("rank = math.ceil(percentile * n / 100)", "rank = math.ceil(99 * n / 100)"),), USE_ARGUMENTS),
    Mistake("no margin", ((_SOLUTION_RETURN, "return answered[rank - 1]"),), MARGIN),
    Mistake("every attempt's latency, failures included",
            ((_SOLUTION_ANSWERED, "answered = sorted(record.latency for record in records)"),
             ('cut = sum(record.error in ("timeout", "cancelled") for record in records)', "cut = 0")),
            FAILURES_NOT_SAMPLES),
    Mistake("answered attempts only: cut attempts left out of n", (("n = len(answered) + cut", "n = len(answered)"),),
            CUT_ARE_SAMPLES),
    Mistake("cut attempts counted at their latency",
            ((_SOLUTION_ANSWERED, "answered = sorted(record.latency for record in records "
                                  "if record.ok or record.error in ('timeout', 'cancelled'))"),
             ("n = len(answered) + cut", "n = len(answered)")), CUT_ARE_LOWER_BOUNDS),
    Mistake("only error 'timeout' counted as cut short, not 'cancelled'",
            (('record.error in ("timeout", "cancelled")', 'record.error == "timeout"'),), CANCELLED_ARE_CUT),
    Mistake("the slowest answer returned when the rank lands on cut attempts",
            (("if rank > len(answered):", "rank = min(rank, len(answered))\n    if rank > len(answered):"),),
            UNKNOWN_PERCENTILE),
    Mistake("no check for a log without samples",
            (("if n == 0:", "if n < 0:"),), NO_SAMPLES),
)
