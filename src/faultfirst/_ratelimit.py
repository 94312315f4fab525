"""Server-side rate limiting: token buckets per model, as the providers run them."""

from __future__ import annotations

import math
from dataclasses import dataclass


class TokenBucket:
    """Holds up to `capacity`; refills at `capacity` per minute of virtual time."""

    __slots__ = ("capacity", "rate", "level", "updated")

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = capacity
        self.rate = capacity / 60.0
        self.level = float(capacity)
        self.updated = now

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: int, now: float) -> float:
        """Seconds until `amount` is available (0 if it is now; inf if it never fits)."""
        self._refill(now)
        if amount > self.capacity:
            return math.inf
        return max(0.0, (amount - self.level) / self.rate)

    def take(self, amount: int) -> None:
        self.level -= amount

    def reset_after(self, now: float) -> float:
        """Seconds until the bucket is full again (what the reset headers report)."""
        self._refill(now)
        return (self.capacity - self.level) / self.rate


@dataclass(frozen=True)
class Admission:
    """The outcome of asking the buckets to admit one request."""

    limited_by: str | None  # None if admitted, else 'requests' or 'tokens'
    retry_after: float  # seconds; inf when the request can never fit
    requests: TokenBucket
    tokens: TokenBucket
    tokens_requested: int


class ModelLimiter:
    """The request and token buckets of one model."""

    def __init__(self, requests_per_minute: int, tokens_per_minute: int, now: float) -> None:
        self.requests = TokenBucket(requests_per_minute, now)
        self.tokens = TokenBucket(tokens_per_minute, now)

    def admit(self, tokens: int, now: float) -> Admission:
        wait_requests = self.requests.wait_for(1, now)
        wait_tokens = self.tokens.wait_for(tokens, now)
        if wait_requests == 0 and wait_tokens == 0:
            self.requests.take(1)
            self.tokens.take(tokens)
            return Admission(None, 0.0, self.requests, self.tokens, tokens)
        limited_by = "tokens" if wait_tokens > wait_requests else "requests"
        return Admission(limited_by, max(wait_requests, wait_tokens), self.requests, self.tokens, tokens)
