"""Latency: a heavy-tailed distribution whose median can drift.

Each attempt's time is the model's median profile times a random factor: a
lognormal body (most calls land near the median) plus a rare slow path (3% of
calls take 4-12x longer: a cold replica, a long queue). That gives a p99 of
about 8x the median even on a calm day, the tail that timeouts and hedged
requests exist to cut. Under drift the whole distribution is scaled by a slow
multiplier that climbs 6-9x over 30-50 minutes and falls back over as long, as real APIs do on a
busy afternoon.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ._catalog import ModelSpec

_BODY_SIGMA = 0.35
_SLOW_PATH_SHARE = 0.03
_SLOW_PATH_FACTOR = (4.0, 12.0)


@dataclass(frozen=True)
class Timing:
    """When each part of one answer arrives, in seconds after the request."""

    head: float  # response headers (a stream's first bytes)
    first_token: float
    per_token: float

    def total(self, output_tokens: int) -> float:
        return self.first_token + output_tokens * self.per_token


class LatencyModel:
    """Samples attempt timings from a seeded stream; optionally drifting."""

    def __init__(self, seed: int, *, drift: bool) -> None:
        self._rng = random.Random(f"{seed}:latency")
        shape = random.Random(f"{seed}:drift")
        self.drift = drift
        self.peak = shape.uniform(6.0, 9.0)
        self.rise_seconds = shape.uniform(30 * 60, 50 * 60)

    def multiplier(self, t: float) -> float:
        """How much slower than its profile every model is at virtual time `t`."""
        if not self.drift:
            return 1.0
        phase = (1 - math.cos(math.pi * t / self.rise_seconds)) / 2  # 0 -> 1 over one rise, back over the next
        return 1 + (self.peak - 1) * phase

    def sample(self, spec: ModelSpec, t: float) -> Timing:
        rng = self._rng
        factor = rng.lognormvariate(0.0, _BODY_SIGMA)
        slow = rng.random() < _SLOW_PATH_SHARE
        slow_factor = rng.uniform(*_SLOW_PATH_FACTOR)
        if slow:
            factor *= slow_factor
        scale = factor * self.multiplier(t)
        profile = spec.latency
        head = profile.overhead * scale
        return Timing(head=head, first_token=head + profile.ttft * scale, per_token=profile.per_token * scale)
