"""Pins the SDK, asyncio and simulator facts the lesson "Tail latency and hedged requests" (book/tier2/hedging.md)
states.

SDK facts are pinned against `httpx2.MockTransport` (the SDKs' own code, whatever the
world does); asyncio facts run on a world's virtual-time loop, so they take no real
time; what a learner sees in the world (how a cancelled or closed attempt is recorded
and billed) is pinned against the world and marked as the simulator's policy.
The async SDKs' retry sleep (`anyio.sleep`) is pinned in tests/test_sdk_facts.py.
"""

from __future__ import annotations

import asyncio
import inspect

import anthropic
import anthropic._base_client
import httpx2
import openai
import openai._base_client
import openai._httpx2
import pytest

from faultfirst import World
from tests.conftest import ask

_SSE = {"content-type": "text/event-stream"}
_CHUNK = (b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m",'
          b'"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n\n')
_MESSAGE_START = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message",'
                  b'"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
                  b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n')


class _Hanging:
    """An async MockTransport handler that never answers; it counts the requests that reach it."""

    def __init__(self) -> None:
        self.requests = 0
        self.arrived = asyncio.Event()

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        self.arrived.set()
        await asyncio.Event().wait()  # never set: only cancellation ends this
        raise AssertionError("unreachable")


class _OneEventThenSilence(httpx2.AsyncByteStream):
    """A streamed body that sends one event and then nothing, until it is closed."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.closed = False

    async def __aiter__(self):
        yield self.first
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


def _async_client(sdk: str, handler, **options):
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    cls = openai.AsyncOpenAI if sdk == "openai" else anthropic.AsyncAnthropic
    client = cls(api_key="test", http_client=http, **options)
    module = openai._base_client if sdk == "openai" else anthropic._base_client
    client._platform = module.get_platform()  # skip the worker-thread lookup (pinned in tests/test_sdk_facts.py)
    return client


def _create(sdk: str, client, **extra):
    if sdk == "openai":
        return client.chat.completions.create(model="m", messages=ask("hi"), **extra)
    return client.messages.create(model="m", max_tokens=10, messages=ask("hi"), **extra)


SDKS = ["openai", "anthropic"]


@pytest.mark.parametrize("sdk", SDKS)
def test_cancelling_a_call_raises_cancelled_error_unwrapped_and_unretried(sdk):
    """Cancelling a task awaiting an async create() ends it cancelled after one request: not wrapped, not retried."""
    handler = _Hanging()
    client = _async_client(sdk, handler, max_retries=2)

    async def main():
        task = asyncio.create_task(_create(sdk, client))
        await handler.arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task

    task = asyncio.run(main())
    assert task.cancelled() and handler.requests == 1


def test_the_async_request_loops_catch_nothing_a_cancellation_is():
    """openai catches httpx2 timeout/request/status errors and OpenAIError; anthropic catches Exception: CancelledError
    is none of them."""
    cancelled = asyncio.CancelledError
    assert issubclass(cancelled, BaseException) and not issubclass(cancelled, Exception)
    caught = (*openai._httpx2.timeout_exceptions(), *openai._httpx2.request_exceptions(),
              *openai._httpx2.status_exceptions(), openai.OpenAIError)
    assert not issubclass(cancelled, caught)
    openai_loop = inspect.getsource(openai._base_client.AsyncAPIClient.request)
    for clause in ("except timeout_exceptions() as err:", "except OpenAIError as err:",
                   "except request_exceptions() as err:", "except status_exceptions() as err:"):
        assert clause in openai_loop
    assert "except BaseException" not in openai_loop
    anthropic_loop = inspect.getsource(anthropic._base_client.AsyncAPIClient._request)
    assert "except Exception as err:" in anthropic_loop and "except BaseException" not in anthropic_loop


@pytest.mark.parametrize("sdk, first", [("openai", _CHUNK), ("anthropic", _MESSAGE_START)])
def test_async_stream_close_closes_the_http_response(sdk, first):
    """AsyncStream.close() awaits response.aclose(), and leaving `async with stream:` calls it, mid-stream too."""
    body = _OneEventThenSilence(first)
    client = _async_client(sdk, lambda request: httpx2.Response(200, headers=_SSE, stream=body, request=request))

    async def main():
        stream = await _create(sdk, client, stream=True)
        async with stream:
            await stream.__anext__()
        return stream

    stream = asyncio.run(main())
    assert stream.response.is_closed and body.closed
    stream_cls = openai.AsyncStream if sdk == "openai" else anthropic.AsyncStream
    assert "await self.response.aclose()" in inspect.getsource(stream_cls.close)
    assert "await self.close()" in inspect.getsource(stream_cls.__aexit__)


def test_only_openai_async_stream_has_an_aclose_alias():
    """openai.AsyncStream has aclose() (an alias of close()); anthropic.AsyncStream has close() only."""
    assert hasattr(openai.AsyncStream, "aclose") and hasattr(openai.AsyncStream, "close")
    assert not hasattr(anthropic.AsyncStream, "aclose") and hasattr(anthropic.AsyncStream, "close")


@pytest.mark.parametrize("sdk, first", [("openai", _CHUNK), ("anthropic", _MESSAGE_START)])
def test_cancelling_the_reader_of_an_async_stream_closes_it(sdk, first):
    """A task cancelled while iterating an AsyncStream closes the response: the SDK's generator does it in a
    `finally`."""
    body = _OneEventThenSilence(first)
    client = _async_client(sdk, lambda request: httpx2.Response(200, headers=_SSE, stream=body, request=request))
    got_one = asyncio.Event()

    async def read(stream):
        async for _ in stream:
            got_one.set()

    async def main():
        stream = await _create(sdk, client, stream=True)
        task = asyncio.create_task(read(stream))
        await got_one.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return stream

    stream = asyncio.run(main())
    assert stream.response.is_closed and body.closed
    stream_cls = openai.AsyncStream if sdk == "openai" else anthropic.AsyncStream
    assert "finally:" in inspect.getsource(stream_cls.__stream__)


# -- asyncio (Python 3.11), on a world's virtual-time loop ---------------------------------------------------------


def test_asyncio_wait_with_a_timeout_cancels_nothing():
    """asyncio.wait(..., timeout=t) returns (done, pending) after t seconds and leaves the pending task running."""
    world = World()

    async def main():
        task = asyncio.create_task(asyncio.sleep(10, result="late"))
        done, pending = await asyncio.wait({task}, timeout=2)
        state = (done, pending == {task}, task.cancelled(), asyncio.get_running_loop().time())
        return state, await task

    (done, still_pending, cancelled, at), result = world.run(main())
    assert done == set() and still_pending and not cancelled and at == 2 and result == "late"


def test_first_completed_counts_a_failure_as_completed():
    """return_when=FIRST_COMPLETED returns as soon as any task finishes, also by raising."""
    world = World()

    async def fail_soon():
        await asyncio.sleep(1)
        raise ValueError("failed")

    async def main():
        failing, slow = asyncio.create_task(fail_soon()), asyncio.create_task(asyncio.sleep(5))
        done, pending = await asyncio.wait({failing, slow}, return_when=asyncio.FIRST_COMPLETED)
        slow.cancel()
        await asyncio.gather(slow, return_exceptions=True)
        return done == {failing}, pending == {slow}, type(failing.exception()).__name__

    assert world.run(main()) == (True, True, "ValueError")


def test_cancel_only_requests_and_gather_lets_it_finish():
    """task.cancel() returns at once with the task not yet done; gather(..., return_exceptions=True) waits and returns
    the CancelledError."""
    world = World()

    async def main():
        task = asyncio.create_task(asyncio.sleep(10))
        await asyncio.sleep(0)
        task.cancel()
        right_after = task.done()
        [outcome] = await asyncio.gather(task, return_exceptions=True)
        return right_after, task.cancelled(), type(outcome)

    assert world.run(main()) == (False, True, asyncio.CancelledError)


def test_cancelling_a_waiter_leaves_the_tasks_it_waits_on_running():
    """A task cancelled inside asyncio.wait (as by an asyncio.timeout around it) does not cancel the tasks it waited
    on."""
    world = World()

    async def waiter(inner):
        await asyncio.wait({inner})

    async def main():
        inner = asyncio.create_task(asyncio.sleep(10, result="finished anyway"))
        try:
            async with asyncio.timeout(1):
                await waiter(inner)
        except TimeoutError:
            pass
        return inner.done(), await inner

    assert world.run(main()) == (False, "finished anyway")


# -- the simulated world's policy (not the real APIs') ------------------------------------------------------------


def test_world_bills_a_cancelled_non_streaming_attempt_in_full():
    """Simulator: a cancelled non-streaming attempt is logged with error 'cancelled', no status, and the cost of its
    whole reply."""
    full = World(seed=4)
    full.openai().chat.completions.create(model="gpt-fast", max_tokens=300, messages=ask("Explain hedging."))
    world = World(seed=4)
    client = world.async_openai()

    async def main():
        task = asyncio.create_task(client.chat.completions.create(model="gpt-fast", max_tokens=300,
                                                                  messages=ask("Explain hedging.")))
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    world.run(main())
    [record], [whole] = world.requests, full.requests
    assert (record.status, record.error, record.latency) == (None, "cancelled", pytest.approx(0.2))
    assert record.output_tokens == whole.output_tokens and record.cost_usd == whole.cost_usd > 0


def test_world_bills_a_stream_closed_early_for_the_tokens_delivered():
    """Simulator: a stream whose reader stops early is logged 'closed by client' and billed for the tokens sent so
    far."""
    full = World(seed=4)
    list(full.openai().chat.completions.create(model="gpt-fast", max_tokens=300, messages=ask("Explain hedging."),
                                               stream=True))
    world = World(seed=4)
    client = world.async_openai()

    async def main():
        stream = await client.chat.completions.create(model="gpt-fast", max_tokens=300,
                                                      messages=ask("Explain hedging."), stream=True)
        async with stream:
            for _ in range(10):
                await stream.__anext__()

    world.run(main())
    [record], [whole] = world.requests, full.requests
    assert record.error == "closed by client" and 0 < record.output_tokens < whole.output_tokens
    assert record.cost_usd < whole.cost_usd


def test_world_bills_a_stream_cancelled_before_its_first_byte_in_full():
    """Simulator: a streaming attempt cancelled before its response head arrives is logged 'cancelled' and billed in
    full."""
    full = World(seed=4)
    list(full.openai().chat.completions.create(model="gpt-fast", max_tokens=300, messages=ask("Explain hedging."),
                                               stream=True))
    world = World(seed=4)
    client = world.async_openai()

    async def main():
        task = asyncio.create_task(client.chat.completions.create(model="gpt-fast", max_tokens=300,
                                                                  messages=ask("Explain hedging."), stream=True))
        await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    world.run(main())
    [record], [whole] = world.requests, full.requests
    assert record.error == "cancelled" and record.cost_usd == whole.cost_usd


def test_world_latency_tail_is_independent_per_attempt():
    """Simulator: 3% of attempts take the 4-12x slow path, drawn afresh for every attempt
    (src/faultfirst/service/latency.py)."""
    from faultfirst.service import latency as _latency

    assert _latency._SLOW_PATH_SHARE == 0.03 and _latency._SLOW_PATH_FACTOR == (4.0, 12.0)
    source = inspect.getsource(_latency.LatencyModel.sample)
    assert "slow = rng.random() < _SLOW_PATH_SHARE" in source


def test_neither_sdk_hedges_by_itself():
    """No source file of the installed openai or anthropic package mentions hedging: the SDKs retry, they never
    hedge."""
    from pathlib import Path

    for package in (openai, anthropic):
        assert package.__file__
        root = Path(package.__file__).parent
        assert not [p for p in root.rglob("*.py") if b"hedg" in p.read_bytes().lower()]  # bytes: 7x faster


def test_world_correlated_tail_is_opt_in_and_shared_by_every_attempt_in_a_minute():
    """Simulator: with Scenario.correlated_tail (in no named scenario) 3% of minutes are slow, 4-12x, for every attempt
    in them; the per-attempt draws are unchanged."""
    from faultfirst import SCENARIOS
    from faultfirst.model.catalog import CATALOG
    from faultfirst.service.latency import LatencyModel

    assert not any(s.correlated_tail for s in SCENARIOS.values())
    spec = CATALOG["gpt-fast"]
    shared = LatencyModel(5, drift=False, correlated_tail=True)
    factors = [shared.slow_factor(minute * 60.0) for minute in range(3000)]
    slow = [f for f in factors if f > 1]
    assert 0.025 < len(slow) / len(factors) < 0.035 and all(4 <= f <= 12 for f in slow)
    assert LatencyModel(5, drift=False).slow_factor(0) == 1.0  # off: no minute is slow, nothing is drawn
    slow_minute, fast_minute = 60.0 * factors.index(slow[0]), 60.0 * factors.index(1.0)
    for t, factor in ((slow_minute, slow[0]), (fast_minute, 1.0)):
        plain, correlated = LatencyModel(5, drift=False), LatencyModel(5, drift=False, correlated_tail=True)
        ratios = [correlated.sample(spec, t + i % 60).total(100) / plain.sample(spec, t + i % 60).total(100)
                  for i in range(1000)]
        # the same body draw for each attempt; only attempts the plain model sent down its own slow path differ
        assert sum(r == pytest.approx(factor) for r in ratios) > 950
