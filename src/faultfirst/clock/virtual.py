"""Virtual time: the world's clock, which only moves when something waits on it.

Nothing in a simulated world sleeps for real. (`RealTimeClock` is the
exception that proves it: live mode and `faultfirst serve` run on real time.) Latency, retry back-off and
`asyncio.sleep` all advance this counter instead, so an hour of simulated
traffic runs in milliseconds and gives the same timings on every run.
"""

from __future__ import annotations

import math
import time

from .limits import Limits


class Clock:
    """Seconds since the world began; advanced by waiting, never by the wall clock."""

    __slots__ = ("_now", "limits")

    def __init__(self) -> None:
        self._now = 0.0
        self.limits: Limits | None = None  # set by checks to stop runaway learner code

    def now(self) -> float:
        """Virtual seconds since the world began."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of virtual time (returns at once in real time).

        Pass it wherever a library takes a sleep function, for example
        `tenacity.Retrying(sleep=world.clock.sleep)`.
        """
        if not isinstance(seconds, (int, float)) or math.isnan(seconds):
            raise TypeError(f"sleep() takes a number of seconds, got {seconds!r}")
        if seconds < 0:
            raise ValueError(f"sleep() takes a non-negative number of seconds, got {seconds!r}")
        self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        """Move time forward to `when`; never backwards (the event loop uses this)."""
        if when > self._now:
            self._now = when
            if self.limits is not None:
                self.limits.check_time(when)

    def __repr__(self) -> str:
        return f"Clock(now={self._now:.3f})"


class RealTimeClock(Clock):
    """World time that follows the wall clock, `speed` times faster."""

    __slots__ = ("_started", "speed")

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__()
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self._started = time.monotonic()
        self.speed = speed

    def now(self) -> float:
        return (time.monotonic() - self._started) * self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.speed)

    def advance_to(self, when: float) -> None:
        self.sleep(when - self.now())
