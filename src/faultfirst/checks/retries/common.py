"""The policy the retries lesson states, the worlds its checks run in, and the observer that reads each
attempt's retry-after, the SDK's own retry count and the prompt it carried.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import anthropic
import openai

from ...service.attempts import Attempt
from ...service.records import RequestRecord
from ...service.scenarios import SCENARIOS, RateLimits, Scenario
from ...wire import openai_render
from ...world import World
from .._framework import checked_world

PROMPT = "Summarise this abstract in one sentence: we study retries with jitter under contention."
EPS = 1e-6

# The policy the exercise states (book/tier2/retries.md, exercise retries-policy).
MAX_ATTEMPTS = 5
DEADLINE_S = 60.0
LONGEST_RETRY_AFTER_S = 60.0
BACKOFF_BASE_S, BACKOFF_CAP_S = 1.0, 30.0


def jitter_window(attempt: int) -> float:
    """The full-jitter window after failed attempt number `attempt` (from 1)."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))


def scenario_from(name: str, base: str = "calm", **changes: Any) -> Scenario:
    return dataclasses.replace(SCENARIOS[base], name=name, **changes)


BURST = scenario_from("two-requests-a-minute", rate_limits=RateLimits(2, 1_000_000))
SATURATED = scenario_from("always-overloaded", overload_rate=1.0)
RESETS = scenario_from("half-the-connections-reset", reset_rate=0.5)
ONE_A_DAY = scenario_from("one-request-a-day", rate_limits=RateLimits(1_000, 1_000_000, requests_per_day=1))
DAY_S = 24 * 3600.0
LONG_PROMPT = "Summarise these abstracts. " + "We study retries under contention. " * 22_000  # > 128k tokens

SERVER_ERRORS = (openai.InternalServerError, anthropic.InternalServerError)
CONNECTION_ERRORS = (openai.APIConnectionError, anthropic.APIConnectionError)
SDK_ERRORS = (openai.APIError, anthropic.APIError)

def direct(world: World, model: str, prompt: str, *, max_tokens: int = 20) -> None:
    """One request made by the check itself (to spend a quota), with no retries."""
    messages: list[Any] = [{"role": "user", "content": prompt}]
    if model.startswith("claude"):
        world.anthropic().messages.create(model=model, max_tokens=max_tokens, messages=messages)
    else:
        world.openai().chat.completions.create(model=model, max_tokens=max_tokens, messages=messages)


_MARK = re.compile(rb"#(\d+):")


# The world itself refuses every request (each is larger than this allowance of one token a minute), at the
# moment a refusal takes; `crowded` restates each refusal as a full request bucket's, with its retry-after.
_ALL_TAKEN = scenario_from("two-requests-a-minute-all-taken", rate_limits=RateLimits(2, 1))
_TAKEN_RETRY_AFTER_S = 30  # the wait for one request of an allowance of two a minute, when both are taken


def crowded(seed: int) -> World:
    """A bounded world in which other clients take every request slot the moment it frees: each attempt is refused
    with a 429 and `retry-after: 30`, as a two-a-minute allowance that is always used up answers."""
    world = checked_world(seed=seed, scenario=_ALL_TAKEN, max_attempts=40, max_seconds=900)

    def taken(attempt: Attempt) -> None:
        if attempt.status != 429:
            return
        model = attempt.record.model if attempt.record is not None else attempt.model
        wait = openai_render.duration(_TAKEN_RETRY_AFTER_S)
        if attempt.provider == "openai":
            message = (f"Rate limit reached for {model} on requests per min (RPM): Limit 2, Used 2, Requested 1. "
                       f"Please try again in {wait}.")
            kind = "rate_limit_exceeded"
        else:
            message = (f"This request would exceed your organization's rate limit of 2 requests per minute for "
                       f"{model}. Please reduce the prompt length or the maximum tokens requested, or try again later.")
            kind = "rate_limit_error"
        attempt.answer(429, message, error_type=kind, headers={"retry-after": str(_TAKEN_RETRY_AFTER_S)})

    world.on_attempt(after=taken)
    return world


class Observer:
    """What each attempt in a world carried and was answered with, read at the world's API (`world.on_attempt`).

    For each record: the `retry-after` it was answered with (None if none), the SDK's own retry count
    (`x-stainless-retry-count`) and the number of the prompt it carried (prompts marked `#<n>:`).
    """

    def __init__(self, world: World) -> None:
        self._seen: dict[int, tuple[float | None, int, int | None]] = {}

        def observe(attempt: Attempt) -> None:
            value = attempt.headers.get("retry-after")
            try:
                sdk_retry = int(attempt.request.headers.get("x-stainless-retry-count", "0"))
            except ValueError:
                sdk_retry = 0
            mark = _MARK.search(attempt.request.content or b"")
            self._seen[id(attempt.record)] = (float(value) if value is not None else None, sdk_retry,
                                              int(mark[1]) if mark else None)

        world.on_attempt(after=observe)

    def advice(self, record: RequestRecord) -> float | None:
        return self._seen.get(id(record), (None, 0, None))[0]

    def sdk_retried(self, records: list[RequestRecord]) -> bool:
        return any(self._seen.get(id(r), (None, 0, None))[1] > 0 for r in records)

    def prompt(self, record: RequestRecord) -> int | None:
        return self._seen.get(id(record), (None, 0, None))[2]


