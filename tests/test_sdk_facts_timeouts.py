"""Pins the SDK and library facts the lesson "Timeouts and deadlines" (book/tier2/timeouts.md) states.

The defaults themselves (600 s, connect 5 s, `max_retries=2`) and the back-off formula are
pinned in tests/test_sdk_facts.py and not repeated here. Facts about an SDK's own code are
pinned against `httpx2.MockTransport`, so they hold whatever the simulated world does; facts
about what a learner sees in the world (billing of abandoned attempts, cancellation) are
pinned against the world and say so.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import types

import anthropic
import httpcore2
import httpcore2._backends.sync
import httpx2
import openai
import pytest
import tenacity

from faultfirst import World
from tests.conftest import ask

SDKS = [pytest.param(openai, id="openai"), pytest.param(anthropic, id="anthropic")]


class _Recorder:
    """A MockTransport handler that records each request's timeout extension and answers (or fails) as told."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.timeouts: list[dict[str, float | None]] = []
        self.fail = fail

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.timeouts.append(dict(request.extensions["timeout"]))
        if self.fail is not None:
            raise self.fail
        if request.url.host == "api.openai.com":
            return httpx2.Response(200, json=_CHAT, request=request)
        return httpx2.Response(200, json=_MESSAGE, request=request)


_CHAT = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
_MESSAGE = {"id": "m", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}


def _client(sdk, recorder: _Recorder, **options):
    cls = sdk.OpenAI if sdk is openai else sdk.Anthropic
    options.setdefault("max_retries", 0)
    return cls(api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(recorder)), **options)


def _call(sdk, client, **options):
    if sdk is openai:
        return client.chat.completions.create(model="m", messages=ask("hi"), **options)
    options.setdefault("max_tokens", 100)
    return client.messages.create(model="m", messages=ask("hi"), **options)


def _phases(connect, read, write, pool) -> dict[str, float]:
    return {"connect": connect, "read": read, "write": write, "pool": pool}


# -- where a timeout is set, and how it reaches the request ---------------------------------------------------

@pytest.mark.parametrize("sdk", SDKS)
def test_defaults_are_public_names(sdk):
    """openai.DEFAULT_TIMEOUT / DEFAULT_MAX_RETRIES (and anthropic's) are the _constants values a new client uses."""
    assert sdk.DEFAULT_TIMEOUT == sdk._constants.DEFAULT_TIMEOUT
    assert sdk.DEFAULT_MAX_RETRIES == sdk._constants.DEFAULT_MAX_RETRIES
    client = (sdk.OpenAI if sdk is openai else sdk.Anthropic)(api_key="test")
    assert client.timeout == sdk.DEFAULT_TIMEOUT and client.max_retries == sdk.DEFAULT_MAX_RETRIES


@pytest.mark.parametrize("sdk", SDKS)
def test_default_timeout_reaches_the_request(sdk):
    """With no timeout given, the request carries connect 5 s and read/write/pool 600 s in extensions['timeout']."""
    recorder = _Recorder()
    _call(sdk, _client(sdk, recorder))
    assert recorder.timeouts == [_phases(5.0, 600, 600, 600)]


@pytest.mark.parametrize("sdk", SDKS)
def test_client_with_options_and_per_request_timeouts(sdk):
    """A float timeout sets all four phases; with_options and a per-request timeout= override the client's."""
    recorder = _Recorder()
    client = _client(sdk, recorder, timeout=20)
    _call(sdk, client)
    _call(sdk, client.with_options(timeout=9))
    _call(sdk, client, timeout=3)
    assert recorder.timeouts == [_phases(20, 20, 20, 20), _phases(9, 9, 9, 9), _phases(3, 3, 3, 3)]
    assert client.timeout == 20  # with_options returned a copy


@pytest.mark.parametrize("sdk", SDKS)
def test_httpx2_timeout_separates_the_phases(sdk):
    """httpx2.Timeout(30, connect=2) gives connect 2 s and read, write and pool 30 s."""
    recorder = _Recorder()
    _call(sdk, _client(sdk, recorder, timeout=httpx2.Timeout(30, connect=2)))
    assert recorder.timeouts == [_phases(2, 30, 30, 30)]


def test_read_timeout_bounds_each_read_not_the_whole_response():
    """httpcore2 passes the read timeout to every socket read (settimeout per read): it bounds a silence, not a
    total."""
    http11 = httpcore2._sync.http11.HTTP11Connection
    for method in (http11._receive_response_headers, http11._receive_response_body):
        source = inspect.getsource(method)
        assert 'timeout = timeouts.get("read", None)' in source and "self._receive_event(timeout=timeout)" in source
    assert "self._network_stream.read(self.READ_NUM_BYTES, timeout=timeout)" in inspect.getsource(http11._receive_event)
    assert "self._sock.settimeout(timeout)" in inspect.getsource(httpcore2._backends.sync.SyncStream.read)


# -- what a timeout raises, and what the SDK does with it -----------------------------------------------------

@pytest.mark.parametrize("sdk", SDKS)
def test_a_timeout_raises_api_timeout_error_a_kind_of_connection_error(sdk):
    """An httpx2 timeout becomes APITimeoutError, a subclass of APIConnectionError; other transport errors the
    parent."""
    assert issubclass(sdk.APITimeoutError, sdk.APIConnectionError)
    request = httpx2.Request("POST", "https://example.invalid")
    with pytest.raises(sdk.APITimeoutError):
        _call(sdk, _client(sdk, _Recorder(fail=httpx2.ReadTimeout("slow", request=request))))
    with pytest.raises(sdk.APIConnectionError) as caught:
        _call(sdk, _client(sdk, _Recorder(fail=httpx2.RemoteProtocolError("reset", request=request))))
    assert not isinstance(caught.value, sdk.APITimeoutError)


@pytest.mark.parametrize("sdk", SDKS)
def test_the_sdks_retry_a_timeout_with_the_same_timeout(sdk, slept):
    """With max_retries=2 a timeout is tried 3 times, each with the full timeout, sleeping 0.5 s then 1 s (no
    jitter)."""
    request = httpx2.Request("POST", "https://example.invalid")
    recorder = _Recorder(fail=httpx2.ReadTimeout("slow", request=request))
    with pytest.raises(sdk.APITimeoutError):
        _call(sdk, _client(sdk, recorder, timeout=7, max_retries=2))
    assert [t["read"] for t in recorder.timeouts] == [7, 7, 7]
    assert slept == [0.5, 1.0]  # so the worst case is 3 * timeout + 1.5 s


@pytest.mark.parametrize("sdk", SDKS)
def test_the_sdks_retry_a_connection_error(sdk, monkeypatch):
    """A dropped connection (APIConnectionError) is retried like a timeout: max_retries=2 makes 3 attempts."""
    monkeypatch.setattr(sdk._base_client, "time", _NoSleep("time"))
    request = httpx2.Request("POST", "https://example.invalid")
    recorder = _Recorder(fail=httpx2.RemoteProtocolError("reset", request=request))
    with pytest.raises(sdk.APIConnectionError):
        _call(sdk, _client(sdk, recorder, max_retries=2))
    assert len(recorder.timeouts) == 3


class _NoSleep(types.ModuleType):
    """The real `time`, except that sleep returns at once."""

    def __getattr__(self, name: str):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        pass


def test_overloaded_and_unavailable_are_internal_server_errors():
    """anthropic.OverloadedError (529) and openai's 503 are both InternalServerError, the class for every 5xx."""
    assert issubclass(anthropic.OverloadedError, anthropic.InternalServerError)
    world = World(seed=3, scenario="outage")
    with pytest.raises(openai.InternalServerError) as caught:
        world.openai().chat.completions.create(model="gpt-fast", messages=ask("hi"))
    assert caught.value.status_code == 503


# -- anthropic's own timeout for non-streaming requests -------------------------------------------------------

def test_anthropic_computes_a_timeout_only_when_none_is_given():
    """Only a default-timeout client with no timeout= refuses max_tokens=30,000 non-streaming; any timeout skips the
    rule."""
    recorder = _Recorder()
    with pytest.raises(ValueError, match="Streaming is required"):
        _call(anthropic, _client(anthropic, recorder), max_tokens=30_000)
    assert recorder.timeouts == []  # refused before sending
    _call(anthropic, _client(anthropic, recorder, timeout=30), max_tokens=30_000)
    _call(anthropic, _client(anthropic, recorder), max_tokens=30_000, timeout=45)
    assert [t["read"] for t in recorder.timeouts] == [30, 45]


def test_anthropic_rule_has_lower_per_model_limits():
    """_calculate_nonstreaming_timeout also refuses max_tokens above a per-model limit (MODEL_NONSTREAMING_TOKENS)."""
    client = _client(anthropic, _Recorder())
    assert anthropic._constants.MODEL_NONSTREAMING_TOKENS  # a table of model ids with lower limits
    with pytest.raises(ValueError, match="Streaming is required"):
        client._calculate_nonstreaming_timeout(9_000, 8_192)


def test_openai_has_no_such_rule():
    """openai 3.x sends a non-streaming request with max_tokens=30,000 under its default 600 s timeout."""
    recorder = _Recorder()
    _call(openai, _client(openai, recorder), max_tokens=30_000)
    assert recorder.timeouts == [_phases(5.0, 600, 600, 600)]


# -- the simulated world (simulator policy, not SDK facts) ------------------------------------------------------

def test_world_clients_start_with_the_sdk_default_timeout_and_no_retries():
    """world.openai() / world.anthropic() keep the SDK's 600 s default timeout but set max_retries=0."""
    world = World(seed=0)
    for client, sdk in ((world.openai(), openai), (world.anthropic(), anthropic)):
        assert client.timeout == sdk.DEFAULT_TIMEOUT and client.max_retries == 0


def test_world_ends_a_timed_out_attempt_at_its_timeout_and_bills_it_in_full():
    """Simulator policy: a non-streaming attempt cut at its read timeout costs that time and is billed for the whole
    reply."""
    world = World(seed=0)
    with pytest.raises(anthropic.APITimeoutError):
        world.anthropic(timeout=0.5).messages.create(model="claude-strong", max_tokens=300, messages=ask("Explain."))
    [record] = world.requests
    assert (record.status, record.error, record.latency) == (None, "timeout", 0.5)
    assert record.output_tokens > 0
    assert record.cost_usd == world.catalog["claude-strong"].cost_usd(record.input_tokens, record.output_tokens)


def test_asyncio_timeout_cancels_the_call_and_the_sdk_does_not_retry_it():
    """asyncio.timeout raises the builtin TimeoutError, not APITimeoutError; the SDK makes no retry; the world bills
    it."""
    world = World(seed=0)
    client = world.async_anthropic(max_retries=2)

    async def main() -> None:
        async with asyncio.timeout(1.0):
            await client.messages.create(model="claude-strong", max_tokens=300, messages=ask("Explain."))

    with pytest.raises(TimeoutError) as caught:
        world.run(main())
    assert not isinstance(caught.value, anthropic.APIError)
    [record] = world.requests
    assert record.error == "cancelled" and record.latency == pytest.approx(1.0) and record.cost_usd > 0
    assert world.clock.now() == pytest.approx(1.0)


def test_asyncio_timeout_also_bounds_the_sdks_retry_sleeps():
    """An asyncio.timeout block cuts the async SDK's back-off sleep too: one deadline for attempts and waits."""
    world = World(seed=3, scenario="outage")  # every OpenAI attempt is a quick 503 for 20 minutes
    client = world.async_openai(max_retries=5)

    async def main() -> None:
        async with asyncio.timeout_at(asyncio.get_running_loop().time() + 2.0):
            await client.chat.completions.create(model="gpt-fast", messages=ask("hi"))

    with pytest.raises(TimeoutError):
        world.run(main())
    assert world.clock.now() == pytest.approx(2.0)
    assert all(r.status == 503 for r in world.requests) and 1 < len(world.requests) < 6


# -- tenacity ---------------------------------------------------------------------------------------------------

def test_tenacity_stops_only_between_attempts():
    """stop_after_delay and stop_before_delay never cut a running attempt; stop_before_delay counts the next wait."""
    def slow_failure(world: World, seconds: float):
        def attempt() -> None:
            world.clock.sleep(seconds)
            raise ValueError("slow failure")
        return attempt

    world = World(seed=0)
    retrying = tenacity.Retrying(stop=tenacity.stop_after_delay(5), sleep=world.clock.sleep)
    with pytest.raises(tenacity.RetryError):
        retrying(slow_failure(world, 8))
    assert world.clock.now() == 8  # one attempt, 3 s past the limit

    world = World(seed=0)
    retrying = tenacity.Retrying(stop=tenacity.stop_before_delay(10), wait=tenacity.wait_fixed(3),
                                 sleep=world.clock.sleep)
    with pytest.raises(tenacity.RetryError) as caught:
        retrying(slow_failure(world, 4))
    # attempt 1 ends at 4 s (4 + 3 < 10: wait), attempt 2 runs from 7 s to 11 s (11 + 3 >= 10: stop)
    assert world.clock.now() == 11 and caught.value.last_attempt.attempt_number == 2
    assert isinstance(caught.value.last_attempt.exception(), ValueError)


def test_tenacity_wait_exponential_doubles_from_its_multiplier_up_to_max():
    """wait_exponential(multiplier=0.5, max=8) waits 0.5, 1, 2, 4, 8, 8 s after attempts 1 to 6."""
    wait = tenacity.wait_exponential(multiplier=0.5, max=8)
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    waits = []
    for attempt in range(1, 7):
        state.attempt_number = attempt
        waits.append(wait(state))
    assert waits == [0.5, 1, 2, 4, 8, 8]


def test_tenacity_reraises_what_it_does_not_retry():
    """An exception the retry predicate rejects propagates unchanged, after one attempt (not wrapped in RetryError)."""
    calls = []

    def refused() -> None:
        calls.append(1)
        raise KeyError("not transient")

    retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(ValueError),
                                 stop=tenacity.stop_after_attempt(5))
    with pytest.raises(KeyError):
        retrying(refused)
    assert calls == [1]


# -- how long a call with the defaults can take: retry-after, connect and pool ---------------------------------

class _Status:
    """A MockTransport handler that answers every request with `status` and the given headers."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.headers, self.calls = status, headers, 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        return httpx2.Response(self.status, headers=self.headers, json={"error": {"message": "busy"}}, request=request)


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """What the SDKs' sync retry loop asked time.sleep for (nothing is slept), with jitter switched off."""
    asked: list[float] = []

    class _Time(types.ModuleType):
        def __getattr__(self, name: str):
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            asked.append(seconds)

    for sdk in (openai, anthropic):
        monkeypatch.setattr(sdk._base_client, "time", _Time("time"))
        monkeypatch.setattr(sdk._base_client, "random", lambda: 0.0)
    return asked


def _status_client(sdk, handler, **options):
    cls = sdk.OpenAI if sdk is openai else sdk.Anthropic
    return cls(api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)), **options)


@pytest.mark.parametrize("sdk", SDKS)
def test_default_phase_timeouts_and_pool_size(sdk):
    """Defaults: connect 5 s; read, write and pool 600 s each (separate clocks); a client pools 1,000 connections."""
    assert (sdk.DEFAULT_TIMEOUT.connect, sdk.DEFAULT_TIMEOUT.read, sdk.DEFAULT_TIMEOUT.write,
            sdk.DEFAULT_TIMEOUT.pool) == (5.0, 600, 600, 600)
    assert sdk._constants.DEFAULT_CONNECTION_LIMITS.max_connections == 1000
    assert (sdk._constants.INITIAL_RETRY_DELAY, sdk._constants.MAX_RETRY_DELAY) == (0.5, 8.0)


def test_the_pool_timeout_bounds_the_wait_for_a_free_connection():
    """httpcore2's pool waits for a connection with the request's 'pool' timeout, before any connect or read."""
    source = inspect.getsource(httpcore2._sync.connection_pool.ConnectionPool.handle_request)
    assert 'timeout = timeouts.get("pool", None)' in source
    assert "connection = pool_request.wait_for_connection(timeout=timeout)" in source


def test_openai_sleeps_retry_after_up_to_120_s_and_does_not_retry_above(slept):
    """openai 3.57: 0 < retry-after <= MAX_RETRY_AFTER_DELAY (120 s) is slept as given; above it, no retry at all."""
    assert openai._constants.MAX_RETRY_AFTER_DELAY == 120
    handler = _Status(503, {"retry-after": "120"})
    with pytest.raises(openai.InternalServerError):
        _call(openai, _status_client(openai, handler, max_retries=2))
    assert handler.calls == 3 and slept == [120.0, 120.0]

    slept.clear()
    handler = _Status(503, {"retry-after": "121"})
    with pytest.raises(openai.InternalServerError):
        _call(openai, _status_client(openai, handler, max_retries=2))
    assert handler.calls == 1 and slept == []


def test_anthropic_sleeps_any_positive_retry_after_capped_at_4294967_s(slept):
    """anthropic 2.14 sleeps any positive retry-after (a day, here), capped only at 4,294,967 s (time.sleep's limit)."""
    handler = _Status(529, {"retry-after": "86400"})
    with pytest.raises(anthropic.InternalServerError):
        _call(anthropic, _status_client(anthropic, handler, max_retries=2))
    assert handler.calls == 3 and slept == [86_400.0, 86_400.0]

    slept.clear()
    handler = _Status(529, {"retry-after": "1e12"})
    with pytest.raises(anthropic.InternalServerError):
        _call(anthropic, _status_client(anthropic, handler, max_retries=2))
    assert handler.calls == 3 and slept == [4_294_967.0, 4_294_967.0]
    calculate = anthropic._base_client.BaseClient._calculate_retry_timeout
    assert "min(retry_after, 4_294_967.0)" in inspect.getsource(calculate)


@pytest.mark.parametrize("sdk", SDKS)
def test_without_retry_after_the_waits_are_the_back_off(sdk, slept):
    """A 5xx without retry-after waits min(0.5 * 2**n, 8) s (jitter off): 0.5 s, then 1 s, as after a timeout."""
    handler = _Status(503, {})
    with pytest.raises(sdk.InternalServerError):
        _call(sdk, _status_client(sdk, handler, max_retries=2))
    assert handler.calls == 3 and slept == [0.5, 1.0]


def test_the_lessons_worst_cases_follow_from_these_facts():
    """3 x 600 s + 1.5 s = 1,801.5 s; + 3 x 5 s connect; openai with retry-after 120: 2,055 s; anthropic: about 99
    days."""
    limits, retries = anthropic.DEFAULT_TIMEOUT, anthropic.DEFAULT_MAX_RETRIES
    assert limits == openai.DEFAULT_TIMEOUT and openai.DEFAULT_MAX_RETRIES == retries == 2
    backoff = sum(min(0.5 * 2**n, 8.0) for n in range(retries))
    read, connect = limits.read, limits.connect
    assert read is not None and connect is not None
    assert 3 * read + backoff == 1_801.5
    assert 3 * (connect + read) + backoff == 1_816.5
    assert 3 * (connect + read) + retries * openai._constants.MAX_RETRY_AFTER_DELAY == 2_055
    assert round((3 * (connect + read) + retries * 4_294_967.0) / 86_400) == 99
