"""One call of the learner's retry policy in a world, and the expectations about its attempts and waits."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai
import tenacity

from ...service.records import RequestRecord
from ...text import plural
from ...world import World
from .._framework import Report
from .common import EPS, PROMPT, Observer, jitter_window
from .hints import (
    HINT_408_409,
    HINT_AT_MOST,
    HINT_HONOUR_ADVICE,
    HINT_JITTER,
    HINT_JITTER_ON_ADVICE,
    HINT_NOT_SDK,
    HINT_RERAISE,
    HINT_RNG,
    HINT_SDK_RETRIES,
    HINT_WINDOW,
)


@dataclass
class PolicyRun:
    """What one call of the learner's function did."""

    reply: Any
    error: BaseException | None
    attempts: list[RequestRecord]
    seconds: float
    seed: int

    def detail(self) -> str:
        cost = sum(r.cost_usd for r in self.attempts)
        return f"{plural(len(self.attempts), 'attempt')}, {self.seconds:,.1f} s simulated, ${cost:.4f}"


def run_policy(report: Report, fn: Callable[..., Any], world: World, model: str, *, seed: int,
               prompt: str = PROMPT, max_tokens: int = 200) -> PolicyRun:
    """Call `resilient_call`; an SDK error it raises is an outcome to inspect, not a failed case."""
    first, start = len(world.requests), world.clock.now()

    def call() -> tuple[Any, BaseException | None]:
        try:
            return fn(world, model, prompt, rng=random.Random(seed), max_tokens=max_tokens), None
        except NotImplementedError:
            raise
        except Exception as err:
            return None, err

    reply, error = report.call(call)
    return PolicyRun(reply, error, world.requests[first:], world.clock.now() - start, seed)


def error_line(run: PolicyRun) -> str:
    return f"raised {type(run.error).__name__}: {str(run.error)[:160]}"


def expect_attempted(report: Report, run: PolicyRun) -> None:
    if not run.attempts:
        failure = error_line(run) if run.error else f"returned {run.reply!r:.60}"
        report.expect(False, f"made no request at all ({failure}); call the model with ask(world, model, prompt, ...)")


def expect_no_sdk_retries(report: Report, run: PolicyRun, observer: Observer) -> None:
    report.expect(not observer.sdk_retried(run.attempts),
                  "the SDK retried by itself (an attempt carried x-stainless-retry-count > 0)", hint=HINT_SDK_RETRIES)


def expect_reply(report: Report, run: PolicyRun, *, gave_up_hint: str | None = None) -> None:
    if run.error is not None:
        report.expect(False, f"{error_line(run)}; a later attempt would have succeeded", hint=gave_up_hint)
    report.expect(isinstance(run.reply, str) and bool(run.reply),
                  f"should return the reply's text (a non-empty str), got {type(run.reply).__name__} {run.reply!r:.60}")


def expect_gave_up(report: Report, run: PolicyRun, kinds: tuple[type[BaseException], ...], what: str) -> None:
    report.expect(run.error is not None, f"returned {run.reply!r:.60} instead of raising {what}")
    report.expect(not isinstance(run.error, tenacity.RetryError), "raised tenacity's RetryError", hint=HINT_RERAISE)
    report.expect(isinstance(run.error, kinds), f"{error_line(run)}; expected {what}")


def expect_one_attempt(report: Report, run: PolicyRun, what: str, *, hint: str) -> None:
    report.expect(len(run.attempts) == 1,
                  f"made {len(run.attempts)} attempts at {what}; no retry can fix it, so make exactly one", hint=hint)


def waits_of(run: PolicyRun) -> list[float]:
    return [b.start - a.end for a, b in zip(run.attempts, run.attempts[1:], strict=False)]


def expect_backoff_waits(report: Report, run: PolicyRun, observer: Observer) -> None:
    """Each wait: at least the advice (if any), and at most advice + the attempt's full-jitter window."""
    for attempt, (record, wait) in enumerate(zip(run.attempts, waits_of(run), strict=False), start=1):
        advised = observer.advice(record) or 0.0
        report.expect(wait >= advised - EPS,
                      f"waited {wait:.3f} s after a 429 that said retry-after: {advised:.0f}", hint=HINT_HONOUR_ADVICE)
        ceiling = advised + jitter_window(attempt)
        report.expect(wait <= ceiling + EPS,
                      f"waited {wait:.3f} s after attempt {attempt}; the policy waits "
                      f"{'the retry-after plus ' if advised else ''}at most {jitter_window(attempt):g} s of jitter",
                      hint=HINT_WINDOW)
    # The waits are determined by the seed: replay the caller's rng, one uniform draw per wait.
    twin = random.Random(run.seed)
    for attempt, (record, wait) in enumerate(zip(run.attempts, waits_of(run), strict=False), start=1):
        advised = observer.advice(record) or 0.0
        unit = twin.random()
        want = advised + jitter_window(attempt) * unit
        if abs(wait - want) <= EPS:
            continue
        jitter = wait - advised
        if advised and abs(jitter) <= EPS:
            hint = HINT_JITTER_ON_ADVICE
        elif abs(jitter - jitter_window(attempt)) <= EPS:
            hint = HINT_JITTER
        elif any(abs(jitter - jitter_window(n) * unit) <= EPS for n in (attempt - 1, attempt + 1) if n >= 0):
            hint = HINT_WINDOW
        else:
            hint = HINT_RNG
        report.expect(False, f"waited {wait:.6f} s after attempt {attempt}; random.Random({run.seed}) passed as rng "
                             f"gives {want:.6f} s ({f'the retry-after {advised:.0f} s plus ' if advised else ''}"
                             f"rng.uniform(0, {jitter_window(attempt):g}))", hint=hint)


def _status_error(sdk: Any, status: int, retry_after: str | None = None) -> Any:
    request = httpx2.Request("POST", "https://api.example.invalid/v1/messages")
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    cls = {408: sdk.APIStatusError, 409: sdk.ConflictError, 429: sdk.RateLimitError}[status]
    return cls(f"Error code: {status}", response=httpx2.Response(status, request=request, headers=headers), body=None)


def single_errors() -> list[tuple[BaseException, bool, str]]:
    """Errors built here, each with the verdict the statement asks for and the hint of the mistake it exposes."""
    return [
        (_status_error(openai, 408), True, HINT_408_409),
        (_status_error(anthropic, 409), True, HINT_408_409),
        (ValueError("a bug in the caller"), False, HINT_NOT_SDK),
        (_status_error(openai, 429, "60"), True, HINT_AT_MOST),
        (_status_error(anthropic, 429, "60"), True, HINT_AT_MOST),
    ]


def error_name(err: BaseException) -> str:
    status = getattr(err, "status_code", None)
    if status is None:
        return f"{type(err).__name__}()"
    advice = err.response.headers.get("retry-after")  # type: ignore[attr-defined]
    return (f"{type(err).__module__.split('.')[0]}.{type(err).__name__}, status {status}"
            + (f", retry-after: {advice}" if advice else ""))


def learner_retryable(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """The learner's `retryable`, defined beside `resilient_call` (the exercise asks for both)."""
    found = getattr(fn, "__globals__", {}).get("retryable")
    return found if callable(found) else None

