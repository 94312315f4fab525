"""Latency: a heavy-tailed distribution whose median can drift.

Each attempt's time is the model's median profile times a random factor: a
lognormal body (most calls land near the median) plus a rare slow path (3% of
calls take 4-12x longer: a cold replica, a long queue). That gives a p99 of
about 8x the median even on a calm day, the tail that timeouts and hedged
requests exist to cut. Under drift the whole distribution is scaled by a slow
multiplier that climbs 6-9x over 30-50 minutes and falls back over as long, as real APIs do on a
busy afternoon.

By default the slow path is drawn afresh for every attempt: the tail belongs to
the attempt, so a second copy of a slow call is most likely fast. With
`correlated_tail` (opt-in, off in every named scenario) it belongs to the
service instead: each simulated minute is slow or not as a whole (3% of minutes,
4-12x), and every attempt that starts in a slow minute takes that minute's slow
path, a hedge as much as the call it copies. Those minutes come from their own
seeded stream, drawn only when the option is on, so the per-attempt draws (and
every other world's latencies) stay the same.
"""

from __future__ import annotations

import math
import random
from typing import NamedTuple

from ..model.catalog import ModelSpec

_BODY_SIGMA = 0.35
_SLOW_PATH_SHARE = 0.03
_SLOW_PATH_FACTOR = (4.0, 12.0)
_TAIL_WINDOW = 60.0  # seconds: with a correlated tail, a whole minute is slow or not
_DRIFT_PEAK = (6.0, 9.0)  # under drift, the multiplier's peak is drawn from this range
_DRIFT_RISE_SECONDS = (30 * 60, 50 * 60)  # and the time it takes to climb there (and to fall back) from this one


class Timing(NamedTuple):
    """When each part of one answer arrives, in seconds after the request.

    A NamedTuple, not a frozen dataclass: one is made per attempt, and a frozen dataclass pays an
    object.__setattr__ per field to be built (the SDK-overhead budget counts every microsecond).
    """

    head: float  # response headers (a stream's first bytes)
    first_token: float
    per_token: float

    def total(self, output_tokens: int) -> float:
        return self.first_token + output_tokens * self.per_token


class LatencyModel:
    """Samples attempt timings from a seeded stream; optionally drifting."""

    def __init__(self, seed: int, *, drift: bool, correlated_tail: bool = False) -> None:
        self._rng = random.Random(f"{seed}:latency")
        shape = random.Random(f"{seed}:drift")
        self.drift = drift
        self.correlated_tail = correlated_tail
        self._minute_rng = random.Random(f"{seed}:correlated-tail") if correlated_tail else None
        self._minutes: list[float] = []  # each minute's slow factor (1.0 for a fast minute), drawn in order
        self.peak = shape.uniform(*_DRIFT_PEAK)
        self.rise_seconds = shape.uniform(*_DRIFT_RISE_SECONDS)

    def multiplier(self, t: float) -> float:
        """How much slower than its profile every model is at virtual time `t`."""
        if not self.drift:
            return 1.0
        phase = (1 - math.cos(math.pi * t / self.rise_seconds)) / 2  # 0 -> 1 over one rise, back over the next
        return 1 + (self.peak - 1) * phase

    def slow_factor(self, t: float) -> float:
        """With a correlated tail: the slow factor every attempt starting at time `t` shares (1.0 if none)."""
        if self._minute_rng is None:
            return 1.0
        minute = max(0, int(t // _TAIL_WINDOW))
        while len(self._minutes) <= minute:  # in minute order, so the answer never depends on who asks first
            slow = self._minute_rng.random() < _SLOW_PATH_SHARE
            factor = self._minute_rng.uniform(*_SLOW_PATH_FACTOR)
            self._minutes.append(factor if slow else 1.0)
        return self._minutes[minute]

    def sample(self, spec: ModelSpec, t: float) -> Timing:
        rng = self._rng
        factor = rng.lognormvariate(0.0, _BODY_SIGMA)
        slow = rng.random() < _SLOW_PATH_SHARE
        slow_factor = rng.uniform(*_SLOW_PATH_FACTOR)
        if self.correlated_tail:
            factor *= self.slow_factor(t)  # the minute's slowness, not this attempt's own draw
        elif slow:
            factor *= slow_factor
        scale = factor * self.multiplier(t)
        profile = spec.latency
        head = profile.overhead * scale
        return Timing(head=head, first_token=head + profile.ttft * scale, per_token=profile.per_token * scale)
