"""An asyncio event loop that runs on the world's virtual clock.

The loop's `time()` is the world's clock. When the loop has nothing ready and
would block until its next timer, the selector moves the clock to that timer
instead of waiting, so `asyncio.sleep(30)` returns at once with 30 virtual
seconds gone. Real I/O readiness (the loop's self-pipe, used when another
thread hands it work) is still checked first, without blocking. On a
real-time clock (live mode) the selector waits on its sockets as any loop does.

The loop runs in a worker thread of its own, which is what lets `world.run`
work inside Jupyter, where the main thread already runs an event loop. It only
runs while a `world.run` call waits on it, so leftover timers never move
virtual time behind a lesson's back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import selectors
import weakref
from collections.abc import Awaitable
from typing import Any, TypeVar

from ._clock import Clock, RealTimeClock

T = TypeVar("T")


class _VirtualTimeSelector(selectors.BaseSelector):
    """A selector that skips ahead in virtual time instead of blocking on a timer."""

    def __init__(self, clock: Clock) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock
        # Live mode: sockets are real, so the loop waits on them for real, in real seconds.
        self._real_speed = clock.speed if isinstance(clock, RealTimeClock) else None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self._real_speed is not None:
            return self._real.select(None if timeout is None else timeout / self._real_speed)
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


async def _finish_generator_finalizers() -> None:
    """Let the `aclose()` tasks of async generators a run dropped finish (they take no virtual time).

    When a stream's async generators are dropped, asyncio schedules their
    `aclose()` as new tasks, which take several turns of the loop. If the loop
    stopped first, they would later print "Task was destroyed but it is
    pending!" into the notebook.
    """
    quiet_turns = 0
    for _ in range(_MAX_SETTLE_TURNS):
        await asyncio.sleep(0)
        busy = any(_is_generator_finalizer(task) for task in asyncio.all_tasks())
        quiet_turns = 0 if busy else quiet_turns + 1
        if quiet_turns == _QUIET_TURNS:  # a finalizer can schedule another: wait for two quiet turns in a row
            return


_MAX_SETTLE_TURNS = 1000
_QUIET_TURNS = 2


def _is_generator_finalizer(task: asyncio.Task[Any]) -> bool:
    """A task asyncio created to run `aclose()` on a dropped async generator."""
    return type(task.get_coro()).__name__ == "async_generator_athrow" and not task.done()


def _close(loop: VirtualTimeLoop, thread: concurrent.futures.ThreadPoolExecutor) -> None:
    """When a world is collected: stop its thread, then close its loop (no "unclosed event loop" warning)."""
    thread.shutdown(wait=True)
    if not loop.is_running():
        loop.close()


class LoopRunner:
    """Owns a world's virtual-time loop and the one thread that runs it; both are closed with the world."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._loop: VirtualTimeLoop | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._closer: weakref.finalize | None = None

    @property
    def loop(self) -> VirtualTimeLoop:
        if self._loop is None:
            self._loop = VirtualTimeLoop(self._clock)
            self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="faultfirst-world")
            self._closer = weakref.finalize(self, _close, self._loop, self._thread)
        return self._loop

    def run(self, awaitable: Awaitable[T]) -> T:
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"world.run() takes an awaitable, such as world.run(main()), got {type(awaitable).__name__}; "
                "did you pass the function instead of calling it?"
            )
        loop = self.loop
        if loop.is_running():
            awaitable.close() if asyncio.iscoroutine(awaitable) else None
            raise RuntimeError("world.run() was called from code that world.run() is already running; "
                               "inside a coroutine, use `await` instead")
        assert self._thread is not None  # made with the loop
        return self._thread.submit(self._run_in_thread, awaitable).result()

    def _run_in_thread(self, awaitable: Awaitable[T]) -> T:
        loop = self.loop
        try:
            return loop.run_until_complete(awaitable)
        finally:
            # The SDKs' async streams hold their own generator (`self._iterator = self.__stream__()`),
            # a reference cycle that only the cyclic GC frees, at some arbitrary later moment. Free such
            # generators now, while this loop can still run their `aclose()`, and let that finish.
            loop.run_until_complete(_finish_generator_finalizers())
