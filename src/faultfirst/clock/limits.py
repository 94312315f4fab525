"""A bound on runaway code: what stops a learner's infinite retry loop inside a check.

A check runs learner code against a world with a limit on attempts and on
virtual time. Going past either raises `Runaway`, a BaseException, so that a
learner's `except Exception:` (the very thing that makes a loop infinite)
cannot swallow it.
"""

from __future__ import annotations

from dataclasses import dataclass


class Runaway(BaseException):
    """Learner code went past a check's bound on attempts or virtual time."""


@dataclass(frozen=True)
class Limits:
    max_attempts: int
    max_seconds: float

    def check_attempts(self, attempts: int) -> None:
        if attempts > self.max_attempts:
            raise Runaway(f"made more than {self.max_attempts} requests")

    def check_time(self, now: float) -> None:
        if now > self.max_seconds:
            raise Runaway(f"ran for more than {self.max_seconds:g} simulated seconds")
