"""Named scenarios: which faults a world injects, and how often.

Every scenario is a frozen value a lesson can print. Rates are per attempt and
drawn from the world's seeded random streams, so the same seed replays the
same bad day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..model.catalog import Provider


@dataclass(frozen=True)
class RateLimits:
    """Per-model limits, enforced as token buckets that hold one minute's worth.

    Requests and tokens are separate buckets, as the providers have them. A
    request is charged its input tokens plus the output it asked for
    (`max_tokens`, or 1,024 when not given), the estimate providers admit on.
    An optional daily request quota is a third bucket holding a day's worth:
    once it is spent, `retry-after` runs to minutes, which is where the SDKs'
    retry policies part ways (see docs/sdk-facts.md).
    """

    requests_per_minute: int
    tokens_per_minute: int
    requests_per_day: int | None = None

    def __post_init__(self) -> None:
        # A bucket refills at capacity / period: a zero or negative capacity would fail deep inside the first call
        # (a ZeroDivisionError in the rate limiter) instead of here, where the mistake is.
        for name in ("requests_per_minute", "tokens_per_minute", "requests_per_day"):
            value = getattr(self, name)
            if value is None and name == "requests_per_day":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ValueError(
                    f"RateLimits.{name} must be a positive number, got {value!r}. For a limit that never "
                    "binds give a large one (e.g. 1_000_000); to refuse every request use an Outage"
                    + ("; for no daily quota leave requests_per_day as None." if name == "requests_per_day" else "."))


@dataclass(frozen=True)
class Outage:
    """One provider answers every request with a server error during [start, end)."""

    provider: Provider
    start: float
    end: float


@dataclass(frozen=True)
class Scenario:
    """A bundle of faults. `calm` injects none.

    The four rates and the outage are the built-in fault kinds' (faults/); `rates` holds the rate of any other kind
    registered in faults/registry.py, by its name, so a new kind needs no new field here (a name no
    kind reads is refused when a world is made).
    """

    name: str
    description: str
    rate_limits: RateLimits = field(default_factory=lambda: RateLimits(10_000, 50_000_000))
    drift: bool = False
    overload_rate: float = 0.0
    reset_rate: float = 0.0
    stream_error_rate: float = 0.0
    malformed_output_rate: float = 0.0
    outage: Outage | None = None
    # Opt-in, in no named scenario: the latency tail belongs to the minute, not the attempt (see service/latency.py).
    correlated_tail: bool = False
    rates: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))  # a copy, read-only: a frozen value


_GENEROUS = RateLimits(10_000, 50_000_000)
_TIGHT = RateLimits(60, 100_000)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("calm", "No injected faults: the natural latency distribution, tail included.", _GENEROUS),
        Scenario(
            "latency-drift",
            "Median latency climbs 6-9x over 30-50 simulated minutes, falls back over as long again, and repeats.",
            _GENEROUS,
            drift=True,
        ),
        Scenario(
            "rate-limited",
            "60 requests and 100,000 tokens per minute per model: a burst of 100 gets 429s.",
            _TIGHT,
        ),
        Scenario(
            "overloaded",
            "15% of attempts refused as overloaded (Anthropic 529, OpenAI 503), 2% connection resets, "
            "10% of streams fail midway.",
            _GENEROUS,
            overload_rate=0.15,
            reset_rate=0.02,
            stream_error_rate=0.10,
        ),
        Scenario(
            "outage",
            "OpenAI answers every request with 503 for the first 20 simulated minutes.",
            _GENEROUS,
            outage=Outage("openai", 0.0, 20 * 60.0),
        ),
        Scenario(
            "flaky-output",
            "30% of structured (JSON) replies come back malformed or off-schema.",
            _GENEROUS,
            malformed_output_rate=0.30,
        ),
        Scenario(
            "sloppy-json",
            "Structured replies that parse but cannot be trusted: 20% wrong in meaning (a date or id not in the "
            "input, a total that does not add up, the wrong enum member), 15% of non-strict ones off-schema, "
            "5% refused.",
            _GENEROUS,
            rates={"wrong_meaning": 0.20, "schema_violation": 0.15, "refusal": 0.05},
        ),
        Scenario(
            "citations",
            "Grounded answers that quote their sources misquote at the simulator's rates per model and prompt "
            "(model/citation_profile.py): invented quotes, real quotes under the wrong id, paraphrases in quote "
            "marks, ids never provided, quotes cut to say the opposite, and (rigid claims) wrong offsets.",
            _GENEROUS,
            rates=dict.fromkeys(("invented_quote", "paraphrase_as_quote", "reversed_quote", "wrong_document",
                                 "unprovided_document", "offset_error"), 1.0),
        ),
        Scenario(
            "bad-day",
            "All at once: latency drift, tight rate limits, 8% overload, 2% resets, 5% broken streams, "
            "20% broken JSON, and Anthropic down from minute 10 to minute 25.",
            RateLimits(120, 200_000),
            drift=True,
            overload_rate=0.08,
            reset_rate=0.02,
            stream_error_rate=0.05,
            malformed_output_rate=0.20,
            outage=Outage("anthropic", 10 * 60.0, 25 * 60.0),
        ),
    )
}


def scenario_named(name: object) -> Scenario:
    """The scenario called `name`, or an error listing the valid names."""
    if isinstance(name, Scenario):
        return name
    if not isinstance(name, str) or name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
