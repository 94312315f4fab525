"""Running a learner's coroutines on a world's virtual-time loop, and cleaning up after them.

The async lessons (hedging, parallelism) hand the check coroutines that may do anything: never await, spin on
`await asyncio.sleep(0)` while the virtual clock stands still, block the loop with `time.sleep`, start tasks and
return without them, swallow cancellation. Whatever they do, a check must answer, report it as the learner's
mistake, and leave no task pending in the world (asyncio would print "Task was destroyed but it is pending!"
into a later cell). Those guards live here once:

- `run_learner` runs one coroutine with a real-time watchdog for a loop that spins without moving the clock,
  and makes `time.sleep` on the world's loop raise instead of blocking it;
- `run_in_world` runs a check's own driver coroutine through `Report.call` (whose watchdog stops CPU spins);
- both end with `cancel_leftovers`, which cancels what the learner left running, on the world's loop, while the
  world is alive: never from a finalizer, since it starts work on the world's thread and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..clock.limits import Runaway
from ..world import World
from ._framework import Report, checked_world

STILL_SECONDS = 5.0  # real seconds a learner's coroutine may run while the virtual clock stands still
_CLEANUP_SECONDS = 1.0  # virtual seconds cancelled tasks get to finish; one that takes longer ignored cancellation


class NotAsync(TypeError):
    """The learner's function returned no coroutine; reported as the TypeError it is."""


NotAsync.__name__ = "TypeError"


def require_awaitable(value: Any, message: str) -> Any:
    """`value` if it can be awaited; else `NotAsync(message)` (a function written with `def`, not `async def`)."""
    if not inspect.isawaitable(value):
        raise NotAsync(message)
    return value


class BlockingSleep(Exception):
    """Learner code called time.sleep on the world's event loop."""


_real_sleep = time.sleep


@contextlib.contextmanager
def _no_sleep_on(state: dict[str, Any]) -> Iterator[None]:
    """While learner code runs, `time.sleep` on the world's loop raises (and is noted); elsewhere it sleeps.

    A blocking sleep there would wait in real time with the virtual clock stopped: seconds per call.
    """
    def sleep(seconds: float) -> None:
        if asyncio._get_running_loop() is state.get("loop") is not None:
            state["blocked"] = True
            raise BlockingSleep("time.sleep() on the event loop blocks it; use await asyncio.sleep()")
        _real_sleep(seconds)

    time.sleep = sleep  # type: ignore[assignment]
    try:
        yield
    finally:
        time.sleep = _real_sleep


def run_learner(world: World, make: Callable[[], Any], *, what: str, state: dict[str, Any] | None = None,
                explain_stub: Callable[[NotImplementedError], Exception | None] | None = None) -> Any:
    """Run the coroutine `make()` returns on the world's loop; stop it if it spins without time moving.

    `state` (if given) receives what the run saw: "blocked" if learner code called time.sleep on the
    loop, "raised" with the exception the learner's coroutine raised. `explain_stub` may turn a stub the
    coroutine met into a clearer error (a stub of an earlier exercise it builds on). Afterwards, whatever the
    learner left running is cancelled.
    """
    state = {} if state is None else state
    finished = threading.Event()

    async def guarded() -> Any:
        state["loop"], state["task"] = asyncio.get_running_loop(), asyncio.current_task()
        coro = make()
        require_awaitable(coro, f"{what} returned {type(coro).__name__}, not a coroutine: define it with `async def`")
        try:
            return await coro
        except NotImplementedError as err:
            clearer = explain_stub(err) if explain_stub is not None else None
            if clearer is not None:
                raise clearer from None
            raise
        except asyncio.CancelledError:
            if state.get("spinning"):
                raise Runaway(f"kept running for {STILL_SECONDS:g} s of real time while the virtual clock stood "
                              "still, as a loop around asyncio.sleep(0) does") from None
            raise
        except Exception as err:
            state["raised"] = err
            raise

    def watch() -> None:  # a daemon thread: it ends on `finished` or after one cancel; nobody joins it
        last, still = world.clock.now(), 0.0
        while not finished.wait(1.0):
            now = world.clock.now()
            last, still = now, (still + 1.0 if now == last else 0.0)
            if still >= STILL_SECONDS and "task" in state:
                state["spinning"] = True
                state["loop"].call_soon_threadsafe(state["task"].cancel)
                return

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()
    try:
        with _no_sleep_on(state):
            return world.run(guarded())
    finally:
        finished.set()
        cancel_leftovers(world)


def run_in_world(report: Report, world: World, main: Callable[[], Any]) -> Any:
    """Run the check's coroutine `main()` in `world` through `report.call`; then cancel what learner code left.

    After a runaway, `report.call` runs nothing more, and the watchdog has interrupted the loop's thread;
    a loop still running then is learner code that swallowed even that, so its world is left alone.
    """
    try:
        return report.call(lambda: world.run(main()))
    finally:
        cancel_leftovers(world)


async def cancel_and_wait(tasks: list[asyncio.Task[Any]], *, timeout: float | None = None) -> None:
    """Cancel `tasks` and wait until they have finished (at most `timeout` virtual seconds, if given).

    Their exceptions are retrieved, so asyncio logs none of them; a task still running at the timeout ignored
    its cancellation and is left, marked so that asyncio does not complain when it is collected.
    """
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    await asyncio.wait(tasks, timeout=timeout)
    for task in tasks:
        if not task.done():
            task._log_destroy_pending = False  # type: ignore[attr-defined]
        elif not task.cancelled():
            task.exception()


def cancel_leftovers(world: World) -> None:
    """Cancel the tasks still pending in `world`, on its loop, while it is alive; the case is over.

    Called explicitly at the end of every run, never from a finalizer: `world.run` starts work on the
    world's thread and waits for it, which code the GC runs must never do.
    """
    if world.loop.is_running():
        return  # learner code that swallowed the watchdog's interruption still runs there: leave that world alone
    world.limits()  # cleaning up must not count as running away

    async def cancel() -> None:
        await cancel_and_wait([t for t in asyncio.all_tasks() if t is not asyncio.current_task()],
                              timeout=_CLEANUP_SECONDS)

    with contextlib.suppress(BaseException):  # best effort: a learner task that fails while cancelled changes nothing
        world.run(cancel())


def quiet_world(**options: Any) -> World:
    """A bounded world (`checked_world`) whose loop does not log what learner mistakes leave behind: the cases
    report it."""
    world = checked_world(**options)
    world.loop.set_exception_handler(lambda loop, context: None)
    return world
