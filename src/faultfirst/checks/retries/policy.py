"""The check of retries-policy, and the mistakes it is tested against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai

from .._framework import Mistake, Report, checked_world, mistakes, register
from .common import (
    BACKOFF_BASE_S,
    BURST,
    CONNECTION_ERRORS,
    DAY_S,
    DEADLINE_S,
    EPS,
    LONG_PROMPT,
    LONGEST_RETRY_AFTER_S,
    MAX_ATTEMPTS,
    ONE_A_DAY,
    PROMPT,
    RESETS,
    SATURATED,
    SERVER_ERRORS,
    Observer,
    crowded,
    direct,
)
from .hints import (
    HINT_4XX,
    HINT_5XX,
    HINT_408_409,
    HINT_AFTER_DELAY,
    HINT_AT_MOST,
    HINT_ATTEMPTS,
    HINT_CONNECTION,
    HINT_CONNECTION_OPENAI,
    HINT_DEADLINE,
    HINT_HONOUR_ADVICE,
    HINT_JITTER,
    HINT_JITTER_ON_ADVICE,
    HINT_LONGEST,
    HINT_NO_ADVICE,
    HINT_NOT_SDK,
    HINT_RERAISE,
    HINT_RNG,
    HINT_SDK_RETRIES,
    HINT_SHORT_ADVICE,
    HINT_WINDOW,
)
from .runs import (
    error_line,
    error_name,
    expect_attempted,
    expect_backoff_waits,
    expect_gave_up,
    expect_no_sdk_retries,
    expect_one_attempt,
    expect_reply,
    learner_retryable,
    run_policy,
    single_errors,
    waits_of,
)


@register("retries-policy")
def check_policy(fn: Callable[..., Any], report: Report) -> None:
    with report.case("a calm day: one attempt, the reply's text (gpt-fast and claude-fast)") as notes:
        runs = []
        for seed, model in ((41, "gpt-fast"), (42, "claude-fast")):
            world = checked_world(seed=seed, max_attempts=40, max_seconds=900)
            runs.append(run := run_policy(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            expect_reply(report, run)
            report.expect(len(run.attempts) == 1,
                          f"made {len(run.attempts)} attempts for a call that succeeded first time")

    with report.case("a burst of 429s (2 seeds): waits at least the retry-after, plus jitter, then succeeds") as notes:
        runs, extras = [], []
        for seed, model in ((43, "gpt-fast"), (44, "claude-fast")):
            world = checked_world(seed=seed, scenario=BURST, max_attempts=40, max_seconds=900)
            observer = Observer(world)
            for i in range(2):  # the bucket holds two requests a minute: spend both
                direct(world, model, f"Earlier request {i}.")
            runs.append(run := run_policy(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            expect_attempted(report, run)
            expect_no_sdk_retries(report, run, observer)
            first_advice = observer.advice(run.attempts[0])
            report.expect(first_advice is not None, "the check expected the first attempt to be refused with a 429 "
                                                    "and a retry-after; please report this as a bug")
            assert first_advice is not None  # expect() ended the case otherwise
            report.expect(len(run.attempts) >= 2, f"gave up after the first 429; its retry-after was "
                                                  f"{first_advice:.0f} s, short enough to wait for",
                          hint=HINT_SHORT_ADVICE)
            expect_backoff_waits(report, run, observer)
            expect_reply(report, run)
            extras.append(waits_of(run)[0] - first_advice)
        report.expect(any(extra > EPS for extra in extras), "waited exactly the retry-after every time",
                      hint=HINT_JITTER_ON_ADVICE)

    with report.case("a model whose every slot other clients take (retry-after: 30 each time): never sleeps past "
                     f"the {DEADLINE_S:g} s deadline") as notes:
        world = crowded(seed=45)
        observer = Observer(world)
        run = run_policy(report, fn, world, "gpt-fast", seed=45)
        notes.detail = run.detail()
        expect_attempted(report, run)
        expect_no_sdk_retries(report, run, observer)
        report.expect(len(run.attempts) >= 2, "gave up after the first 429, whose retry-after was 30 s",
                      hint=HINT_SHORT_ADVICE)
        began = run.attempts[0].start
        late = [r for r in run.attempts if r.start - began > DEADLINE_S]
        report.expect(len(late) <= 1, f"{len(late)} attempts began after the deadline "
                                      f"({', '.join(f'{r.start - began:.0f} s' for r in late)} after the first)",
                      hint=HINT_DEADLINE)
        report.expect(not late, f"an attempt began {late[0].start - began:.1f} s after the first, past the "
                                f"{DEADLINE_S:g} s deadline" if late else "", hint=HINT_AFTER_DELAY)
        expect_backoff_waits(report, run, observer)
        expect_gave_up(report, run, (openai.RateLimitError,), "openai.RateLimitError")

    with report.case("every attempt overloaded (529 and 503, 2 seeds): growing jittered waits, then it gives "
                     "up") as notes:
        runs, schedules = [], []
        for seed, model in ((46, "claude-fast"), (47, "gpt-fast")):
            world = checked_world(seed=seed, scenario=SATURATED, max_attempts=40, max_seconds=900)
            observer = Observer(world)
            runs.append(run := run_policy(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            expect_attempted(report, run)
            expect_no_sdk_retries(report, run, observer)
            report.expect(len(run.attempts) > 1, f"{error_line(run)} after one attempt" if run.error else
                          "made one attempt", hint=HINT_5XX)
            expect_gave_up(report, run, SERVER_ERRORS, "the SDK's InternalServerError (or anthropic's OverloadedError)")
            report.expect(len(run.attempts) <= MAX_ATTEMPTS, f"made {len(run.attempts)} attempts", hint=HINT_ATTEMPTS)
            report.expect(len(run.attempts) == MAX_ATTEMPTS,
                          f"made {len(run.attempts)} attempts; an overloaded server is worth retrying until the "
                          f"policy's {MAX_ATTEMPTS} attempts are used")
            expect_backoff_waits(report, run, observer)
            schedules.append(waits_of(run))
        report.expect(len({tuple(round(w, 6) for w in s) for s in schedules}) == len(schedules),
                      "waited the same times in every world", hint=HINT_JITTER)
        report.expect(any(w > BACKOFF_BASE_S + EPS for s in schedules for w in s[1:]),
                      "no wait ever exceeded the first window of 1 s", hint=HINT_WINDOW)

    with report.case("half the connections reset (claude-fast, then gpt-fast): retried, then the reply") as notes:
        runs = []
        for world_seed, seed, model, hint in ((0, 49, "claude-fast", HINT_CONNECTION),
                                              (37, 50, "gpt-fast", HINT_CONNECTION_OPENAI)):
            world = checked_world(seed=world_seed, scenario=RESETS, max_attempts=40, max_seconds=900)
            observer = Observer(world)
            runs.append(run := run_policy(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            expect_no_sdk_retries(report, run, observer)
            gave_up_at_once = isinstance(run.error, CONNECTION_ERRORS) and len(run.attempts) == 1
            expect_reply(report, run, gave_up_hint=hint if gave_up_at_once else None)
            report.expect(len(run.attempts) >= 2,
                          "the check expected a reset connection first; please report this as a bug")
            expect_backoff_waits(report, run, observer)

    with report.case("retryable() on single errors: 408 and 409 yes, a ValueError no, a 429 with retry-after: 60 yes"):
        retryable = learner_retryable(fn)
        report.expect(retryable is not None, "no function retryable() beside resilient_call")
        assert retryable is not None  # expect() ended the case otherwise
        for err, want, hint in single_errors():
            verdict = report.call(retryable, err)
            report.expect(verdict is want or (isinstance(verdict, int) and verdict == want),
                          f"retryable({error_name(err)}) said {verdict!r}, expected {want}", hint=hint)

    with report.case("two bad requests (400): one attempt each, the SDK's BadRequestError") as notes:
        runs = []
        world = checked_world(seed=51, max_attempts=40, max_seconds=900)
        for prompt, max_tokens in ((PROMPT, 50_000), (LONG_PROMPT, 200)):
            runs.append(run := run_policy(report, fn, world, "gpt-fast", seed=51, prompt=prompt, max_tokens=max_tokens))
            notes.detail = "; ".join(r.detail() for r in runs)
            expect_one_attempt(report, run, "a bad request", hint=HINT_4XX)
            expect_gave_up(report, run, (openai.BadRequestError,), "openai.BadRequestError")

    with report.case("a retired model (claude-legacy, 404): one attempt, the SDK's NotFoundError") as notes:
        world = checked_world(seed=52, max_attempts=40, max_seconds=900)
        run = run_policy(report, fn, world, "claude-legacy", seed=52)
        notes.detail = run.detail()
        expect_one_attempt(report, run, "a retired model", hint=HINT_4XX)
        expect_gave_up(report, run, (anthropic.NotFoundError,), "anthropic.NotFoundError")

    with report.case("a request too large for the tokens-per-minute bucket (429, no retry-after): one "
                     "attempt") as notes:
        world = checked_world(seed=53, scenario="rate-limited", max_attempts=40, max_seconds=900)
        run = run_policy(report, fn, world, "gpt-strong", seed=53, max_tokens=120_000)
        notes.detail = run.detail()
        expect_one_attempt(report, run, "a request that can never fit", hint=HINT_NO_ADVICE)
        expect_gave_up(report, run, (openai.RateLimitError,), "openai.RateLimitError")

    # A quota of one request a day, spent: it advises a day's wait; a day less 90 s later, a 90 s wait.
    for advised, label in ((DAY_S, "a day"), (90.0, "90 s, above the 60 s the policy accepts")):
        with report.case(f"a spent daily quota (429, retry-after {label}): gives up at once, no sleeping") as notes:
            world = checked_world(seed=54, scenario=ONE_A_DAY, max_attempts=40, max_seconds=2 * DAY_S)
            direct(world, "claude-fast", "Earlier request.")
            if advised < DAY_S:
                world.clock.sleep(world.requests[0].start + DAY_S - advised - world.clock.now())
            observer = Observer(world)
            run = run_policy(report, fn, world, "claude-fast", seed=54)
            notes.detail = run.detail()
            expect_attempted(report, run)
            said = observer.advice(run.attempts[0])
            report.expect(said is not None and said > LONGEST_RETRY_AFTER_S,
                          f"the check expected a retry-after above {LONGEST_RETRY_AFTER_S:g} s, got {said}; "
                          "please report this as a bug")
            retryable = learner_retryable(fn)
            if retryable is not None and isinstance(run.error, anthropic.RateLimitError):
                verdict = report.call(retryable, run.error)
                report.expect(verdict is False or verdict == 0,
                              f"retryable() said {verdict!r} to a 429 with retry-after: {said:,.0f}", hint=HINT_LONGEST)
            expect_one_attempt(report, run, f"a quota that returns in {said or 0:,.0f} s", hint=HINT_LONGEST)
            expect_gave_up(report, run, (anthropic.RateLimitError,), "anthropic.RateLimitError")
            report.expect(run.seconds < 5, f"spent {run.seconds:,.0f} s before giving up; give up at once",
                          hint=HINT_LONGEST)


_POLICY_CALL = "    return policy(ask, world, model, prompt, max_tokens=max_tokens)"
_STOP = "stop=tenacity.stop_after_attempt(MAX_ATTEMPTS) | tenacity.stop_before_delay(DEADLINE_S),"

mistakes(
    "retries-policy",
    Mistake("no deadline: only stop_after_attempt", ((_STOP, "stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),"),),
            HINT_DEADLINE),
    Mistake("stop_after_delay instead of stop_before_delay",
            (("tenacity.stop_before_delay(DEADLINE_S)", "tenacity.stop_after_delay(DEADLINE_S)"),), HINT_AFTER_DELAY),
    Mistake("LONGEST_RETRY_AFTER_S raised to 120 s",
            (("LONGEST_RETRY_AFTER_S = 60.0", "LONGEST_RETRY_AFTER_S = 120.0"),), HINT_LONGEST),
    Mistake("the SDK's own retries left on", ((_POLICY_CALL, _POLICY_CALL[:-1] + ", max_retries=2)"),),
            HINT_SDK_RETRIES),
    Mistake("waits exactly the retry-after, no jitter on top",
            (("return (retry_after(err) or 0.0) + jitter", "return retry_after(err) or jitter"),),
            HINT_JITTER_ON_ADVICE),
    Mistake("ignores retry-after: jitter only", (("return (retry_after(err) or 0.0) + jitter", "return jitter"),),
            HINT_HONOUR_ADVICE),
    Mistake("no reraise=True: the caller gets RetryError", (("        reraise=True,\n", ""),), HINT_RERAISE),
    Mistake("every 429 retried, as the SDKs do",
            (("        return advice is not None and advice <= LONGEST_RETRY_AFTER_S\n",
              "        return advice is None or advice <= LONGEST_RETRY_AFTER_S\n"),), HINT_NO_ADVICE),
    Mistake("every error status retried", (("    return retryable_status(err.status_code)", "    return True"),),
            HINT_4XX),
    Mistake("backoff window one step too small",
            (("state.attempt_number, rng)", "state.attempt_number - 1, rng)"),), HINT_WINDOW),
    Mistake("jitter from the random module, not rng",
            (("jitter = rng.uniform(", "jitter = random.uniform("),), HINT_RNG),
    Mistake("OpenAI connection errors not retried",
            (("isinstance(err, (openai.APIConnectionError, anthropic.APIConnectionError))",
              "isinstance(err, anthropic.APIConnectionError)"),), HINT_CONNECTION_OPENAI),
    Mistake("408 and 409 not retried: only 5xx",
            (("    return retryable_status(err.status_code)", "    return err.status_code >= 500"),), HINT_408_409),
    Mistake("any exception that is not an SDK status error retried",
            (("        return False\n    if err.status_code", "        return True\n    if err.status_code"),),
            HINT_NOT_SDK),
    Mistake("advice < LONGEST_RETRY_AFTER_S: a retry-after of exactly 60 s refused",
            (("advice <= LONGEST_RETRY_AFTER_S", "advice < LONGEST_RETRY_AFTER_S"),), HINT_AT_MOST),
    Mistake("connection errors not retried",
            (("    if isinstance(err, (openai.APIConnectionError, anthropic.APIConnectionError)):\n"
              "        return True\n", ""),), HINT_CONNECTION),
)

