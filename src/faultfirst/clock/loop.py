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

Closing never depends on the garbage collector doing anything but enqueue a
sentinel: a finalizer that joins a thread can deadlock when the collector runs
it inside another thread's start-up, where `threading` holds a lock that
joining needs too (tests/test_world_close.py reproduces that).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import inspect
import queue
import selectors
import threading
import weakref
from collections.abc import Awaitable
from typing import Any, TypeVar

from .limits import Runaway
from .virtual import Clock, RealTimeClock

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


class _LoopThread:
    """The one thread that runs a world's loop: it takes work from a queue and closes the loop itself.

    Nothing here ever joins, waits or takes a lock on behalf of the garbage collector. A collected world's
    finalizer only puts a stop sentinel on a `queue.SimpleQueue` (whose `put` is safe to call from a
    finalizer, even one the collector runs in the middle of another thread's start-up); the thread then
    closes the loop and ends on its own. A daemon thread, so it never holds up the interpreter's exit.
    """

    _STOP = None

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._work: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Awaitable[Any]] | None]
        self._work = queue.SimpleQueue()
        self._thread = threading.Thread(target=_serve, args=(loop, self._work), name="faultfirst-world", daemon=True)
        self._thread.start()

    def submit(self, awaitable: Awaitable[T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._work.put((future, awaitable))
        return future

    def is_current(self) -> bool:
        """Whether the caller is this thread, i.e. code the loop is running (which must `await`, not run)."""
        return threading.current_thread() is self._thread

    def stop(self) -> None:
        """Ask the thread to close the loop and end; returns at once (safe in a finalizer)."""
        self._work.put(self._STOP)

    def join(self) -> None:
        """Wait for the thread to end (explicit close only; never from a finalizer or the thread itself)."""
        if not self.is_current():
            self._thread.join()


def _serve(loop: VirtualTimeLoop, work: queue.SimpleQueue[Any]) -> None:
    """The loop thread's body: run each awaitable handed over, until told to stop; then close the loop."""
    try:
        while True:
            try:
                if (item := work.get()) is _LoopThread._STOP:
                    break
                _run_one(loop, *item)
                del item  # hold nothing of the last run (its world, its result) while idle
            except Runaway:
                continue  # an interruption that arrived just after the run it was meant for had ended
    finally:
        loop.close()


_HANDLER_SLICE_SECONDS = 0.05

# The loop threads running code right now, which a check's watchdog may interrupt (see below).
_RUNNING: set[int] = set()


def _run_one(loop: VirtualTimeLoop, future: concurrent.futures.Future[T], awaitable: Awaitable[T]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    _RUNNING.add(threading.get_ident())
    try:
        result = _run_to_completion(loop, awaitable)
    except BaseException as err:
        future.set_exception(err)
    else:
        future.set_result(result)
    finally:
        _RUNNING.discard(threading.get_ident())


def interrupt_running_loops(exception: type[BaseException]) -> None:
    """Raise `exception` in every loop thread that is running code now, at its next Python instruction.

    For a check's watchdog: a learner coroutine that spins without awaiting (`while True: pass`) never
    gives the loop back, so cancelling its task cannot stop it; only an exception raised in its thread can.
    (CPython's PyThreadState_SetAsyncExc; the thread's `_serve` loop survives one that arrives late.)
    """
    for ident in list(_RUNNING):
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exception))


def _run_to_completion(loop: VirtualTimeLoop, awaitable: Awaitable[T]) -> T:
    try:
        return loop.run_until_complete(awaitable)
    finally:
        # The SDKs' async streams hold their own generator (`self._iterator = self.__stream__()`),
        # a reference cycle that only the cyclic GC frees, at some arbitrary later moment. Free such
        # generators now, while this loop can still run their `aclose()`, and let that finish.
        loop.run_until_complete(_finish_generator_finalizers())


class LoopRunner:
    """Owns a world's virtual-time loop and the one thread that runs it; both end with the world.

    `close()` ends them now and waits; if nobody calls it, collecting the runner (with its world) asks
    the thread to end without waiting for it.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._loop: VirtualTimeLoop | None = None
        self._thread: _LoopThread | None = None
        self._closed = False

    @property
    def loop(self) -> VirtualTimeLoop:
        if self._closed:
            raise RuntimeError("this world is closed: make a new World to run more code")
        if self._loop is None:
            self._loop = VirtualTimeLoop(self._clock)
            self._thread = _LoopThread(self._loop)
            weakref.finalize(self, self._thread.stop)
        return self._loop

    def run(self, awaitable: Awaitable[T]) -> T:
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"world.run() takes an awaitable, such as world.run(main()), got {type(awaitable).__name__}; "
                "did you pass the function instead of calling it?"
            )
        try:
            self.loop  # noqa: B018 - made on first use; raises once the world is closed
        except RuntimeError:
            _discard(awaitable)
            raise
        assert self._thread is not None  # made with the loop
        if self._thread.is_current():
            _discard(awaitable)
            raise RuntimeError("world.run() was called from code that world.run() is already running; "
                               "inside a coroutine, use `await` instead")
        future = self._thread.submit(awaitable)
        while True:
            # Wait in short slices, not one long wait: a signal whose handler runs in this thread (Ctrl-C in a
            # kernel, a check's watchdog) may be delivered to the loop's thread, and a thread blocked in one
            # uninterrupted wait would never run it. The result is returned the moment it is set.
            # (Not `future.result(timeout=...)`: its TimeoutError is the builtin one, which the awaitable may
            # have raised itself, as `asyncio.timeout` does.)
            if concurrent.futures.wait((future,), timeout=_HANDLER_SLICE_SECONDS).done:
                return future.result()

    def close(self) -> None:
        """Stop the loop's thread, wait for it, and close the loop. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._thread.stop()
            self._thread.join()


def _discard(awaitable: Awaitable[Any]) -> None:
    """Close a coroutine that will never run, so Python does not warn that it was never awaited."""
    if asyncio.iscoroutine(awaitable):
        awaitable.close()
