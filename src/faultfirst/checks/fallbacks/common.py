"""The lesson's neutral request, and what both fallbacks checks read and build.

The lesson's types (`Request`, `Answer`, `Unavailable`, `TooLong`, `Rejected`, `AllFailed`) live in the
notebook's setup cell, so the checks build requests of their own with the same fields and recognise the
exceptions by class name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ...service.scenarios import SCENARIOS, Outage, RateLimits
from ...world import World
from .._framework import usage

# -- the lesson's neutral request ---------------------------------------------------------------------------------

SYSTEM = "You summarise search results for researchers. Answer in two sentences."
QUESTION = "What do the search results say about retry storms during an outage?"
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
    "required": ["title", "year"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class NeutralRequest:
    """The same fields as the lesson's `Request`, so the learner's code reads it the same way."""

    user: str
    system: str = ""
    max_tokens: int = 400
    schema: dict | None = None


# -- helpers ------------------------------------------------------------------------------------------------------

def is_lesson_error(err: BaseException | None, name: str) -> bool:
    """Whether `err` is the lesson's exception `name` (or a subclass of it), whatever module defined it."""
    return err is not None and any(cls.__name__ == name for cls in type(err).__mro__)


def from_sdk(err: BaseException | None, name: str = "APIError") -> bool:
    """Whether `err` is one of the SDKs' own exceptions (by default any of them), not the lesson's."""
    return err is not None and any(cls.__name__ == name and cls.__module__.split(".")[0] in ("openai", "anthropic")
                                   for cls in type(err).__mro__)


def short_error(err: BaseException | None) -> str:
    if err is None:
        return "nothing"
    text = str(err).replace("\n", " ")
    return f"{type(err).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"


def answer_problem(value: Any) -> str | None:
    missing = [name for name in ("text", "model", "degraded") if not hasattr(value, name)]
    if missing:
        return (f"returned {type(value).__name__} {str(value)[:60]!r}, which has no {', '.join(missing)} "
                "(return an Answer(text, model, degraded))")
    if not isinstance(value.text, str):
        return f"Answer.text should be a str, got {type(value.text).__name__}"
    return None


def per_provider(world: World) -> str:
    counts = {p: sum(r.provider == p for r in world.requests) for p in ("openai", "anthropic")}
    return f"{usage(world)}; attempts: OpenAI {counts['openai']}, Anthropic {counts['anthropic']}"


def answered_detail(world: World, calls: list[Any]) -> str:
    """What a run of traffic came to: requests answered and lost, then attempts, virtual time and cost."""
    answered = sum(c.error is None for c in calls)
    return (f"{answered} of {len(calls)} requests answered, {len(calls) - answered} lost (no answer); "
            f"{per_provider(world)}")


_CODES = "".join(f"{letter}{i % 10}" for i, letter in enumerate("abcdefghijklmnopqrstuvwxyz" * 2))[:78]
_CODE_LINE = f" Codes: {_CODES}."  # 81 tokens in either encoding: a letter or a digit is a token of its own


def long_prompt(tokens: int) -> str:
    """A prompt of about `tokens` tokens (a list of part codes) that costs little to count.

    About one byte per token, so a chain that bounds the count by the byte length first need not tokenize it for
    a model whose window holds that many bytes; and one sentence repeated, so the simulator, which counts tokens
    sentence by sentence from a cache, counts 200,000 tokens in milliseconds, not in a second.
    """
    return (_CODE_LINE * math.ceil(tokens / 81)).strip()


SMALL: dict[str, Any] = {"max_attempts": 20, "max_seconds": 4000.0}  # a few requests: a runaway stops at once
ALWAYS_OVERLOADED = replace(SCENARIOS["overloaded"], name="always-overloaded", overload_rate=1.0,
                            reset_rate=0.0, stream_error_rate=0.0)
ALWAYS_RESET = replace(SCENARIOS["calm"], name="always-reset", reset_rate=1.0)
ONE_PER_MINUTE = replace(SCENARIOS["calm"], name="one-per-minute", rate_limits=RateLimits(1, 10_000_000))
# The lesson's outages, shortened: a few minutes down show a breaker opening, probing and closing as well as twenty
# do, at a fifth of the requests (each costs the SDKs milliseconds, and a check answers within a second).
OUTAGE = replace(SCENARIOS["outage"], outage=Outage("openai", 0.0, 5 * 60.0))
BAD_DAY = replace(SCENARIOS["bad-day"], outage=Outage("anthropic", 2 * 60.0, 7 * 60.0))


