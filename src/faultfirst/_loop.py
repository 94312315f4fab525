"""An asyncio event loop that runs on the world's virtual clock.

The loop's `time()` is the world's clock. When the loop has nothing ready and
would block until its next timer, the selector moves the clock to that timer
instead of waiting, so `asyncio.sleep(30)` returns at once with 30 virtual
seconds gone. Real I/O readiness (the loop's self-pipe, used when another
thread hands it work) is still checked first, without blocking.

The loop runs in a worker thread of its own, which is what lets `world.run`
work inside Jupyter, where the main thread already runs an event loop. It only
runs while a `world.run` call waits on it, so leftover timers never move
virtual time behind a lesson's back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import selectors
from collections.abc import Awaitable
from typing import Any, TypeVar

from ._clock import Clock

T = TypeVar("T")


class _VirtualTimeSelector(selectors.BaseSelector):
    """A selector that skips ahead in virtual time instead of blocking on a timer."""

    def __init__(self, clock: Clock) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # No timer at all: only another thread can bring work, so wait for it for real.
            return self._real.select(None)
        self._clock.advance_to(self._clock.now() + timeout)
        return []

    def close(self) -> None:
        self._real.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.get_key(fileobj)

    def get_map(self) -> Any:
        return self._real.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose time is the world's clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(selector=_VirtualTimeSelector(clock))
        self._virtual_clock = clock

    def time(self) -> float:
        return self._virtual_clock.now()


class LoopRunner:
    """Owns a world's virtual-time loop and the one thread that runs it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._loop: VirtualTimeLoop | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def loop(self) -> VirtualTimeLoop:
        if self._loop is None:
            self._loop = VirtualTimeLoop(self._clock)
        return self._loop

    def run(self, awaitable: Awaitable[T]) -> T:
        if not asyncio.iscoroutine(awaitable) and not asyncio.isfuture(awaitable):
            raise TypeError(
                f"world.run() takes a coroutine, such as world.run(main()), got {type(awaitable).__name__}; "
                "did you pass the function instead of calling it?"
            )
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="faultfirst-world")
        loop = self.loop
        return self._thread.submit(loop.run_until_complete, awaitable).result()
