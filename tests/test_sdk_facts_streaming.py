"""Pins the SDK facts the lesson "Streaming" (book/tier1/streaming.md) states.

Facts about an SDK's own code are pinned against `httpx2.MockTransport`, so they
hold whatever the simulated world does; facts about what a learner sees in the
world are pinned against the world. Mid-stream error events are pinned in
tests/test_faults.py::test_mid_stream_error_* and not repeated here.
"""

from __future__ import annotations

import inspect

import anthropic
import anthropic.lib.streaming
import httpx2
import openai
import pytest
from anthropic.types import MessageDeltaUsage, RawMessageStartEvent, RawMessageStreamEvent
from openai.types.chat import ChatCompletionChunk
from pydantic import TypeAdapter

from faultfirst import World
from tests.conftest import ask, first_text

_SSE = {"content-type": "text/event-stream"}


class _Events(httpx2.SyncByteStream):
    """A response body that sends `events`, then raises `then` (a transport error) if given."""

    def __init__(self, events: list[bytes], then: Exception | None = None) -> None:
        self.events, self.then = events, then

    def __iter__(self):
        yield from self.events
        if self.then is not None:
            raise self.then


def _openai_client(events: list[bytes], then: Exception | None = None) -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=_SSE, stream=_Events(events, then), request=request)
    return openai.OpenAI(api_key="test", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def _anthropic_client(events: list[bytes], then: Exception | None = None) -> anthropic.Anthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=_SSE, stream=_Events(events, then), request=request)
    return anthropic.Anthropic(api_key="test", max_retries=0,
                               http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


_CHUNK = (b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m",'
          b'"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n\n')
_MESSAGE_START = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message",'
                  b'"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
                  b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n')
_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def _stream_openai(client: openai.OpenAI):
    return client.chat.completions.create(model="m", messages=ask("hi"), stream=True)


def _stream_anthropic(client: anthropic.Anthropic):
    return client.messages.create(model="m", max_tokens=10, messages=ask("hi"), stream=True)


# -- event shapes ---------------------------------------------------------------------------------------


def test_openai_stream_is_a_stream_of_chunks_whose_first_delta_is_an_empty_role():
    """openai: stream=True gives an openai.Stream of ChatCompletionChunk whose first delta is role 'assistant', content
    ''."""
    world = World(seed=0)
    stream = world.openai().chat.completions.create(model="gpt-fast", messages=ask("Explain retries."), stream=True)
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    first = chunks[0].choices[0].delta
    assert (first.role, first.content) == ("assistant", "")
    assert all(c.choices[0].delta.role is None for c in chunks[1:])
    finishes = [c.choices[0].finish_reason for c in chunks]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None} and chunks[-1].choices[0].delta.content is None
    assert all(c.usage is None for c in chunks)  # without stream_options.include_usage, no chunk carries usage


def test_openai_chunk_fields_that_may_be_empty():
    """openai: a chunk's choices may be empty (the usage chunk); usage, delta.content and finish_reason are optional."""
    from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta

    fields = ChatCompletionChunk.model_fields
    assert fields["usage"].default is None and fields["choices"].is_required()
    assert ChoiceDelta.model_fields["content"].default is None
    assert Choice.model_fields["finish_reason"].default is None
    chunk = ChatCompletionChunk.model_validate({"id": "c", "object": "chat.completion.chunk", "created": 0,
                                                "model": "m",
                                                "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2,
                                                                         "total_tokens": 3}})
    assert chunk.choices == [] and chunk.usage and chunk.usage.completion_tokens == 2


def test_openai_truncated_stream_finishes_with_length():
    """openai: a streamed reply cut at max_tokens ends with finish_reason 'length', and its text is the non-streamed
    text."""
    plain = World(seed=3).openai().chat.completions.create(model="gpt-fast", messages=ask("Explain retries."),
                                                           max_tokens=5)
    chunks = list(World(seed=3).openai().chat.completions.create(model="gpt-fast", messages=ask("Explain retries."),
                                                                 max_tokens=5, stream=True))
    assert [c.choices[0].finish_reason for c in chunks][-1] == "length"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content


def test_anthropic_stream_yields_raw_events_and_drops_ping():
    """anthropic: stream=True gives an anthropic.Stream that skips `event: ping` and unnamed events."""
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    unnamed = b'data: {"type":"ping"}\n\n'
    stream = _stream_anthropic(_anthropic_client([_MESSAGE_START, _PING, unnamed, stop]))
    assert isinstance(stream, anthropic.Stream)
    assert [e.type for e in stream] == ["message_start", "message_stop"]
    source = inspect.getsource(anthropic.Stream.__stream__)
    assert 'if sse.event == "ping":\n                    continue' in source


def test_anthropic_event_sequence_in_the_world():
    """anthropic: a text reply streams message_start, content_block_start/delta.../stop, message_delta, message_stop."""
    events = list(World(seed=0).anthropic().messages.create(model="claude-fast", max_tokens=300,
                                                           messages=ask("Explain retries."), stream=True))
    adapter = TypeAdapter(RawMessageStreamEvent)
    for event in events:
        adapter.validate_python(event.model_dump())
    kinds = [e.type for e in events]
    deltas = kinds.count("content_block_delta")
    assert kinds == ["message_start", "content_block_start", *["content_block_delta"] * deltas,
                     "content_block_stop", "message_delta", "message_stop"]
    assert all(e.delta.type == "text_delta" for e in events if e.type == "content_block_delta")
    start = events[0]
    assert isinstance(start, RawMessageStartEvent)
    assert start.message.usage.input_tokens > 0 and start.message.stop_reason is None


def test_anthropic_message_delta_carries_stop_reason_and_cumulative_output_tokens():
    """anthropic: message_delta carries stop_reason and cumulative usage.output_tokens, as the non-streamed reply."""
    assert MessageDeltaUsage.model_fields["output_tokens"].is_required()
    for max_tokens, stop in ((300, "end_turn"), (5, "max_tokens")):
        plain = World(seed=1).anthropic().messages.create(model="claude-fast", max_tokens=max_tokens,
                                                         messages=ask("Explain retries."))
        events = list(World(seed=1).anthropic().messages.create(model="claude-fast", max_tokens=max_tokens,
                                                               messages=ask("Explain retries."), stream=True))
        [delta] = [e for e in events if e.type == "message_delta"]
        assert delta.delta.stop_reason == plain.stop_reason == stop
        assert delta.usage.output_tokens == plain.usage.output_tokens


def test_anthropic_stream_helper_keeps_the_partial_message_after_an_error():
    """anthropic: after a mid-stream error, the helper's get_final_message() returns the partial text, stop_reason
    None."""
    world = World(seed=19, scenario="overloaded")  # this seed's first stream fails midway
    shown: list[str] = []
    manager = world.anthropic().messages.stream(model="claude-fast", max_tokens=300, messages=ask("Explain retries."))
    assert isinstance(manager, anthropic.lib.streaming.MessageStreamManager)
    with pytest.raises(anthropic.APIStatusError), manager as stream:
        for text in stream.text_stream:
            shown.append(text)
    snapshot = stream.current_message_snapshot
    assert shown and first_text(snapshot) == "".join(shown) and snapshot.stop_reason is None
    final = stream.get_final_message()  # does not raise again: the spent stream's snapshot comes back
    assert final is snapshot and final.stop_reason is None
    assert world.requests[-1].error == "stream error"


# -- failures during iteration --------------------------------------------------------------------------


def test_openai_error_event_is_api_error_without_status_code():
    """openai: a data event carrying `error` raises openai.APIError: not an APIStatusError, no status_code."""
    event = b'data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}\n\n'
    with pytest.raises(openai.APIError) as err:
        list(_stream_openai(_openai_client([_CHUNK, event])))
    assert type(err.value) is openai.APIError and not isinstance(err.value, openai.APIStatusError)
    body = err.value.body
    assert not hasattr(err.value, "status_code") and isinstance(body, dict) and body["type"] == "server_error"
    assert err.value.message == "boom"


def test_anthropic_error_event_is_api_status_error_with_status_200():
    """anthropic: an `event: error` mid-stream raises APIStatusError carrying the stream's own 200 response."""
    event = (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n')
    with pytest.raises(anthropic.APIStatusError) as err:
        list(_stream_anthropic(_anthropic_client([_MESSAGE_START, event])))
    assert type(err.value) is anthropic.APIStatusError and err.value.status_code == 200
    body = err.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize("raised, expected", [
    (httpx2.ReadTimeout("stalled"), openai.APITimeoutError),
    (httpx2.RemoteProtocolError("peer closed connection"), openai.APIConnectionError),
])
def test_openai_wraps_transport_errors_during_iteration(raised, expected):
    """openai: mid-stream, an httpx2 timeout becomes APITimeoutError and other httpx2 errors APIConnectionError."""
    received = []
    with pytest.raises(expected) as err:
        for chunk in _stream_openai(_openai_client([_CHUNK], then=raised)):
            received.append(chunk.choices[0].delta.content)
    assert received == ["Hello"] and type(err.value) is expected
    assert isinstance(err.value.__cause__, type(raised))


@pytest.mark.parametrize("raised",
                         [httpx2.ReadTimeout("stalled"), httpx2.RemoteProtocolError("peer closed connection")])
def test_anthropic_lets_transport_errors_during_iteration_escape_unwrapped(raised):
    """anthropic: Stream._iter_events wraps nothing: an httpx2 error mid-stream escapes as itself."""
    with pytest.raises(type(raised)) as err:
        list(_stream_anthropic(_anthropic_client([_MESSAGE_START], then=raised)))
    assert err.value is raised and not isinstance(err.value, anthropic.APIError)
    assert "except" not in inspect.getsource(anthropic.Stream._iter_events)


def test_stalled_stream_in_the_world_each_sdk():
    """World: a stall after the head raises openai.APITimeoutError in the loop, but httpx2.ReadTimeout from
    anthropic."""
    world, other = World(seed=0), World(seed=0)
    with pytest.raises(openai.APITimeoutError):
        for _ in world.openai(timeout=0.8).chat.completions.create(model="gpt-strong", messages=ask("Explain retries."),
                                                                   stream=True):
            pass
    stream = other.anthropic(timeout=1.0).messages.create(model="claude-strong", max_tokens=300,
                                                          messages=ask("Explain retries."), stream=True)
    with pytest.raises(httpx2.ReadTimeout):
        for _ in stream:
            pass
    assert [(r.status, r.error) for r in world.requests + other.requests] == [(200, "timeout"), (200, "timeout")]


def test_timeout_before_the_head_is_the_sdks_own_in_both():
    """World: when the response head misses the read timeout, create() raises each SDK's APITimeoutError."""
    world = World(seed=0)
    with pytest.raises(openai.APITimeoutError):
        world.openai(timeout=0.01).chat.completions.create(model="gpt-fast", messages=ask("hi"), stream=True)
    with pytest.raises(anthropic.APITimeoutError):
        world.anthropic(timeout=0.01).messages.create(model="claude-fast", max_tokens=10, messages=ask("hi"),
                                                      stream=True)


def test_connection_reset_before_the_first_event_is_raised_by_create():
    """World: a reset before any byte raises APIConnectionError from create(stream=True) itself, in both SDKs."""
    for make in (lambda w: w.openai().chat.completions.create(model="gpt-fast", messages=ask("hi"), stream=True),
                 lambda w: w.anthropic().messages.create(model="claude-fast", max_tokens=10, messages=ask("hi"),
                                                         stream=True)):
        world = World(seed=37, scenario="overloaded")  # this seed's first attempt is a reset
        with pytest.raises((openai.APIConnectionError, anthropic.APIConnectionError)) as err:
            make(world)
        assert not isinstance(err.value, (openai.APITimeoutError, anthropic.APITimeoutError))
        assert world.requests[-1].error == "connection reset"


def test_read_timeout_bounds_each_gap_not_the_whole_stream():
    """World: a stream with every gap under the read timeout completes past it; the same call unstreamed times out."""
    timeout = 1.5
    streamed = World(seed=4)
    with streamed.anthropic(timeout=timeout).messages.stream(model="claude-strong", max_tokens=300,
                                                            messages=ask("Explain retries.")) as stream:
        text = stream.get_final_text()
    assert text and streamed.requests[-1].ok and streamed.requests[-1].latency > timeout
    with pytest.raises(anthropic.APITimeoutError):
        World(seed=4).anthropic(timeout=timeout).messages.create(model="claude-strong", max_tokens=300,
                                                                 messages=ask("Explain retries."))


@pytest.mark.parametrize("make", [
    lambda http: openai.OpenAI(api_key="t", timeout=1.5, http_client=http).chat.completions.create(
        model="m", messages=ask("hi"), stream=True),
    lambda http: anthropic.Anthropic(api_key="t", timeout=1.5, http_client=http).messages.create(
        model="m", max_tokens=10, messages=ask("hi"), stream=True),
], ids=["openai", "anthropic"])
def test_a_float_client_timeout_is_a_read_timeout_per_network_read(make):
    """Both SDKs send timeout=1.5 as httpx2.Timeout(1.5): connect, read, write and pool all 1.5; httpcore2 applies
    the read timeout to each network read, not the whole body."""
    import httpcore2._sync.http11 as http11

    seen = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.extensions["timeout"])
        return httpx2.Response(200, headers=_SSE, content=b"", request=request)

    make(httpx2.Client(transport=httpx2.MockTransport(handler)))
    assert seen[0] == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}
    body = inspect.getsource(http11.HTTP11Connection._receive_response_body)
    assert 'timeout = timeouts.get("read", None)' in body and "self._receive_event(timeout=timeout)" in body
    assert "self._network_stream.read(self.READ_NUM_BYTES, timeout=timeout)" in inspect.getsource(
        http11.HTTP11Connection._receive_event)


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
def test_every_call_exception_derives_from_api_error(sdk):
    """Status, connection and timeout errors derive from each SDK's APIError; httpx2's from TransportError, not
    APIError."""
    assert issubclass(sdk.APIStatusError, sdk.APIError) and issubclass(sdk.APIConnectionError, sdk.APIError)
    assert issubclass(sdk.APITimeoutError, sdk.APIConnectionError)
    assert issubclass(httpx2.ReadTimeout, httpx2.TransportError)
    assert issubclass(httpx2.RemoteProtocolError, httpx2.TransportError)
    assert not issubclass(httpx2.TransportError, sdk.APIError)


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_sdk_retries_never_cover_a_failure_during_iteration(sdk):
    """Both SDKs retry inside create() only: with max_retries=2, a mid-stream error is raised after one attempt."""
    world = World(seed=19, scenario="overloaded")
    with pytest.raises((openai.APIError, anthropic.APIError)):
        if sdk == "openai":
            for _ in world.openai(max_retries=2).chat.completions.create(model="gpt-fast", messages=ask("x"),
                                                                         stream=True):
                pass
        else:
            for _ in world.anthropic(max_retries=2).messages.create(model="claude-fast", max_tokens=300,
                                                                    messages=ask("x"), stream=True):
                pass
    assert len(world.requests) == 1 and world.requests[0].error == "stream error"


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_stream_that_closes_before_its_stop_reason_raises_nothing(sdk):
    """Both SDKs end the loop quietly when the body ends without [DONE] / message_stop: only the missing
    finish_reason / message_delta shows the reply did not finish (the world's scripted 'dropped' ending)."""
    prompt = ask("Explain in a few sentences why a load balancer can close a long stream.")
    world = World(seed=1)
    if sdk == "openai":
        chunks = list(world.openai().chat.completions.create(model="gpt-fast", messages=prompt, stream=True))
        assert chunks and all(c.choices[0].finish_reason is None for c in chunks)
    else:
        events = list(world.anthropic().messages.create(model="claude-fast", max_tokens=300, messages=prompt,
                                                       stream=True))
        assert events[-1].type == "content_block_stop" and "message_delta" not in {e.type for e in events}
    assert world.requests[-1].ok and world.requests[-1].stop_reason is None


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_400_is_not_retried_before_a_stream(sdk):
    """A 400 refusal of a streamed create() is raised at once, whatever max_retries allows."""
    calls = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        return httpx2.Response(400, json={"error": {"message": "bad", "type": "invalid_request_error"}},
                               request=request)

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    with pytest.raises((openai.BadRequestError, anthropic.BadRequestError)):
        if sdk == "openai":
            openai.OpenAI(api_key="t", max_retries=2, http_client=http).chat.completions.create(
                model="m", messages=ask("hi"), stream=True)
        else:
            anthropic.Anthropic(api_key="t", max_retries=2, http_client=http).messages.create(
                model="m", max_tokens=10, messages=ask("hi"), stream=True)
    assert len(calls) == 1


def test_a_stop_sequence_ends_an_anthropic_stream_with_stop_sequence():
    """message_delta carries stop_reason 'stop_sequence' and the sequence (the world's scripted stop-sequence reply)."""
    events = list(World(seed=1).anthropic().messages.create(
        model="claude-fast", max_tokens=300, stream=True,
        messages=ask("List three reasons a streamed reply can stop early, then write END.")))
    delta = next(e for e in events if e.type == "message_delta").delta
    assert (delta.stop_reason, delta.stop_sequence) == ("stop_sequence", "END")
