"""Checks for the lesson "Retries, backoff and jitter" (book/tier2/retries.md).

Both checks run the learner's code in fresh seeded worlds, under the faults the
lesson taught: bursts of 429s with `retry-after`, overload, reset connections,
an outage, requests that can never succeed and a spent daily quota. They read
what happened from the world's request log; the `retry-after` each attempt
received is recorded by wrapping the world's API, so a check can compare every
wait with the advice that preceded it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import tenacity

from .._records import RequestRecord
from .._scenarios import SCENARIOS, RateLimits, Scenario
from .._world import World
from ._framework import Report, checked_world, register, usage

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
_DAILY = _scenario("daily-quota-of-10", rate_limits=RateLimits(1_000, 1_000_000, requests_per_day=10))
_LONG_PROMPT = "Summarise these abstracts. " + "We study retries under contention. " * 22_000  # > 128k tokens

_SERVER_ERRORS = (openai.InternalServerError, anthropic.InternalServerError)
_SDK_ERRORS = (openai.APIError, anthropic.APIError)


def _direct(world: World, model: str, prompt: str, *, max_tokens: int = 20) -> None:
    """One request made by the check itself (to fill a bucket or spend a quota), with no retries."""
    messages = [{"role": "user", "content": prompt}]
    if model.startswith("claude"):
        world.anthropic().messages.create(model=model, max_tokens=max_tokens, messages=messages)
    else:
        world.openai().chat.completions.create(model=model, max_tokens=max_tokens, messages=messages)


class _Advice:
    """The `retry-after` each attempt in a world was answered with (None when it had none)."""

    def __init__(self, world: World) -> None:
        self._seen: dict[int, float | None] = {}
        plan = world._api.plan

        def recording(provider: str, request: Any, now: float) -> Any:
            outcome = plan(provider, request, now)
            value = outcome.headers.get("retry-after")
            self._seen[id(outcome.record)] = float(value) if value is not None else None
            return outcome

        world._api.plan = recording  # type: ignore[method-assign]

    def __call__(self, record: RequestRecord) -> float | None:
        return self._seen.get(id(record))


@dataclass
class _Run:
    """What one call of the learner's function did."""

    reply: Any
    error: BaseException | None
    attempts: list[RequestRecord]
    seconds: float

    def detail(self) -> str:
        cost = sum(r.cost_usd for r in self.attempts)
        return f"{len(self.attempts):,} attempts, {self.seconds:,.1f} s simulated, ${cost:.4f}"


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
    return _Run(reply, error, world.requests[first:], world.clock.now() - start)


def _expect_attempted(report: Report, run: _Run) -> None:
    if not run.attempts:
        failure = f"raised {type(run.error).__name__}: {str(run.error)[:160]}" if run.error else f"returned {run.reply!r:.60}"
        report.expect(False, f"made no request at all ({failure}); call the model with ask(world, model, prompt, ...)")


def _expect_reply(report: Report, run: _Run) -> None:
    if run.error is not None:
        report.expect(False, f"raised {type(run.error).__name__}: {str(run.error)[:160]}; a later attempt would "
                             "have succeeded")
    report.expect(isinstance(run.reply, str) and bool(run.reply),
                  f"should return the reply's text (a non-empty str), got {type(run.reply).__name__} {run.reply!r:.60}")


def _expect_gave_up(report: Report, run: _Run, kinds: tuple[type[BaseException], ...], what: str) -> None:
    report.expect(run.error is not None, f"returned {run.reply!r:.60} instead of raising {what}")
    report.expect(not isinstance(run.error, tenacity.RetryError),
                  "raised tenacity's RetryError; pass reraise=True so that the caller gets the SDK's own exception")
    report.expect(isinstance(run.error, kinds),
                  f"raised {type(run.error).__name__}: {str(run.error)[:160]}; expected {what}")


def _expect_one_attempt(report: Report, run: _Run, what: str) -> None:
    report.expect(len(run.attempts) == 1,
                  f"made {len(run.attempts)} attempts at {what}; no retry can fix it, so make exactly one")


def _waits(run: _Run) -> list[float]:
    return [b.start - a.end for a, b in zip(run.attempts, run.attempts[1:])]


def _expect_backoff_waits(report: Report, run: _Run, advice: _Advice) -> None:
    """Each wait: at least the advice (if any), and at most advice + the attempt's full-jitter window."""
    for attempt, (record, wait) in enumerate(zip(run.attempts, _waits(run)), start=1):
        advised = advice(record) or 0.0
        report.expect(wait >= advised - _EPS,
                      f"waited {wait:.3f} s after a 429 that said retry-after: {advised:.0f}; a request sent sooner "
                      "is refused again")
        ceiling = advised + _window(attempt)
        report.expect(wait <= ceiling + _EPS,
                      f"waited {wait:.3f} s after attempt {attempt}; the policy waits "
                      f"{'the retry-after plus ' if advised else ''}at most {_window(attempt):g} s of jitter "
                      f"(min({BACKOFF_CAP_S:g}, {BACKOFF_BASE_S:g} * 2 ** (attempt - 1)))")


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

    with report.case("a burst of 429s (3 seeds): waits at least the retry-after, plus jitter, then succeeds",
                     hint="pause() returns retry_after(err) + rng.uniform(0, window) when the server gave advice") as notes:
        runs, extras = [], []
        for seed, model in ((43, "gpt-fast"), (44, "claude-fast"), (45, "gpt-strong")):
            world = World(seed=seed, scenario=_BURST)._limit(max_attempts=40, max_seconds=900)
            advice = _Advice(world)
            for i in range(2):  # the bucket holds two requests a minute: spend both
                _direct(world, model, f"Earlier request {i}.")
            runs.append(run := _run(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            _expect_attempted(report, run)
            first_advice = advice(run.attempts[0])
            report.expect(first_advice is not None, "the check expected the first attempt to be refused with a 429 "
                                                    "and a retry-after; please report this as a bug")
            report.expect(len(run.attempts) >= 2, f"gave up after the first 429; its retry-after was "
                                                  f"{first_advice:.0f} s, short enough to wait for")
            _expect_backoff_waits(report, run, advice)
            report.expect(len(run.attempts) <= MAX_ATTEMPTS, f"made {len(run.attempts)} attempts; at most {MAX_ATTEMPTS}")
            _expect_reply(report, run)
            extras.append(_waits(run)[0] - first_advice)
        report.expect(any(extra > _EPS for extra in extras),
                      "waited exactly the retry-after every time; add full jitter on top of it, or every client that "
                      "was told the same number comes back at the same moment")

    with report.case("every attempt overloaded (529 and 503, 3 seeds): growing jittered waits, then it gives up",
                     hint="retry any 5xx; pause() without advice is rng.uniform(0, min(30, 1 * 2 ** (attempt - 1)))") as notes:
        runs, schedules = [], []
        for seed, model in ((46, "claude-fast"), (47, "gpt-fast"), (48, "claude-strong")):
            world = World(seed=seed, scenario=_SATURATED)._limit(max_attempts=40, max_seconds=900)
            advice = _Advice(world)
            runs.append(run := _run(report, fn, world, model, seed=seed))
            notes.detail = "; ".join(r.detail() for r in runs)
            _expect_attempted(report, run)
            _expect_gave_up(report, run, _SERVER_ERRORS, "the SDK's InternalServerError (or anthropic's OverloadedError)")
            report.expect(len(run.attempts) == MAX_ATTEMPTS,
                          f"made {len(run.attempts)} attempts; an overloaded server is worth retrying until the "
                          f"policy's {MAX_ATTEMPTS} attempts are used")
            _expect_backoff_waits(report, run, advice)
            schedules.append(_waits(run))
        report.expect(len({tuple(round(w, 6) for w in s) for s in schedules}) == len(schedules),
                      "waited the same times in every world; draw the waits from the rng you are given (jitter)")
        report.expect(any(w > BACKOFF_BASE_S + _EPS for s in schedules for w in s[1:]),
                      "no wait ever exceeded the first window of 1 s; the window must double with each attempt")

    with report.case("half the connections reset: retried, then the reply") as notes:
        world = World(seed=3, scenario=_RESETS)._limit(max_attempts=40, max_seconds=900)
        advice = _Advice(world)
        run = _run(report, fn, world, "claude-fast", seed=49)
        notes.detail = run.detail()
        _expect_reply(report, run)
        report.expect(len(run.attempts) >= 2, "the check expected a reset connection first; please report this as a bug")
        _expect_backoff_waits(report, run, advice)

    with report.case("the outage (OpenAI 503 for 20 minutes): gives up within its bounds") as notes:
        world = checked_world(seed=50, scenario="outage", max_attempts=40, max_seconds=900)
        run = _run(report, fn, world, "gpt-fast", seed=50)
        notes.detail = run.detail()
        _expect_gave_up(report, run, (openai.InternalServerError,), "openai.InternalServerError")
        report.expect(2 <= len(run.attempts) <= MAX_ATTEMPTS,
                      f"made {len(run.attempts)} attempts; a 503 is worth retrying, at most {MAX_ATTEMPTS} attempts")
        report.expect(run.seconds <= DEADLINE_S + 10,
                      f"gave up after {run.seconds:.0f} s; the policy never sleeps past {DEADLINE_S:g} s")

    with report.case("two bad requests (400): one attempt each, the SDK's BadRequestError",
                     hint="a 400 means the request itself is wrong: retryable() must say False") as notes:
        runs = []
        world = checked_world(seed=51, max_attempts=40, max_seconds=900)
        for prompt, max_tokens in ((_PROMPT, 50_000), (_LONG_PROMPT, 200)):
            runs.append(run := _run(report, fn, world, "gpt-fast", seed=51, prompt=prompt, max_tokens=max_tokens))
            notes.detail = "; ".join(r.detail() for r in runs)
            _expect_gave_up(report, run, (openai.BadRequestError,), "openai.BadRequestError")
            _expect_one_attempt(report, run, "a bad request")

    with report.case("a retired model (claude-legacy, 404): one attempt, the SDK's NotFoundError") as notes:
        world = checked_world(seed=52, max_attempts=40, max_seconds=900)
        run = _run(report, fn, world, "claude-legacy", seed=52)
        notes.detail = run.detail()
        _expect_gave_up(report, run, (anthropic.NotFoundError,), "anthropic.NotFoundError")
        _expect_one_attempt(report, run, "a retired model")

    with report.case("a request too large for the tokens-per-minute bucket (429, no retry-after): one attempt",
                     hint="a 429 without retry-after is, in the simulator, a request that can never fit") as notes:
        world = checked_world(seed=53, scenario="rate-limited", max_attempts=40, max_seconds=900)
        run = _run(report, fn, world, "gpt-strong", seed=53, max_tokens=120_000)
        notes.detail = run.detail()
        _expect_gave_up(report, run, (openai.RateLimitError,), "openai.RateLimitError")
        _expect_one_attempt(report, run, "a request that can never fit")

    with report.case("a spent daily quota (429, retry-after over 2 hours): gives up at once, no sleeping",
                     hint=f"a retry-after above LONGEST_RETRY_AFTER_S ({LONGEST_RETRY_AFTER_S:g} s) means give up now") as notes:
        world = World(seed=54, scenario=_DAILY)._limit(max_attempts=40, max_seconds=900)
        advice = _Advice(world)
        for i in range(10):
            _direct(world, "claude-fast", f"Earlier request {i}.")
        run = _run(report, fn, world, "claude-fast", seed=54)
        notes.detail = run.detail()
        _expect_attempted(report, run)
        _expect_gave_up(report, run, (anthropic.RateLimitError,), "anthropic.RateLimitError")
        _expect_one_attempt(report, run, f"a quota that returns in {advice(run.attempts[0]) or 0:,.0f} s")
        report.expect(run.seconds < 5, f"spent {run.seconds:,.0f} s before giving up; give up at once")


# -- retries-budget ------------------------------------------------------------------------------------

_RATIO, _CAP = 0.1, 10


def _ask_all(report: Report, fn: Callable[..., Any], world: World, model: str, count: int, *,
             seed: int) -> tuple[list[Any], list[RequestRecord]]:
    prompts = [f"Summarise abstract {i} in one sentence." for i in range(count)]
    first = len(world.requests)
    replies = report.call(fn, world, model, prompts, rng=random.Random(seed))
    attempts = world.requests[first:]
    report.expect(isinstance(replies, list) and len(replies) == count,
                  f"should return a list with one entry per prompt ({count}), got "
                  f"{type(replies).__name__}{f' of {len(replies)}' if isinstance(replies, list) else ''}")
    odd = [r for r in replies if r is not None and not isinstance(r, str)]
    report.expect(not odd, f"each entry should be the reply's text or None, got {type(odd[0]).__name__}" if odd else "")
    return replies, attempts


def _budget_detail(world: World, replies: list[Any], attempts: list[RequestRecord]) -> str:
    lost = sum(r is None for r in replies) if isinstance(replies, list) else 0
    retries = len(attempts) - (len(replies) if isinstance(replies, list) else 0)
    return f"{usage(world, lost=lost)}, {retries} retries"


def _expect_within_budget(report: Report, calls: int, attempts: list[RequestRecord]) -> None:
    allowed = int(_CAP + _RATIO * calls + _EPS)
    retries = len(attempts) - calls
    report.expect(retries <= allowed,
                  f"made {retries} retries for {calls} calls; a budget of {_RATIO:g} per call with {_CAP} saved up "
                  f"allows at most {_CAP} + {_RATIO:g} × {calls} = {allowed}. Is the budget shared by every call, "
                  "and earned once per call, not per attempt?")


@register("retries-budget")
def check_budget(fn: Callable[..., Any], report: Report) -> None:
    with report.case("a calm day (40 calls): every reply, no retries") as notes:
        world = checked_world(seed=61, max_attempts=400, max_seconds=3600)
        replies, attempts = _ask_all(report, fn, world, "gpt-fast", 40, seed=61)
        notes.detail = _budget_detail(world, replies, attempts)
        report.expect(all(isinstance(r, str) and r for r in replies), "some calls returned None on a calm day")
        report.expect(len(attempts) == 40, f"made {len(attempts)} attempts for 40 calls that all succeed first time")

    with report.case("the outage (200 calls to gpt-fast): at most 10 + 0.1 × 200 = 30 retries in all",
                     hint="one RetryBudget for the whole list; when spend() says no, the call gives up") as notes:
        world = checked_world(seed=62, scenario="outage", max_attempts=1200, max_seconds=3600)
        replies, attempts = _ask_all(report, fn, world, "gpt-fast", 200, seed=62)
        notes.detail = _budget_detail(world, replies, attempts)
        _expect_within_budget(report, 200, attempts)
        report.expect(all(r is None for r in replies), "a call returned text during the outage; it should be None")
        report.expect(len(attempts) - 200 >= _CAP,
                      f"made {len(attempts) - 200} retries; the budget starts with {_CAP} saved up, and a 503 is worth "
                      "retrying while it lasts")

    for seed, model, code in ((63, "claude-fast", 529), (64, "gpt-fast", 503)):
        with report.case(f"an overloaded day (200 calls to {model}, {code}s and resets): nearly every reply, "
                         "within the budget", hint="retry 5xx, 529 and connection errors while the budget allows") as notes:
            world = checked_world(seed=seed, scenario="overloaded", max_attempts=1200, max_seconds=7200)
            replies, attempts = _ask_all(report, fn, world, model, 200, seed=seed)
            notes.detail = _budget_detail(world, replies, attempts)
            _expect_within_budget(report, 200, attempts)
            answered = sum(isinstance(r, str) and bool(r) for r in replies)
            report.expect(answered >= 190, f"answered {answered} of 200; with retries inside the budget, at least 190 "
                                           "should come back (without any retry, about 170 do)")

    with report.case("a retired model (20 calls to gpt-legacy): 20 attempts, no retry spent on a 404") as notes:
        world = checked_world(seed=65, max_attempts=400, max_seconds=3600)
        replies, attempts = _ask_all(report, fn, world, "gpt-legacy", 20, seed=65)
        notes.detail = _budget_detail(world, replies, attempts)
        report.expect(all(r is None for r in replies), "a call to a retired model returned text; it should be None")
        report.expect(len(attempts) == 20, f"made {len(attempts)} attempts for 20 calls that cannot succeed")
