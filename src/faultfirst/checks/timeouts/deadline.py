"""The check of timeouts-deadline, and the mistakes it is tested against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai

from ...clock.limits import Runaway
from .._framework import Mistake, Report, mistakes, register
from .hints import (
    ATTEMPT_CAP,
    BACK_OFF,
    NO_RETRY_400,
    NO_WAIT_PAST,
    PASS_400_THROUGH,
    PASS_MAX_TOKENS,
    RAISE_DEADLINE,
    REMAINING,
    RETRY_408_409,
    RETRY_429,
    RETRY_CONNECTION,
    RETRY_STATUS,
    WHOLE_BUDGET,
)
from .runs import (
    cut_at,
    deadline_world,
    describe,
    detail,
    expect_answer,
    expect_deadline,
    run_deadline,
    scripted_statuses,
)


@register("timeouts-deadline")
def check_deadline(fn: Callable[..., Any], report: Report) -> None:
    for seed, model in ((61, "gpt-fast"), (62, "claude-fast")):
        with report.case(f"calm: {model} answers at once, well within a 10 s deadline") as notes:
            world = deadline_world(seed, "calm", deadline_s=10)
            value, err, elapsed = run_deadline(report, fn, world, model, deadline_s=10)
            notes.detail = detail(world, elapsed)
            expect_answer(report, world, model, value, err, elapsed, 10)
            report.expect(len(world.requests) == 1, f"made {len(world.requests)} requests; one was enough")

    with report.case("latency drift at its peak: claude-strong cannot answer in 8 s, so DeadlineExceeded after "
                     "no more than 8 s") as notes:
        world = deadline_world(64, "latency-drift", at_peak=True, deadline_s=8)
        value, err, elapsed = run_deadline(report, fn, world, "claude-strong", deadline_s=8)
        notes.detail = detail(world, elapsed, peak=True)
        expect_deadline(report, world, value, err, elapsed, 8)

    with report.case("overloaded: a 529 at once, then an attempt slower than the 9.4 s left: it is cut at the "
                     "deadline, and DeadlineExceeded at 10 s") as notes:
        world = deadline_world(360, "overloaded", deadline_s=10)
        value, err, elapsed = run_deadline(report, fn, world, "claude-fast", deadline_s=10)
        notes.detail = detail(world, elapsed)
        expect_deadline(report, world, value, err, elapsed, 10)

    with report.case("calm, the slow path: attempt_timeout_s=4 cuts a 17 s first attempt at 4 s, and a retry "
                     "answers within the 10 s deadline") as notes:
        world = deadline_world(60, "calm", deadline_s=10)
        value, err, elapsed = run_deadline(report, fn, world, "claude-fast", deadline_s=10, attempt_timeout_s=4)
        notes.detail = detail(world, elapsed)
        cut_at(report, world, 1, 4, "with attempt_timeout_s=4 it should be cut at 4 s", ATTEMPT_CAP)
        expect_answer(report, world, "claude-fast", value, err, elapsed, 10)

    with report.case("calm, the same 17 s attempt with deadline_s=3 and attempt_timeout_s=4: the deadline wins, "
                     "the attempt is cut at 3 s, DeadlineExceeded") as notes:
        world = deadline_world(60, "calm", deadline_s=3)
        value, err, elapsed = run_deadline(report, fn, world, "claude-fast", deadline_s=3, attempt_timeout_s=4)
        notes.detail = detail(world, elapsed)
        expect_deadline(report, world, value, err, elapsed, 3, attempt_timeout_s=4)

    with report.case("latency drift at its peak: gpt-fast needs most of a 30 s budget, and gets it") as notes:
        world = deadline_world(73, "latency-drift", at_peak=True, deadline_s=30)
        value, err, elapsed = run_deadline(report, fn, world, "gpt-fast", deadline_s=30)
        notes.detail = detail(world, elapsed, peak=True)
        first = world.requests[0] if world.requests else None
        report.expect(first is None or first.error != "timeout" or first.latency >= 30 - 1e-6,
                      f"the first attempt was cut at {first.latency if first else 0:.2f} s of a 30 s budget",
                      hint=WHOLE_BUDGET)
        expect_answer(report, world, "gpt-fast", value, err, elapsed, 30)

    with report.case("overloaded: three 529s in a row from claude-fast are retried, and the fourth attempt answers "
                     "within 10 s") as notes:
        world = deadline_world(205, "overloaded", deadline_s=10)
        value, err, elapsed = run_deadline(report, fn, world, "claude-fast", deadline_s=10)
        notes.detail = detail(world, elapsed)
        expect_answer(report, world, "claude-fast", value, err, elapsed, 10)

    with report.case("overloaded: a connection reset from gpt-fast is retried, and the retry answers") as notes:
        world = deadline_world(45, "overloaded", deadline_s=10)
        value, err, elapsed = run_deadline(report, fn, world, "gpt-fast", deadline_s=10)
        notes.detail = detail(world, elapsed)
        expect_answer(report, world, "gpt-fast", value, err, elapsed, 10)

    for seed, model, script, what in (
            (61, "gpt-fast", ((429, 1),), "a 429 with retry-after: 1"),
            (62, "claude-fast", ((408, None), (409, None)), "a 408, then a 409")):
        with report.case(f"{what} from {model}: transient, retried, and a later attempt answers within 10 s") as notes:
            world = scripted_statuses(deadline_world(seed, "calm", deadline_s=10), script)
            value, err, elapsed = run_deadline(report, fn, world, model, deadline_s=10)
            notes.detail = detail(world, elapsed)
            expect_answer(report, world, model, value, err, elapsed, 10)

    with report.case("outage: every gpt-fast attempt gets 503; DeadlineExceeded within 10 s, waiting between "
                     "attempts") as notes:
        world = deadline_world(66, "outage", deadline_s=10)
        value, err, elapsed = run_deadline(report, fn, world, "gpt-fast", deadline_s=10)
        notes.detail = detail(world, elapsed)
        report.expect(len(world.requests) <= 12,
                      f"made {len(world.requests)}{'+' if isinstance(err, Runaway) else ''} attempts in "
                      f"{elapsed:.1f} s against a provider that is down", hint=BACK_OFF)
        expect_deadline(report, world, value, err, elapsed, 10)

    with report.case("a request the API refuses (400) is not retried: the SDK's BadRequestError comes back at "
                     "once") as notes:
        for seed, model, max_tokens in ((68, "gpt-fast", 50_000), (69, "claude-strong", 40_000)):
            world = deadline_world(seed, "calm", deadline_s=10)
            value, err, elapsed = run_deadline(report, fn, world, model, deadline_s=10, max_tokens=max_tokens)
            notes.detail = detail(world, elapsed)
            report.expect(len(world.requests) <= 1,
                          f"{model}: made {len(world.requests)} requests for one refused with 400", hint=NO_RETRY_400)
            report.expect(not (world.requests and world.requests[0].ok),
                          f"{model}: the attempt was answered, so it did not ask for max_tokens={max_tokens:,} "
                          "(which the API refuses)", hint=PASS_MAX_TOKENS)
            report.expect(isinstance(err, (openai.BadRequestError, anthropic.BadRequestError)),
                          f"{model} with max_tokens={max_tokens:,}: expected the SDK's BadRequestError, "
                          + (f"got {describe(err)}" if err is not None else f"got a return value {value!r:.60}"),
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

