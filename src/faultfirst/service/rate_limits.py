"""Server-side rate limiting: token buckets per model, as the providers run them."""

from __future__ import annotations

import math
from typing import NamedTuple


class TokenBucket:
    """Holds up to `capacity`; refills at `capacity` per `period` seconds of virtual time (a minute by default)."""

    __slots__ = ("capacity", "rate", "level", "updated")

    def __init__(self, capacity: int, now: float, period: float = 60.0) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self.level = float(capacity)
        self.updated = now

    def wait_for(self, amount: int, now: float) -> float:
        """Seconds until `amount` is available (0 if it is now; inf if it never fits), refilled up to `now`."""
        self.level = level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        if amount > self.capacity:
            return math.inf
        return max(0.0, (amount - level) / self.rate)

    def take(self, amount: int) -> None:
        self.level -= amount

    def reset_after(self, now: float) -> float:
        """Seconds until the bucket is full again (what the reset headers report)."""
        return self.wait_for(self.capacity, now)


class Admission(NamedTuple):
    """The outcome of asking the buckets to admit one request (a NamedTuple: cheap to build, one per attempt)."""

    limited_by: str | None  # None if admitted, else 'requests', 'tokens' or 'requests-per-day'
    retry_after: float  # seconds; inf when the request can never fit
    requests: TokenBucket
    tokens: TokenBucket
    tokens_requested: int
    limiting: TokenBucket | None = None  # the bucket that refused, when one did


_DAY = 24 * 3600.0


class ModelLimiter:
    """The request and token buckets of one model, and its daily request quota if it has one."""

    def __init__(self, requests_per_minute: int, tokens_per_minute: int, now: float,
                 requests_per_day: int | None = None) -> None:
        self.requests = TokenBucket(requests_per_minute, now)
        self.tokens = TokenBucket(tokens_per_minute, now)
        self.daily = TokenBucket(requests_per_day, now, _DAY) if requests_per_day else None

    def admit(self, tokens: int, now: float) -> Admission:
        request_wait, token_wait = self.requests.wait_for(1, now), self.tokens.wait_for(tokens, now)
        daily_wait = self.daily.wait_for(1, now) if self.daily is not None else 0.0
        if not (request_wait or token_wait or daily_wait):  # the usual case, asked on every attempt: no dict built
            self.requests.take(1)
            self.tokens.take(tokens)
            if self.daily is not None:
                self.daily.take(1)
            return Admission(None, 0.0, self.requests, self.tokens, tokens)
        waits = {"requests": request_wait, "tokens": token_wait}
        if self.daily is not None:
            waits["requests-per-day"] = daily_wait
        limited_by = max(waits, key=waits.__getitem__)
        limiting = {"requests": self.requests, "tokens": self.tokens, "requests-per-day": self.daily}[limited_by]
        return Admission(limited_by, waits[limited_by], self.requests, self.tokens, tokens, limiting)
