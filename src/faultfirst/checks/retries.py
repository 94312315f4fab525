"""Checks for the lesson "Retries, backoff and jitter" (book/tier2/retries.md).

Both checks run the learner's code in fresh seeded worlds, under the faults the
lesson taught: bursts of 429s with `retry-after`, a model whose every slot is
taken, overload, reset connections, an outage, requests that can never succeed
and a spent daily quota. They read what happened from the world's request log,
and record for each attempt (by wrapping the world's API) the `retry-after` it
was answered with, the SDK's own retry count and which prompt it carried, so a
check can compare every wait with the advice before it and replay a retry budget
call by call. Each expectation that diagnoses one mistake carries that mistake's
hint; the mistakes themselves are listed beside each check.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai
import tenacity

from ..service.records import RequestRecord
from ..wire.retryable import retryable_status
from ..service.scenarios import SCENARIOS, Outage, RateLimits, Scenario
from ..world import World
from ..text import plural
from ._framework import Mistake, Report, checked_world, mistakes, register, usage

_PROMPT = "Summarise this abstract in one sentence: we study retries with jitter under contention."
_EPS = 1e-6

# The policy the exercise states (book/tier2/retries.md, exercise retries-policy).
MAX_ATTEMPTS = 5
DEADLINE_S = 60.0
LONGEST_RETRY_AFTER_S = 60.0
BACKOFF_BASE_S, BACKOFF_CAP_S = 1.0, 30.0


def _window(attempt: int) -> float:
    """The full-jitter window after failed attempt number `attempt` (from 1)."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))


def _scenario(name: str, base: str = "calm", **changes: Any) -> Scenario:
    return dataclasses.replace(SCENARIOS[base], name=name, **changes)


_BURST = _scenario("two-requests-a-minute", rate_limits=RateLimits(2, 1_000_000))
_SATURATED = _scenario("always-overloaded", overload_rate=1.0)
_RESETS = _scenario("half-the-connections-reset", reset_rate=0.5)
_ONE_A_DAY = _scenario("one-request-a-day", rate_limits=RateLimits(1_000, 1_000_000, requests_per_day=1))
_DAY_S = 24 * 3600.0
_LONG_PROMPT = "Summarise these abstracts. " + "We study retries under contention. " * 22_000  # > 128k tokens

_SERVER_ERRORS = (openai.InternalServerError, anthropic.InternalServerError)
_CONNECTION_ERRORS = (openai.APIConnectionError, anthropic.APIConnectionError)
_SDK_ERRORS = (openai.APIError, anthropic.APIError)

# -- hints: each names one mistake, and is given where an observation diagnoses that mistake -----------

HINT_SDK_RETRIES = ("call ask(...) without max_retries (it defaults to 0): the SDK's own retries run inside each of "
                    "your attempts, multiply them, and ignore your policy")
HINT_DEADLINE = ("add a bound on time to the stop: stop_after_attempt(MAX_ATTEMPTS) | stop_before_delay(DEADLINE_S); "
                 "five attempts can sleep far past the deadline when the server advises long waits")
HINT_AFTER_DELAY = ("use stop_before_delay(DEADLINE_S), not stop_after_delay: stop_after_delay stops only at the first "
                    "failure past the deadline, so it overshoots by up to one wait plus one attempt")
HINT_LONGEST = (f"retryable() must say False to a 429 whose retry-after is above LONGEST_RETRY_AFTER_S "
                f"({LONGEST_RETRY_AFTER_S:g} s): advice to wait longer than the caller can is advice to give up")
HINT_NO_ADVICE = ("retryable() must say False to a 429 with no retry-after: in the simulator that is a request too "
                  "large for the bucket, which no wait fixes")
HINT_4XX = ("for statuses other than 429, use retryable_status(err.status_code) (408, 409 and every 5xx): a 400 or a "
            "404 is the request's own fault, and sending it again gives the same answer")
HINT_CONNECTION = ("retryable() must say True to a connection error or timeout (openai.APIConnectionError, "
                   "anthropic.APIConnectionError): a reset connection is the most transient failure there is")
HINT_SHORT_ADVICE = (f"retryable() must say True to a 429 whose retry-after is at most LONGEST_RETRY_AFTER_S "
                     f"({LONGEST_RETRY_AFTER_S:g} s): wait what it says, plus jitter, and try again")
HINT_5XX = "retryable() must say True to 408, 409 and every 5xx (Anthropic's 529 included): retryable_status(code)"
HINT_HONOUR_ADVICE = ("pause() must wait at least retry_after(err) when the server gave it: a request sent sooner is "
                      "refused again")
HINT_JITTER_ON_ADVICE = ("add full jitter on top of the advice: retry_after(err) + rng.uniform(0, window); every client "
                         "told the same number otherwise comes back at the same moment")
HINT_JITTER = "draw each wait from the rng you are given: rng.uniform(0, window), not the window itself"
HINT_WINDOW = ("the jitter window after attempt n is min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (n - 1)): 1 s after the "
               "first attempt, then 2, 4, 8, ...")
HINT_RNG = ("draw the jitter from the rng argument, rng.uniform(0, window), not from the random module: the caller's "
            "seeded rng is what makes the waits reproducible, and the check replays it wait by wait")
HINT_CONNECTION_OPENAI = ("retryable() must say True to openai.APIConnectionError as well as "
                          "anthropic.APIConnectionError: the two SDKs' classes are unrelated, so name both")
HINT_408_409 = ("retryable() must say True to 408 and 409, not only to 5xx: for a status other than 429, return "
                "retryable_status(err.status_code), the SDKs' own rule")
HINT_NOT_SDK = ("retryable() must say False to an exception that is neither an SDK connection error nor an SDK status "
                "error (a ValueError, a KeyError): a bug in the code does not go away on the next attempt")
HINT_AT_MOST = (f"a retry-after of exactly LONGEST_RETRY_AFTER_S ({LONGEST_RETRY_AFTER_S:g} s) is still retried: "
                "advice <= LONGEST_RETRY_AFTER_S, not <")
HINT_RERAISE = "pass reraise=True so that the caller gets the SDK's own exception, not tenacity's RetryError"
HINT_ATTEMPTS = f"stop after MAX_ATTEMPTS ({MAX_ATTEMPTS}) attempts: tenacity.stop_after_attempt(MAX_ATTEMPTS)"


def _direct(world: World, model: str, prompt: str, *, max_tokens: int = 20) -> None:
    """One request made by the check itself (to spend a quota), with no retries."""
    messages = [{"role": "user", "content": prompt}]
    if model.startswith("claude"):
        world.anthropic().messages.create(model=model, max_tokens=max_tokens, messages=messages)
    else:
        world.openai().chat.completions.create(model=model, max_tokens=max_tokens, messages=messages)


_MARK = re.compile(rb"#(\d+):")


class _Observer:
    """What each attempt in a world carried and was answered with, read at the world's API.

    For each record: the `retry-after` it was answered with (None if none), the SDK's own retry count
    (`x-stainless-retry-count`) and the number of the prompt it carried (prompts marked `#<n>:`). With
    `crowd=<model>`, other clients take that model's every request slot the moment it frees, so each
    attempt is refused with the same `retry-after` (a bucket of two requests a minute: 30 s).
    """

    def __init__(self, world: World, *, crowd: str | None = None) -> None:
        self._seen: dict[int, tuple[float | None, int, int | None]] = {}
        engine = world._api
        plan = engine.plan
        crowded = None
        if crowd is not None:
            spec = engine.catalog.resolve(crowd)
            crowded = engine._limiter(spec, world.clock.now()).requests

        def observing(provider: str, request: Any, now: float) -> Any:
            if crowded is not None:
                crowded.level, crowded.updated = 0.0, now
            outcome = plan(provider, request, now)
            value = outcome.headers.get("retry-after")
            try:
                sdk_retry = int(request.headers.get("x-stainless-retry-count", "0"))
            except ValueError:
                sdk_retry = 0
            mark = _MARK.search(request.content or b"")
            self._seen[id(outcome.record)] = (float(value) if value is not None else None, sdk_retry,
                                              int(mark[1]) if mark else None)
            return outcome

        engine.plan = observing  # type: ignore[method-assign]

    def advice(self, record: RequestRecord) -> float | None:
        return self._seen.get(id(record), (None, 0, None))[0]

    def sdk_retried(self, records: list[RequestRecord]) -> bool:
        return any(self._seen.get(id(r), (None, 0, None))[1] > 0 for r in records)

    def prompt(self, record: RequestRecord) -> int | None:
        return self._seen.get(id(record), (None, 0, None))[2]


@dataclass
class _Run:
    """What one call of the learner's function did."""

    reply: Any
    error: BaseException | None
    attempts: list[RequestRecord]
    seconds: float
    seed: int

    def detail(self) -> str:
        cost = sum(r.cost_usd for r in self.attempts)
        return f"{plural(len(self.attempts), 'attempt')}, {self.seconds:,.1f} s simulated, ${cost:.4f}"


def _run(report: Report, fn: Callable[..., Any], world: World, model: str, *, seed: int,
         prompt: str = _PROMPT, max_tokens: int = 200) -> _Run:
    """Call `resilient_call`; an SDK error it raises is an outcome to inspect, not a failed case."""
    first, start = len(world.requests), world.clock.now()

    def call() -> tuple[Any, BaseException | None]:
        try:
            return fn(world, model, prompt, rng=random.Random(seed), max_tokens=max_tokens), None
        except NotImplementedError:
            raise
        except Exception as err:  # noqa: BLE001 - the exception is what the case inspects
            return None, err

    reply, error = report.call(call)
    return _Run(reply, error, world.requests[first:], world.clock.now() - start, seed)


def _error_line(run: _Run) -> str:
    return f"raised {type(run.error).__name__}: {str(run.error)[:160]}"


def _expect_attempted(report: Report, run: _Run) -> None:
    if not run.attempts:
        failure = _error_line(run) if run.error else f"returned {run.reply!r:.60}"
        report.expect(False, f"made no request at all ({failure}); call the model with ask(world, model, prompt, ...)")


def _expect_no_sdk_retries(report: Report, run: _Run, observer: _Observer) -> None:
    report.expect(not observer.sdk_retried(run.attempts),
                  "the SDK retried by itself (an attempt carried x-stainless-retry-count > 0)", hint=HINT_SDK_RETRIES)


def _expect_reply(report: Report, run: _Run, *, gave_up_hint: str | None = None) -> None:
    if run.error is not None:
        report.expect(False, f"{_error_line(run)}; a later attempt would have succeeded", hint=gave_up_hint)
    report.expect(isinstance(run.reply, str) and bool(run.reply),
                  f"should return the reply's text (a non-empty str), got {type(run.reply).__name__} {run.reply!r:.60}")


def _expect_gave_up(report: Report, run: _Run, kinds: tuple[type[BaseException], ...], what: str) -> None:
    report.expect(run.error is not None, f"returned {run.reply!r:.60} instead of raising {what}")
    report.expect(not isinstance(run.error, tenacity.RetryError), "raised tenacity's RetryError", hint=HINT_RERAISE)
    report.expect(isinstance(run.error, kinds), f"{_error_line(run)}; expected {what}")


def _expect_one_attempt(report: Report, run: _Run, what: str, *, hint: str) -> None:
    report.expect(len(run.attempts) == 1,
                  f"made {len(run.attempts)} attempts at {what}; no retry can fix it, so make exactly one", hint=hint)


def _waits(run: _Run) -> list[float]:
    return [b.start - a.end for a, b in zip(run.attempts, run.attempts[1:])]


def _expect_backoff_waits(report: Report, run: _Run, observer: _Observer) -> None:
    """Each wait: at least the advice (if any), and at most advice + the attempt's full-jitter window."""
    for attempt, (record, wait) in enumerate(zip(run.attempts, _waits(run)), start=1):
        advised = observer.advice(record) or 0.0
        report.expect(wait >= advised - _EPS,
                      f"waited {wait:.3f} s after a 429 that said retry-after: {advised:.0f}", hint=HINT_HONOUR_ADVICE)
        ceiling = advised + _window(attempt)
        report.expect(wait <= ceiling + _EPS,
                      f"waited {wait:.3f} s after attempt {attempt}; the policy waits "
                      f"{'the retry-after plus ' if advised else ''}at most {_window(attempt):g} s of jitter",
                      hint=HINT_WINDOW)
    # The waits are determined by the seed: replay the caller's rng, one uniform draw per wait.
    twin = random.Random(run.seed)
    for attempt, (record, wait) in enumerate(zip(run.attempts, _waits(run)), start=1):
        advised = observer.advice(record) or 0.0
        unit = twin.random()
        want = advised + _window(attempt) * unit
        if abs(wait - want) <= _EPS:
            continue
        jitter = wait - advised
        if advised and abs(jitter) <= _EPS:
            hint = HINT_JITTER_ON_ADVICE
        elif abs(jitter - _window(attempt)) <= _EPS:
            hint = HINT_JITTER
        elif any(abs(jitter - _window(n) * unit) <= _EPS for n in (attempt - 1, attempt + 1) if n >= 0):
            hint = HINT_WINDOW
        else:
            hint = HINT_RNG
        report.expect(False, f"waited {wait:.6f} s after attempt {attempt}; random.Random({run.seed}) passed as rng "
                             f"gives {want:.6f} s ({f'the retry-after {advised:.0f} s plus ' if advised else ''}"
                             f"rng.uniform(0, {_window(attempt):g}))", hint=hint)


def _status_error(sdk: Any, status: int, retry_after: str | None = None) -> Any:
    request = httpx2.Request("POST", "https://api.example.invalid/v1/messages")
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    cls = {408: sdk.APIStatusError, 409: sdk.ConflictError, 429: sdk.RateLimitError}[status]
    return cls(f"Error code: {status}", response=httpx2.Response(status, request=request, headers=headers), body=None)


def _single_errors() -> list[tuple[BaseException, bool, str]]:
    """Errors built here, each with the verdict the statement asks for and the hint of the mistake it exposes."""
    return [
        (_status_error(openai, 408), True, HINT_408_409),
        (_status_error(anthropic, 409), True, HINT_408_409),
        (ValueError("a bug in the caller"), False, HINT_NOT_SDK),
        (_status_error(openai, 429, "60"), True, HINT_AT_MOST),
        (_status_error(anthropic, 429, "60"), True, HINT_AT_MOST),
    ]


def _name(err: BaseException) -> str:
    status = getattr(err, "status_code", None)
    if status is None:
        return f"{type(err).__name__}()"
    advice = err.response.headers.get("retry-after")  # type: ignore[attr-defined]
    return (f"{type(err).__module__.split('.')[0]}.{type(err).__name__}, status {status}"
            + (f", retry-after: {advice}" if advice else ""))


def _learner_retryable(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """The learner's `retryable`, defined beside `resilient_call` (the exercise asks for both)."""
    found = getattr(fn, "__globals__", {}).get("retryable")
    return found if callable(found) else None


@register("retries-policy")
def check_policy(fn: Callable[..., Any], report: Report) -> None:
    with report.case("a calm day: one attempt, the reply's text (gpt-fast and claude-fast)") as notes:
        runs = []
        for seed, model in ((41, "gpt-fast"), (42, "claude-fast")):
            world = checked_world(seed=seed, max_attempts=40, max_seconds=900)
            runs.append(run := _run(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            _expect_reply(report, run)
            report.expect(len(run.attempts) == 1, f"made {len(run.attempts)} attempts for a call that succeeded first time")

    with report.case("a burst of 429s (2 seeds): waits at least the retry-after, plus jitter, then succeeds") as notes:
        runs, extras = [], []
        for seed, model in ((43, "gpt-fast"), (44, "claude-fast")):
            world = checked_world(seed=seed, scenario=_BURST, max_attempts=40, max_seconds=900)
            observer = _Observer(world)
            for i in range(2):  # the bucket holds two requests a minute: spend both
                _direct(world, model, f"Earlier request {i}.")
            runs.append(run := _run(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            _expect_attempted(report, run)
            _expect_no_sdk_retries(report, run, observer)
            first_advice = observer.advice(run.attempts[0])
            report.expect(first_advice is not None, "the check expected the first attempt to be refused with a 429 "
                                                    "and a retry-after; please report this as a bug")
            report.expect(len(run.attempts) >= 2, f"gave up after the first 429; its retry-after was "
                                                  f"{first_advice:.0f} s, short enough to wait for", hint=HINT_SHORT_ADVICE)
            _expect_backoff_waits(report, run, observer)
            _expect_reply(report, run)
            extras.append(_waits(run)[0] - first_advice)
        report.expect(any(extra > _EPS for extra in extras), "waited exactly the retry-after every time",
                      hint=HINT_JITTER_ON_ADVICE)

    with report.case("a model whose every slot other clients take (retry-after: 30 each time): never sleeps past "
                     f"the {DEADLINE_S:g} s deadline") as notes:
        world = checked_world(seed=45, scenario=_BURST, max_attempts=40, max_seconds=900)
        observer = _Observer(world, crowd="gpt-fast")
        run = _run(report, fn, world, "gpt-fast", seed=45)
        notes.detail = run.detail()
        _expect_attempted(report, run)
        _expect_no_sdk_retries(report, run, observer)
        report.expect(len(run.attempts) >= 2, "gave up after the first 429, whose retry-after was 30 s",
                      hint=HINT_SHORT_ADVICE)
        began = run.attempts[0].start
        late = [r for r in run.attempts if r.start - began > DEADLINE_S]
        report.expect(len(late) <= 1, f"{len(late)} attempts began after the deadline "
                                      f"({', '.join(f'{r.start - began:.0f} s' for r in late)} after the first)",
                      hint=HINT_DEADLINE)
        report.expect(not late, f"an attempt began {late[0].start - began:.1f} s after the first, past the "
                                f"{DEADLINE_S:g} s deadline" if late else "", hint=HINT_AFTER_DELAY)
        _expect_backoff_waits(report, run, observer)
        _expect_gave_up(report, run, (openai.RateLimitError,), "openai.RateLimitError")

    with report.case("every attempt overloaded (529 and 503, 2 seeds): growing jittered waits, then it gives up") as notes:
        runs, schedules = [], []
        for seed, model in ((46, "claude-fast"), (47, "gpt-fast")):
            world = checked_world(seed=seed, scenario=_SATURATED, max_attempts=40, max_seconds=900)
            observer = _Observer(world)
            runs.append(run := _run(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            _expect_attempted(report, run)
            _expect_no_sdk_retries(report, run, observer)
            report.expect(len(run.attempts) > 1, f"{_error_line(run)} after one attempt" if run.error else
                          "made one attempt", hint=HINT_5XX)
            _expect_gave_up(report, run, _SERVER_ERRORS, "the SDK's InternalServerError (or anthropic's OverloadedError)")
            report.expect(len(run.attempts) <= MAX_ATTEMPTS, f"made {len(run.attempts)} attempts", hint=HINT_ATTEMPTS)
            report.expect(len(run.attempts) == MAX_ATTEMPTS,
                          f"made {len(run.attempts)} attempts; an overloaded server is worth retrying until the "
                          f"policy's {MAX_ATTEMPTS} attempts are used")
            _expect_backoff_waits(report, run, observer)
            schedules.append(_waits(run))
        report.expect(len({tuple(round(w, 6) for w in s) for s in schedules}) == len(schedules),
                      "waited the same times in every world", hint=HINT_JITTER)
        report.expect(any(w > BACKOFF_BASE_S + _EPS for s in schedules for w in s[1:]),
                      "no wait ever exceeded the first window of 1 s", hint=HINT_WINDOW)

    with report.case("half the connections reset (claude-fast, then gpt-fast): retried, then the reply") as notes:
        runs = []
        for world_seed, seed, model, hint in ((0, 49, "claude-fast", HINT_CONNECTION),
                                              (37, 50, "gpt-fast", HINT_CONNECTION_OPENAI)):
            world = checked_world(seed=world_seed, scenario=_RESETS, max_attempts=40, max_seconds=900)
            observer = _Observer(world)
            runs.append(run := _run(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            _expect_no_sdk_retries(report, run, observer)
            gave_up_at_once = isinstance(run.error, _CONNECTION_ERRORS) and len(run.attempts) == 1
            _expect_reply(report, run, gave_up_hint=hint if gave_up_at_once else None)
            report.expect(len(run.attempts) >= 2,
                          "the check expected a reset connection first; please report this as a bug")
            _expect_backoff_waits(report, run, observer)

    with report.case("retryable() on single errors: 408 and 409 yes, a ValueError no, a 429 with retry-after: 60 yes"):
        retryable = _learner_retryable(fn)
        report.expect(retryable is not None, "no function retryable() beside resilient_call")
        for err, want, hint in _single_errors():
            verdict = report.call(retryable, err)
            report.expect(verdict is want or (isinstance(verdict, int) and verdict == want),
                          f"retryable({_name(err)}) said {verdict!r}, expected {want}", hint=hint)

    with report.case("two bad requests (400): one attempt each, the SDK's BadRequestError") as notes:
        runs = []
        world = checked_world(seed=51, max_attempts=40, max_seconds=900)
        for prompt, max_tokens in ((_PROMPT, 50_000), (_LONG_PROMPT, 200)):
            runs.append(run := _run(report, fn, world, "gpt-fast", seed=51, prompt=prompt, max_tokens=max_tokens))
            notes.detail = "; ".join(r.detail() for r in runs)
            _expect_one_attempt(report, run, "a bad request", hint=HINT_4XX)
            _expect_gave_up(report, run, (openai.BadRequestError,), "openai.BadRequestError")

    with report.case("a retired model (claude-legacy, 404): one attempt, the SDK's NotFoundError") as notes:
        world = checked_world(seed=52, max_attempts=40, max_seconds=900)
        run = _run(report, fn, world, "claude-legacy", seed=52)
        notes.detail = run.detail()
        _expect_one_attempt(report, run, "a retired model", hint=HINT_4XX)
        _expect_gave_up(report, run, (anthropic.NotFoundError,), "anthropic.NotFoundError")

    with report.case("a request too large for the tokens-per-minute bucket (429, no retry-after): one attempt") as notes:
        world = checked_world(seed=53, scenario="rate-limited", max_attempts=40, max_seconds=900)
        run = _run(report, fn, world, "gpt-strong", seed=53, max_tokens=120_000)
        notes.detail = run.detail()
        _expect_one_attempt(report, run, "a request that can never fit", hint=HINT_NO_ADVICE)
        _expect_gave_up(report, run, (openai.RateLimitError,), "openai.RateLimitError")

    # A quota of one request a day, spent: it advises a day's wait; a day less 90 s later, a 90 s wait.
    for advised, label in ((_DAY_S, "a day"), (90.0, "90 s, above the 60 s the policy accepts")):
        with report.case(f"a spent daily quota (429, retry-after {label}): gives up at once, no sleeping") as notes:
            world = checked_world(seed=54, scenario=_ONE_A_DAY, max_attempts=40, max_seconds=2 * _DAY_S)
            _direct(world, "claude-fast", "Earlier request.")
            if advised < _DAY_S:
                world.clock.sleep(world.requests[0].start + _DAY_S - advised - world.clock.now())
            observer = _Observer(world)
            run = _run(report, fn, world, "claude-fast", seed=54)
            notes.detail = run.detail()
            _expect_attempted(report, run)
            said = observer.advice(run.attempts[0])
            report.expect(said is not None and said > LONGEST_RETRY_AFTER_S,
                          f"the check expected a retry-after above {LONGEST_RETRY_AFTER_S:g} s, got {said}; "
                          "please report this as a bug")
            retryable = _learner_retryable(fn)
            if retryable is not None and isinstance(run.error, anthropic.RateLimitError):
                verdict = report.call(retryable, run.error)
                report.expect(verdict is False or verdict == 0,
                              f"retryable() said {verdict!r} to a 429 with retry-after: {said:,.0f}", hint=HINT_LONGEST)
            _expect_one_attempt(report, run, f"a quota that returns in {said or 0:,.0f} s", hint=HINT_LONGEST)
            _expect_gave_up(report, run, (anthropic.RateLimitError,), "anthropic.RateLimitError")
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
            (("return (retry_after(err) or 0.0) + jitter", "return retry_after(err) or jitter"),), HINT_JITTER_ON_ADVICE),
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
            (("    if isinstance(err, (openai.APIConnectionError, anthropic.APIConnectionError)):\n        return True\n",
              ""),), HINT_CONNECTION),
)


# -- retries-budget ------------------------------------------------------------------------------------

_RATIO, _CAP = 0.1, 10

B_SHARED = ("create one RetryBudget before the loop, shared by every call, and call earn() once per call, before its "
            "first attempt (not once per attempt)")
B_CAP = ("earn() must never fill the budget past cap (self.tokens = min(self.cap, self.tokens + self.ratio)): quiet "
         "hours must not save up retries for the next outage")
B_SPEND_ORDER = ("ask spend() only for a retry that will happen: last in stop= (tenacity asks stop only after retry= "
                 "said yes), never in the retry predicate, where a 400 or a 404 spends a token too")
B_START_FULL = "the budget starts full (tokens = cap), so the first failures of a bad hour get their retries"
B_FLOAT = ("adding 0.1 ten times gives 0.9999999999999999: compare with slack (tokens >= 1 - 1e-9) or count in "
           "tenths")
B_RETRYABLE = ("retry what the previous exercise's retryable() accepts (5xx, 529 and connection errors) while the "
               "budget allows: retry=tenacity.retry_if_exception(retryable)")
B_NO_4XX = "retry only what retryable() says yes to: a 400 or a 404 fails the same way every time"
B_NEVER_RAISES = ("catch both SDKs' errors around each call, (openai.APIError, anthropic.APIError), and put None in its "
                  "place: ask_all never raises")
B_DEADLINE = ("keep stop_before_delay(DEADLINE_S) in ask_all's stop: a call told retry-after: 30 each time still has "
              "tokens, and without the time bound it sleeps past the deadline: stop_after_attempt(MAX_ATTEMPTS) | "
              "stop_before_delay(DEADLINE_S) | (lambda state: not budget.spend())")
B_ARGUMENTS = ("RetryBudget must use the ratio and cap it is given (self.ratio, self.cap = ratio, cap), not 0.1 and 10: "
               "RetryBudget(ratio=0.5, cap=2) starts with 2 tokens and earns half a retry a call")
B_PER_CALL = ("keep the previous exercise's stops before the budget: stop_after_attempt(MAX_ATTEMPTS) | "
              "stop_before_delay(DEADLINE_S) | (lambda state: not budget.spend()); the budget bounds the client, "
              "not one call")


@dataclass
class _Batch:
    """What one call of ask_all did: its replies, and its attempts grouped by prompt."""

    replies: list[Any]
    attempts: list[RequestRecord]
    calls: list[list[RequestRecord]]

    @property
    def retries(self) -> int:
        return len(self.attempts) - sum(bool(c) for c in self.calls)


def _prompts(count: int, *, start: int = 0, long: bool = False) -> list[str]:
    if long:
        return [f"#{i}: {_LONG_PROMPT}" for i in range(start, start + count)]
    return [f"#{i}: Summarise abstract {i} in one sentence." for i in range(start, start + count)]


def _ask_all(report: Report, fn: Callable[..., Any], world: World, model: str, prompts: list[str], *,
             seed: int, observer: _Observer) -> _Batch:
    first = len(world.requests)

    def call() -> Any:
        try:
            return fn(world, model, prompts, rng=random.Random(seed))
        except _SDK_ERRORS as err:
            return err

    replies = report.call(call)
    attempts = world.requests[first:]
    calls: list[list[RequestRecord]] = [[] for _ in prompts]
    for record in attempts:
        index = observer.prompt(record)
        if index is not None and 0 <= index < len(prompts):
            calls[index].append(record)
    report.expect(not isinstance(replies, BaseException),
                  f"raised {type(replies).__name__}: {str(replies)[:120]}", hint=B_NEVER_RAISES)
    count = len(prompts)
    report.expect(isinstance(replies, list) and len(replies) == count,
                  f"should return a list with one entry per prompt ({count}), got "
                  f"{type(replies).__name__}{f' of {len(replies)}' if isinstance(replies, list) else ''}")
    odd = [r for r in replies if r is not None and not isinstance(r, str)]
    report.expect(not odd, f"each entry should be the reply's text or None, got {type(odd[0]).__name__}" if odd else "")
    batch = _Batch(replies, attempts, calls)
    report.expect(not observer.sdk_retried(attempts), "the SDK retried by itself (an attempt carried "
                                                      "x-stainless-retry-count > 0)", hint=HINT_SDK_RETRIES)
    longest = max((len(c) for c in calls), default=0)
    report.expect(longest <= MAX_ATTEMPTS, f"one call made {longest} attempts; the policy makes at most {MAX_ATTEMPTS}",
                  hint=B_PER_CALL)
    return batch


def _detail(world: World, batch: _Batch) -> str:
    lost = sum(r is None for r in batch.replies)
    return f"{usage(world, lost=lost)}, {plural(batch.retries, 'retry', 'retries')}"


def _worth_retrying(record: RequestRecord) -> bool:
    return record.error in ("connection reset", "timeout") or (record.status is not None and retryable_status(record.status)
                                                                and record.status != 429)


def _full_use(batch: _Batch, *, start: float) -> bool:
    """Did every call that gave up on a retryable failure do so for want of a token, in a budget starting at `start`?"""
    tokens = float(start)
    for attempts in batch.calls:
        if not attempts:
            continue
        tokens = min(_CAP, tokens + _RATIO) - (len(attempts) - 1)
        last = attempts[-1]
        if not last.ok and _worth_retrying(last) and len(attempts) < MAX_ATTEMPTS and tokens >= 1 - 1e-9:
            return False
    return True


def _violations(batch: _Batch, *, cap: float, start: float = _CAP) -> list[tuple[int, float]]:
    """Replay a budget of 0.1 a call holding at most `cap`: each (call, tokens left) where a retry had no token."""
    tokens, found = float(start), []
    for i, attempts in enumerate(batch.calls):
        if attempts:
            tokens = min(cap, tokens + _RATIO)
            for _ in attempts[1:]:
                if tokens < 1 - 1e-9:
                    found.append((i, tokens))
                tokens -= 1
    return found


def _replay(report: Report, batch: _Batch) -> None:
    """Replay the budget of the statement call by call: no retry without a token, no call given up with one."""
    over = _violations(batch, cap=_CAP)
    if over:
        call, left = over[0]
        uncapped_explains = not _violations(batch, cap=float("inf"))
        report.expect(False, f"call {call} retried when a budget of {_RATIO:g} a call, {_CAP} at most, had {left:.1f} "
                             "retries left", hint=B_CAP if uncapped_explains else B_SHARED)
    tokens, retried_before, failed_before = float(_CAP), False, False
    for i, attempts in enumerate(batch.calls):
        if not attempts:
            continue
        tokens = min(_CAP, tokens + _RATIO) - (len(attempts) - 1)
        last = attempts[-1]
        if not last.ok and _worth_retrying(last) and len(attempts) < MAX_ATTEMPTS and tokens >= 1 - 1e-9:
            if batch.retries == 0:
                hint = HINT_CONNECTION if last.error else B_RETRYABLE
            elif tokens < 1 + 1e-6:
                hint = B_FLOAT
            elif any(not _violations(batch, cap=_CAP, start=start) and _full_use(batch, start=start)
                     for start in range(_CAP)):
                hint = B_START_FULL  # exactly what a correct budget that started with fewer tokens would do
            elif retried_before or failed_before:
                hint = B_SPEND_ORDER
            else:
                hint = B_START_FULL
            report.expect(False, f"call {i} gave up after {plural(len(attempts), 'attempt')} ({last.error or last.status}) "
                                 f"while the budget still had {tokens:.1f} retries", hint=hint)
        retried_before = retried_before or len(attempts) > 1
        failed_before = failed_before or (not last.ok and last.status in (400, 404))


# A calm start, then OpenAI answers 503 for twenty minutes.
_LATE_OUTAGE = _scenario("outage-after-7-s", outage=Outage("openai", 7.0, 1207.0))
_ROUGH = _scenario("rough-day", overload_rate=0.3, reset_rate=0.15)


@register("retries-budget")
def check_budget(fn: Callable[..., Any], report: Report) -> None:
    with report.case("the outage (16 calls to gpt-fast): the 10 saved-up retries, then one per ten calls") as notes:
        world = checked_world(seed=62, scenario="outage", max_attempts=400, max_seconds=3600)
        observer = _Observer(world)
        batch = _ask_all(report, fn, world, "gpt-fast", _prompts(16), seed=62, observer=observer)
        notes.detail = _detail(world, batch)
        report.expect(all(r is None for r in batch.replies), "a call returned text during the outage; it should be None")
        _replay(report, batch)

    with report.case("a calm start (12 calls), 3 prompts over the context window (400), then the outage (10 calls)") \
            as notes:
        world = checked_world(seed=61, scenario=_LATE_OUTAGE, max_attempts=400, max_seconds=3600)
        observer = _Observer(world)
        prompts = _prompts(12) + _prompts(3, start=12, long=True) + _prompts(10, start=15)
        batch = _ask_all(report, fn, world, "gpt-fast", prompts, seed=61, observer=observer)
        notes.detail = _detail(world, batch)
        report.expect(all(len(c) == 1 and c[0].ok for c in batch.calls[:12]),
                      "made more than one attempt for a call that succeeded first time")
        report.expect(all(c and c[0].status == 503 for c in batch.calls[15:]),
                      "the check expected the last 10 calls to meet the outage; please report this as a bug")
        bad = batch.calls[12:15]
        report.expect(all(len(c) == 1 for c in bad), f"made {max(map(len, bad))} attempts at a 400", hint=B_NO_4XX)
        _replay(report, batch)

    with report.case("a rough day (14 calls to gpt-fast: 30% 503s, 15% resets): retries while the budget lasts") \
            as notes:
        world = checked_world(seed=63, scenario=_ROUGH, max_attempts=400, max_seconds=3600)
        observer = _Observer(world)
        batch = _ask_all(report, fn, world, "gpt-fast", _prompts(14), seed=63, observer=observer)
        notes.detail = _detail(world, batch)
        _replay(report, batch)

    with report.case(f"every attempt a 429 with retry-after: 30, tokens to spare: no attempt begins more than "
                     f"{DEADLINE_S:g} s after the call's first") as notes:
        world = checked_world(seed=66, scenario=_BURST, max_attempts=40, max_seconds=900)
        observer = _Observer(world, crowd="gpt-fast")
        batch = _ask_all(report, fn, world, "gpt-fast", _prompts(1), seed=66, observer=observer)
        notes.detail = _detail(world, batch)
        attempts = batch.calls[0]
        report.expect(len(attempts) >= 2, f"made {plural(len(attempts), 'attempt')} at a 429 whose retry-after was 30 s, with "
                                          "a full budget", hint=B_RETRYABLE)
        late = [r.start - attempts[0].start for r in attempts if r.start - attempts[0].start > DEADLINE_S + _EPS]
        report.expect(not late, f"an attempt began {late[0] if late else 0:.1f} s after the call's first, past the "
                                f"{DEADLINE_S:g} s deadline", hint=B_DEADLINE)

    with report.case("a retired model (4 calls to claude-legacy): 4 attempts, no retry spent on a 404") as notes:
        world = checked_world(seed=65, max_attempts=100, max_seconds=3600)
        observer = _Observer(world)
        batch = _ask_all(report, fn, world, "claude-legacy", _prompts(4), seed=65, observer=observer)
        notes.detail = _detail(world, batch)
        report.expect(all(r is None for r in batch.replies), "a call to a retired model returned text; it should be None")
        report.expect(len(batch.attempts) == 4, f"made {len(batch.attempts)} attempts for 4 calls that cannot succeed",
                      hint=B_NO_4XX)

    with report.case("RetryBudget(ratio=0.5, cap=2) on its own: the ratio and cap it is given"):
        cls = getattr(fn, "__globals__", {}).get("RetryBudget")
        report.expect(isinstance(cls, type), "no class RetryBudget beside ask_all")
        _budget_steps(report, cls)


def _budget_steps(report: Report, cls: Any) -> None:
    """RetryBudget(ratio=0.5, cap=2) on its own: starts full, earns half a token a call, never holds more than 2."""
    budget = report.call(cls, ratio=0.5, cap=2)

    def spends(n: int) -> list[Any]:
        return [report.call(budget.spend) for _ in range(n)]

    def earn(n: int) -> None:
        for _ in range(n):
            report.call(budget.earn)

    got = spends(2)
    report.expect(got == [True, True], f"a new RetryBudget(ratio=0.5, cap=2) allowed {got}: it should start with 2 "
                                       "tokens, two retries", hint=B_START_FULL)
    got = spends(1)
    report.expect(got == [False], "a new RetryBudget(ratio=0.5, cap=2) allowed a third retry: it holds at most cap=2 "
                                  "tokens", hint=B_ARGUMENTS)
    earn(2)
    got = spends(2)
    report.expect(got == [True, False], f"RetryBudget(ratio=0.5, cap=2), empty, then earn() twice: spend() twice gave "
                                        f"{got}, expected [True, False] (2 x 0.5 is one token)", hint=B_ARGUMENTS)
    earn(6)
    got = spends(3)
    report.expect(got == [True, True, False], f"RetryBudget(ratio=0.5, cap=2), empty, then earn() six times: spend() "
                                              f"three times gave {got}, expected [True, True, False]", hint=B_CAP)


_BUDGET = "    budget = RetryBudget(ratio=0.1, cap=10)\n"
_SPEND_STOP = "\n              | (lambda state: not budget.spend())"

mistakes(
    "retries-budget",
    Mistake("never capped", (("self.tokens = min(self.cap, self.tokens + self.ratio)",
                              "self.tokens = self.tokens + self.ratio"),), B_CAP),
    Mistake("spent in the retry predicate, before it (a 400 or a 404 spends a token)",
            (("retry=tenacity.retry_if_exception(retryable),",
              "retry=tenacity.retry_if_exception(lambda err: budget.spend() and retryable(err)),"),
             (_SPEND_STOP, "")), B_SPEND_ORDER),
    Mistake("a new budget for every call", ((_BUDGET, ""), ("        budget.earn()",
                                                             "        budget = RetryBudget(ratio=0.1, cap=10)\n"
                                                             "        budget.earn()")), B_SHARED),
    Mistake("earned once per attempt", (("        budget.earn()\n", ""),
                                        ("policy(ask, world, model, prompt)",
                                         "policy(lambda: budget.earn() or ask(world, model, prompt))")), B_SHARED),
    Mistake("starts empty", (("self.ratio, self.cap, self.tokens = ratio, cap, cap",
                              "self.ratio, self.cap, self.tokens = ratio, cap, 0.0"),), B_START_FULL),
    Mistake("no slack for floating point", (("if self.tokens >= 1 - 1e-9:", "if self.tokens >= 1:"),), B_FLOAT),
    Mistake("stop_before_delay dropped from ask_all's stop",
            (("stop=(tenacity.stop_after_attempt(MAX_ATTEMPTS) | tenacity.stop_before_delay(DEADLINE_S)\n",
              "stop=(tenacity.stop_after_attempt(MAX_ATTEMPTS)\n"),), B_DEADLINE),
    Mistake("RetryBudget ignores its ratio and cap",
            (("self.ratio, self.cap, self.tokens = ratio, cap, cap",
              "self.ratio, self.cap, self.tokens = 0.1, 10.0, 10.0"),), B_ARGUMENTS),
    Mistake("starts one token short of cap",
            (("self.ratio, self.cap, self.tokens = ratio, cap, cap",
              "self.ratio, self.cap, self.tokens = ratio, cap, cap - 1"),), B_START_FULL),
    Mistake("catches only openai's errors", (("except (openai.APIError, anthropic.APIError):",
                                              "except openai.APIError:"),), B_NEVER_RAISES),
    Mistake("the budget as the only stop", (("stop=(tenacity.stop_after_attempt(MAX_ATTEMPTS) | "
                                             "tenacity.stop_before_delay(DEADLINE_S)" + _SPEND_STOP + ")",
                                             "stop=(lambda state: not budget.spend())"),), B_PER_CALL),
    Mistake("every API error retried", (("retry=tenacity.retry_if_exception(retryable),",
                                         "retry=tenacity.retry_if_exception_type((openai.APIError, anthropic.APIError)),"),),
            B_NO_4XX),
)
