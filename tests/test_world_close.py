"""A world's loop thread ends without the garbage collector ever waiting on anything.

The bug this guards against (seen as a hung test suite): a collected world's finalizer joined its loop
thread. When the collector ran that finalizer inside another thread's start-up, where `threading` holds
`_shutdown_locks_lock`, the join needed the same lock and the thread deadlocked on itself.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import textwrap
import threading

import pytest

from faultfirst import World

_COLLECTED_UNDER_PRESSURE = textwrap.dedent('''
    import asyncio, faulthandler, gc, sys, threading
    faulthandler.dump_traceback_later(30, exit=True)   # a hang prints every stack and fails the test
    from faultfirst import World

    def garbage_world(seed):
        world = World(seed=seed)
        world.run(asyncio.sleep(0))   # its loop thread is running
        world.cycle = world           # only the cyclic collector can free it

    # 1. Exactly the deadlock's conditions: the collector runs while a starting thread would hold this lock.
    garbage_world(0)
    with threading._shutdown_locks_lock:
        gc.collect()

    # 2. Many times, under GC pressure, while other threads start and end.
    before = threading.active_count()
    gc.set_threshold(5, 1, 1)
    stop = threading.Event()
    def start_threads():
        while not stop.is_set():
            t = threading.Thread(target=lambda: [object() for _ in range(20)]); t.start(); t.join()
    starters = [threading.Thread(target=start_threads) for _ in range(3)]
    for s in starters: s.start()
    for seed in range(1, 121):
        garbage_world(seed)
    stop.set()
    for s in starters: s.join()
    gc.collect()
    print("collected", 121)
''')


def test_worlds_collected_while_threads_start_never_deadlock():
    """Run in a fresh interpreter, so a deadlock (the old bug) fails with stacks instead of hanging pytest."""
    done = subprocess.run([sys.executable, "-c", _COLLECTED_UNDER_PRESSURE], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "collected 121" in done.stdout, done.stderr[-3000:]


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "faultfirst-world"]


def test_close_ends_the_loop_thread_and_is_idempotent():
    # By identity, not by count: a world an earlier test dropped may still be ending its thread meanwhile.
    before = set(_loop_threads())
    world = World(seed=1)
    assert world.run(asyncio.sleep(1, result="slept")) == "slept"
    started = set(_loop_threads()) - before
    assert len(started) == 1
    world.close()
    world.close()
    assert not started.pop().is_alive()
    assert world.clock.now() == 1.0 and world.requests == []  # what the world saw stays readable


def test_a_closed_world_refuses_to_run_and_says_why():
    world = World(seed=2)
    world.close()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="this world is closed"):
        world.run(coro)
    # closed, so Python does not warn that it was never awaited
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_with_block_closes_the_world():
    with World(seed=3) as world:
        world.run(asyncio.sleep(0))
        thread = _loop_threads()[-1]
    assert not thread.is_alive()


def test_a_dropped_world_ends_its_thread_on_its_own():
    """Collection only asks the thread to stop; it then closes its loop and ends without anyone joining it."""
    import gc

    world = World(seed=4)
    world.run(asyncio.sleep(0))
    thread = _loop_threads()[-1]
    vars(world)["cycle"] = world  # a reference cycle: only the collector frees this world
    del world
    gc.collect()
    thread.join(timeout=10)  # the test may wait; the collector never does
    assert not thread.is_alive()


def test_run_passes_on_a_timeout_error_the_coroutine_raised():
    """world.run waits in slices; the builtin TimeoutError it may see from its wait is never confused with one
    the coroutine raised (as asyncio.timeout does), which must reach the caller at once."""
    world = World(seed=5)

    async def times_out():
        async with asyncio.timeout(1.0):
            await asyncio.sleep(5)

    with pytest.raises(TimeoutError):
        world.run(times_out())
    assert world.clock.now() == 1.0
