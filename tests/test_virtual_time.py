"""Virtual time: latency, timeouts, SDK retries, tenacity and asyncio all run on the world's clock."""

from __future__ import annotations

import asyncio
import itertools
import time

import anthropic
import openai
import pytest
import tenacity

from faultfirst import World
from tests.conftest import ask


def test_latency_advances_the_clock_and_is_logged(world):
    """A call moves the clock by its latency and leaves one record with that latency."""
    world.openai().chat.completions.create(model="gpt-fast", messages=ask("hello"))
    [record] = world.requests
    assert record.status == 200 and record.latency > 0
    assert world.clock.now() == pytest.approx(record.start + record.latency)


def test_a_long_call_takes_no_real_time():
    """Two hundred strong-model calls cost minutes of virtual time but well under a few seconds of real time."""
    world = World(seed=1)
    client = world.anthropic()
    started = time.perf_counter()
    for _ in range(200):
        client.messages.create(model="claude-strong", max_tokens=400, messages=ask("Write a long explanation."))
    assert world.clock.now() > 200 * 1.0
    assert time.perf_counter() - started < 5


def test_timeout_raises_api_timeout_error_after_exactly_the_timeout(world):
    """A request slower than the SDK's timeout costs the timeout and raises APITimeoutError."""
    with pytest.raises(openai.APITimeoutError):
        world.openai(timeout=0.05).chat.completions.create(model="gpt-strong", messages=ask("Explain backoff."))
    [record] = world.requests
    assert record.status is None and record.error == "timeout"
    assert world.clock.now() == pytest.approx(0.05) and record.latency == pytest.approx(0.05)
    assert record.cost_usd > 0  # the provider went on generating, so the attempt is still billed


def test_per_request_timeout_reaches_the_transport(world):
    """with_options(timeout=...) and a per-call timeout both set the read timeout the world enforces."""
    client = world.anthropic()
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model="claude-strong", max_tokens=100, messages=ask("hi"), timeout=0.01)
    assert world.clock.now() == pytest.approx(0.01)


def test_sdk_retries_sleep_on_the_virtual_clock():
    """With max_retries, the sync SDK's back-off sleeps move the world's clock, not the wall clock."""
    world = World(seed=3, scenario="outage")  # OpenAI returns 503 for the first 20 minutes
    client = world.openai(max_retries=4)
    started = time.perf_counter()
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-fast", messages=ask("hi"))
    assert [r.status for r in world.requests] == [503] * 5
    gaps = [b.start - a.end for a, b in itertools.pairwise(world.requests)]
    # openai 3.x: 0.5 * 2**n seconds, reduced by up to 25% jitter (openai/_base_client.py)
    for n, gap in enumerate(gaps):
        assert 0.5 * 2**n * 0.75 <= gap <= 0.5 * 2**n
    assert time.perf_counter() - started < 1


def test_sdk_retry_jitter_is_seeded():
    """Two worlds with the same seed retry after exactly the same back-off delays."""
    def delays(seed):
        world = World(seed=seed, scenario="outage")
        with pytest.raises(openai.InternalServerError):
            world.openai(max_retries=3).chat.completions.create(model="gpt-fast", messages=ask("hi"))
        return [r.start for r in world.requests]
    assert delays(5) == delays(5) != delays(6)


def test_a_plain_client_still_sleeps_for_real(monkeypatch):
    """The SDK's sleep is routed only for simulated clients; a client with its own transport is untouched."""
    import httpx2

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    World()  # installs the routing

    def handler(request):
        return httpx2.Response(503, json={"error": {"message": "down"}})

    client = openai.OpenAI(api_key="test", max_retries=1,
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-fast", messages=ask("hi"))
    assert len(slept) == 1 and 0.375 <= slept[0] <= 0.5


def test_tenacity_waits_on_the_world_clock():
    """tenacity's sleep= hook takes world.clock.sleep; its waits then show as virtual time."""
    world = World(seed=0, scenario="outage")
    client = world.openai()

    @tenacity.retry(wait=tenacity.wait_fixed(30), stop=tenacity.stop_after_attempt(3), sleep=world.clock.sleep,
                    retry=tenacity.retry_if_exception_type(openai.InternalServerError), reraise=True)
    def call():
        return client.chat.completions.create(model="gpt-fast", messages=ask("hi"))

    with pytest.raises(openai.InternalServerError):
        call()
    starts = [r.start for r in world.requests]
    assert len(starts) == 3 and starts[2] - starts[1] == pytest.approx(30 + world.requests[1].latency)


def test_asyncio_sleep_and_loop_time_are_virtual(world):
    """Under world.run, loop.time() is the world's clock and asyncio.sleep advances it instantly."""
    async def main():
        loop = asyncio.get_running_loop()
        before = loop.time()
        await asyncio.sleep(3600)
        return before, loop.time()

    started = time.perf_counter()
    before, after = world.run(main())
    assert (before, after) == (0.0, 3600.0) and world.clock.now() == 3600.0
    assert time.perf_counter() - started < 1


def test_concurrent_async_calls_overlap_in_virtual_time():
    """Ten concurrent calls take about as long as the slowest, not the sum."""
    world = World(seed=2)
    client = world.async_openai()

    async def main():
        return await asyncio.gather(*(client.chat.completions.create(model="gpt-fast", messages=ask(f"q{i}"))
                                      for i in range(10)))

    results = world.run(main())
    assert len(results) == 10
    latencies = [r.latency for r in world.requests]
    assert world.clock.now() == pytest.approx(max(latencies))
    assert world.clock.now() < sum(latencies) / 3


def test_world_run_works_inside_a_running_loop():
    """world.run works where an event loop already runs (as in Jupyter)."""
    world = World()
    client = world.async_anthropic()

    async def lesson():
        return await client.messages.create(model="claude-fast", max_tokens=50, messages=ask("hi"))

    async def jupyter_cell():
        return world.run(lesson())

    message = asyncio.run(jupyter_cell())
    assert message.usage.output_tokens > 0


def test_async_sdk_retries_sleep_in_virtual_time():
    """The async SDK's own retry sleeps run on the world's loop, so they cost virtual time only."""
    world = World(seed=3, scenario="outage")
    client = world.async_openai(max_retries=2)

    async def main():
        return await client.chat.completions.create(model="gpt-fast", messages=ask("hi"))

    started = time.perf_counter()
    with pytest.raises(openai.InternalServerError):
        world.run(main())
    assert len(world.requests) == 3 and world.clock.now() > 0.5
    # Real sleeps would take at least 0.375 + 0.75 s (the SDK's back-off, jitter included); these took none.
    assert time.perf_counter() - started < 1.1


def test_awaiting_a_world_client_outside_world_run_is_a_clear_error(world):
    """An async world client used on a foreign loop says to use world.run instead of waiting for real."""
    client = world.async_openai()
    with pytest.raises(RuntimeError, match=r"world\.run"):
        asyncio.run(client.chat.completions.create(model="gpt-fast", messages=ask("hi")))


def test_world_run_rejects_a_function(world):
    """Passing the coroutine function instead of calling it gets a hint."""
    async def main():
        return 1
    with pytest.raises(TypeError, match="did you pass the function"):
        world.run(main)


def test_cancelled_request_is_recorded():
    """Cancelling an in-flight async call (asyncio.timeout) records it as cancelled, with no status."""
    world = World(seed=0)
    client = world.async_openai()

    async def main():
        async with asyncio.timeout(0.01):
            await client.chat.completions.create(model="gpt-strong", messages=ask("slow please"))

    with pytest.raises(TimeoutError):
        world.run(main())
    [record] = world.requests
    assert record.status is None and record.error == "cancelled" and record.latency == pytest.approx(0.01)


def test_nested_world_run_is_a_clear_error(world):
    """Calling world.run inside a coroutine it runs says to await instead (rather than deadlocking)."""
    async def inner():
        return 1

    async def outer():
        return world.run(inner())

    with pytest.raises(RuntimeError, match="use `await` instead"):
        world.run(outer())
    assert world.run(inner()) == 1  # the world is still usable


def test_tenacity_stop_after_delay_counts_virtual_time():
    """With sleep=world.clock.sleep, tenacity's stop_after_delay measures the world's clock, not the wall clock."""
    world = World(seed=0, scenario="outage")
    client = world.openai()
    retrying = tenacity.Retrying(wait=tenacity.wait_fixed(10), stop=tenacity.stop_after_delay(60),
                                 sleep=world.clock.sleep, reraise=True,
                                 retry=tenacity.retry_if_exception_type(openai.InternalServerError))
    with pytest.raises(openai.InternalServerError):
        retrying(client.chat.completions.create, model="gpt-fast", messages=ask("hi"))
    assert 60 <= world.clock.now() < 75 and 6 <= len(world.requests) <= 8


def test_async_tenacity_stop_after_delay_counts_virtual_time():
    """AsyncRetrying under world.run sleeps with asyncio and measures with the world's loop clock."""
    world = World(seed=0, scenario="outage")
    client = world.async_openai()

    async def main():
        async for attempt in tenacity.AsyncRetrying(wait=tenacity.wait_fixed(10), stop=tenacity.stop_after_delay(60),
                                                    reraise=True):
            with attempt:
                await client.chat.completions.create(model="gpt-fast", messages=ask("hi"))

    started = time.perf_counter()
    with pytest.raises(openai.InternalServerError):
        world.run(main())
    assert 60 <= world.clock.now() < 75 and time.perf_counter() - started < 2


def test_tenacity_without_a_world_uses_real_time():
    """A tenacity policy that does not sleep on a world clock keeps the real monotonic clock."""
    World()  # installs the routing
    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(2), sleep=lambda s: None, reraise=True)
    before = time.monotonic()
    with pytest.raises(ValueError):
        retrying(lambda: (_ for _ in ()).throw(ValueError("x")))
    assert retrying.statistics["start_time"] >= before


def test_async_streams_and_dropped_worlds_leave_nothing_behind():
    """Streams consumed under world.run, then worlds collected: nothing on stderr (no pending task, no unclosed
    loop)."""
    import os
    import subprocess
    import sys

    script = (
        "import asyncio, gc\n"
        "from faultfirst import World\n"
        "w = World(seed=0, scenario='overloaded')\n"
        "c = w.async_openai()\n"
        "async def main():\n"
        "    out = []\n"
        "    for i in range(20):\n"
        "        try:\n"
        "            s = await c.chat.completions.create(model='gpt-fast', "
        "messages=[{'role': 'user', 'content': str(i)}], stream=True)\n"
        "            out.append(''.join([x.choices[0].delta.content or '' async for x in s if x.choices]))\n"
        "        except Exception as e:\n"
        "            out.append(type(e).__name__)\n"
        "    return out\n"
        "print(len(w.run(main())))\n"
        "del w, c\n"
        "for i in range(20):\n"
        "    World(seed=i).run(asyncio.sleep(1))\n"
        "gc.collect()\n"
    )
    # Every warning shown (an unclosed loop is a ResourceWarning, silent by default) and asyncio's debug checks
    # on; not the whole of -X dev, whose debug memory allocator made this test a third slower.
    result = subprocess.run([sys.executable, "-W", "default", "-c", script], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONASYNCIODEBUG": "1"})
    assert result.stdout.strip() == "20" and result.stderr == "", result.stderr
