"""Wire fidelity that real clients need: stop sequences, `n` choices, Anthropic's message_delta usage, routing.

Each behaviour is exercised through the real SDKs (sync and async, streamed and not). The SDK facts
relied on, read from the installed packages (openai 3.57.0, anthropic 2.14.0), are pinned in
`test_the_sdk_fields_these_behaviours_fill`:

- openai 3.57.0, `openai/types/chat/completion_create_params.py`: `stop: Union[str, SequenceNotStr[str], None]`,
  "Up to 4 sequences where the API will stop generating further tokens. The returned text will not
  contain the stop sequence."; `n: Optional[int]`, "charged based on the number of generated tokens
  across all of the choices". `ChatCompletion.choices[i].index` numbers the choices.
- anthropic 2.14.0, `anthropic/types/message_create_params.py`: `stop_sequences: SequenceNotStr[str]`; a match
  gives `stop_reason: "stop_sequence"` and `stop_sequence` the matched sequence, on `Message`
  (`types/message.py`) and on `RawMessageDeltaEvent.delta` (`types/raw_message_delta_event.py`).
- anthropic 2.14.0, `types/message_delta_usage.py`: `MessageDeltaUsage` has `input_tokens`,
  `cache_creation_input_tokens`, `cache_read_input_tokens` (optional, "cumulative"), `output_tokens`
  (required), `output_tokens_details`, `server_tool_use`; `lib/streaming/_messages.py` (`accumulate_event`)
  overwrites the snapshot's input and cache counts with message_delta's when they are not None.
"""

from __future__ import annotations

import inspect

import anthropic
import anthropic.lib.streaming._messages
import httpx2
import openai
import pytest
from anthropic.types import Message, MessageDeltaUsage, RawMessageDeltaEvent, RawMessageStartEvent
from anthropic.types.raw_message_delta_event import Delta

from faultfirst import World
from faultfirst.model.tokens import count_tokens
from faultfirst.serve import provider_of, serving
from tests.conftest import ask

QUESTION = ask("Explain why retries need jitter.")


def _tokens(world: World, model: str, text: str) -> int:
    return count_tokens(text, world.catalog[model].encoding)


def _openai_text(seed: int = 0, **options) -> tuple[str, openai.types.chat.ChatCompletion]:
    completion = World(seed=seed).openai().chat.completions.create(model="gpt-fast", messages=QUESTION, **options)
    return completion.choices[0].message.content, completion


def _claude_text(seed: int = 0, **options) -> tuple[str, anthropic.types.Message]:
    options = {"max_tokens": 300, **options}
    message = World(seed=seed).anthropic().messages.create(model="claude-fast", messages=QUESTION, **options)
    return "".join(b.text for b in message.content), message


def test_the_sdk_fields_these_behaviours_fill():
    """openai 3.57.0 takes `stop` and `n`; anthropic 2.14.0 takes `stop_sequences` and types stop_sequence and
    message_delta's cumulative input and cache counts (the facts in this module's docstring)."""
    create = inspect.signature(openai.resources.chat.Completions.create).parameters
    assert {"stop", "n"} <= set(create)
    assert "stop_sequences" in inspect.signature(anthropic.resources.Messages.create).parameters
    assert "stop_sequence" in Message.model_fields and "stop_sequence" in Delta.model_fields
    assert RawMessageDeltaEvent.model_fields["usage"].annotation is MessageDeltaUsage
    fields = MessageDeltaUsage.model_fields
    assert fields["output_tokens"].is_required()
    for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "server_tool_use"):
        assert not fields[name].is_required(), name
    accumulate = inspect.getsource(anthropic.lib.streaming._messages.accumulate_event)
    assert "event.usage.input_tokens is not None" in accumulate


# -- stop sequences ---------------------------------------------------------------------------------------

def test_openai_stop_ends_the_reply_before_the_first_sequence():
    """`stop` (a string or a list) cuts the text where the earliest sequence starts, leaves it out, finish_reason
    'stop', and usage counts only the tokens returned."""
    full, plain = _openai_text()
    assert "jitter" in full and "the" in full
    at = min(full.index("jitter"), full.index(" the"))
    text, cut = _openai_text(stop=["zzz-absent", " the", "jitter"])
    assert text == full[:at] and cut.choices[0].finish_reason == "stop"
    assert cut.usage and plain.usage
    assert cut.usage.completion_tokens == _tokens(World(), "gpt-fast", text) < plain.usage.completion_tokens
    assert _openai_text(stop="jitter")[0] == full[: full.index("jitter")]


def test_an_absent_stop_sequence_changes_nothing():
    """A stop sequence that never occurs leaves the reply byte for byte as without one (both APIs)."""
    assert _openai_text(stop=["zzz-absent"])[1].model_dump() == _openai_text()[1].model_dump()
    assert _claude_text(stop_sequences=["zzz-absent"])[1].model_dump() == _claude_text()[1].model_dump()


def test_max_tokens_wins_over_a_later_stop_sequence():
    """A stop sequence past the max_tokens cut never arrives: finish_reason 'length', stop_reason 'max_tokens'."""
    full, _ = _openai_text()
    last_word = full.split()[-1]
    _, completion = _openai_text(stop=[last_word], max_tokens=5)
    assert completion.usage
    assert completion.choices[0].finish_reason == "length" and completion.usage.completion_tokens == 5
    _, message = _claude_text(stop_sequences=[last_word], max_tokens=5)
    assert (message.stop_reason, message.stop_sequence) == ("max_tokens", None)


def test_openai_stream_stops_at_the_sequence_with_usage_of_what_was_sent():
    """Streamed: the chunks' text ends before the sequence, the last choice says 'stop', include_usage counts it."""
    full, _ = _openai_text()
    world = World(seed=0)
    chunks = list(world.openai().chat.completions.create(model="gpt-fast", messages=QUESTION, stop="jitter",
                                                         stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full[: full.index("jitter")]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage and usage.completion_tokens == _tokens(world, "gpt-fast", text) == world.requests[-1].output_tokens


def test_anthropic_stop_sequences_report_the_one_matched():
    """stop_sequences: the text ends before the earliest match; stop_reason 'stop_sequence', stop_sequence the match."""
    full, plain = _claude_text()
    first, later = "points", "boring"
    assert full.index(first) < full.index(later)
    text, message = _claude_text(stop_sequences=[later, first])
    assert text == full[: full.index(first)]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", first)
    assert message.usage.output_tokens == _tokens(World(), "claude-fast", text) < plain.usage.output_tokens


def test_anthropic_async_stream_stops_at_the_sequence():
    """The async stream helper: message_delta carries 'stop_sequence' and the match; the final message agrees."""
    full, _ = _claude_text()
    world = World(seed=0)

    async def main():
        async with world.async_anthropic().messages.stream(model="claude-fast", max_tokens=300, messages=QUESTION,
                                                            stop_sequences=["boring"]) as stream:
            deltas = [e async for e in stream if e.type == "message_delta"]
            return deltas, await stream.get_final_message()

    [delta], final = world.run(main())
    assert (delta.delta.stop_reason, delta.delta.stop_sequence) == ("stop_sequence", "boring")
    assert final.content[0].text == full[: full.index("boring")] and final.stop_sequence == "boring"
    assert world.requests[-1].stop_reason == "stop_sequence"


def test_bad_stop_sequences_are_refused_with_what_to_send():
    """Five OpenAI stop sequences, an empty one, or Anthropic's given as a string: a 400 naming the field."""
    client = World().openai(max_retries=0)
    with pytest.raises(openai.BadRequestError, match="at most 4") as five:
        client.chat.completions.create(model="gpt-fast", messages=QUESTION, stop=list("abcde"))
    assert isinstance(five.value.body, dict) and five.value.body["param"] == "stop"
    with pytest.raises(openai.BadRequestError, match="none of them empty"):
        client.chat.completions.create(model="gpt-fast", messages=QUESTION, stop=[""])
    claude = World().anthropic(max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="stop_sequences: must be a list of strings"):
        # A string where the SDK's types want a list: the mistake this test makes on purpose.
        claude.messages.create(model="claude-fast", max_tokens=10, messages=QUESTION,  # type: ignore[call-overload]
                               stop_sequences="END")


# -- n choices ----------------------------------------------------------------------------------------------

def test_n_returns_n_numbered_choices_and_bills_them_all():
    """n=3: choices 0..2, choice 0 is the n=1 reply, the sampled default replies differ, usage counts all three."""
    world = World(seed=0)
    completion = world.openai().chat.completions.create(model="gpt-fast", messages=QUESTION, n=3)
    texts = [c.message.content or "" for c in completion.choices]
    assert [c.index for c in completion.choices] == [0, 1, 2] and all(texts)
    assert texts[0] == _openai_text()[0] and len(set(texts)) > 1
    assert all(c.finish_reason == "stop" for c in completion.choices)
    billed = sum(_tokens(world, "gpt-fast", t) for t in texts)
    assert completion.usage and completion.usage.completion_tokens == billed == world.requests[-1].output_tokens
    assert world.requests[-1].cost_usd == world.catalog["gpt-fast"].cost_usd(completion.usage.prompt_tokens, billed)


def test_n_draws_from_its_own_stream():
    """Asking for 3 choices shifts none of the world's draws: the next call's reply and latency are unchanged."""
    def next_call(n: int):
        world = World(seed=4, scenario="flaky-output")
        client = world.openai()
        client.chat.completions.create(model="gpt-fast", messages=QUESTION, n=n)
        after = client.chat.completions.create(model="gpt-fast", messages=ask("And why does backoff help?"))
        return after.choices[0].message.content, world.requests[-1].latency

    assert next_call(3) == next_call(1)


def test_n_applies_stop_to_every_choice():
    """Each choice ends before the stop sequence."""
    completion = World(seed=0).openai().chat.completions.create(model="gpt-fast", messages=QUESTION, n=4, stop=" on")
    assert all(c.message.content is not None and " on" not in c.message.content for c in completion.choices)


def test_async_n_and_its_limits():
    """Async client: n=2 returns two choices; n>1 with stream=True, and n=0, are refused with a 400 naming n."""
    world = World(seed=0)
    client = world.async_openai(max_retries=0)

    async def main():
        two = await client.chat.completions.create(model="gpt-fast", messages=QUESTION, n=2)
        with pytest.raises(openai.BadRequestError, match="does not stream several choices") as streamed:
            await client.chat.completions.create(model="gpt-fast", messages=QUESTION, n=2, stream=True)
        with pytest.raises(openai.BadRequestError, match="n: must be an integer from 1 to 128"):
            await client.chat.completions.create(model="gpt-fast", messages=QUESTION, n=0)
        return two, streamed.value

    two, streamed = world.run(main())
    assert [c.index for c in two.choices] == [0, 1] and streamed.body["param"] == "n"


# -- Anthropic message_delta usage -----------------------------------------------------------------------

def test_message_delta_usage_carries_input_and_cache_counts():
    """message_delta.usage repeats message_start's input_tokens and the cache counts, beside the output total."""
    world = World(seed=0)
    events = list(world.anthropic().messages.create(model="claude-fast", max_tokens=300, messages=QUESTION,
                                                    stream=True))
    assert isinstance(events[0], RawMessageStartEvent)
    start = events[0].message.usage
    [delta] = [e for e in events if e.type == "message_delta"]
    assert delta.usage.input_tokens == start.input_tokens == world.requests[-1].input_tokens > 0
    assert (delta.usage.cache_creation_input_tokens, delta.usage.cache_read_input_tokens) == (0, 0)
    assert delta.usage.output_tokens == world.requests[-1].output_tokens


# -- routing by path ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "anthropic_header", "provider"), [
    ("/v1/chat/completions", True, "openai"),
    ("/v1/responses", True, "openai"),
    ("/v1/batches/batch_1/cancel", True, "openai"),
    ("/v1/messages", False, "anthropic"),
    ("/v1/messages/batches", False, "anthropic"),
    ("/v1/models", True, "anthropic"),
    ("/v1/models", False, "openai"),
])
def test_the_path_decides_the_provider(path, anthropic_header, provider):
    """A route only one API has is that API's, whatever the headers; only /v1/models, which both have, asks them."""
    headers = httpx2.Headers({"Anthropic-Version": "2023-06-01"} if anthropic_header else {})
    assert provider_of(path, headers) == provider


@pytest.mark.loopback
def test_served_openai_routes_ignore_an_anthropic_version_header():
    """Over `faultfirst serve`: an OpenAI client that also sends anthropic-version gets its chat completion."""
    with serving(seed=0, port=0, speed=1000) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="any", max_retries=0,
                               default_headers={"anthropic-version": "2023-06-01"})
        completion = client.chat.completions.create(model="gpt-fast", messages=QUESTION, n=2, stop="jitter")
        models = anthropic.Anthropic(base_url=server.base_url, api_key="any", max_retries=0).models.list()
        assert [r.provider for r in server.world.requests] == ["openai", "anthropic"]
    assert [c.index for c in completion.choices] == [0, 1]
    assert all(c.message.content is not None and "jitter" not in c.message.content for c in completion.choices)
    assert {m.id for m in models.data} == {m.name for m in server.world.catalog.for_provider("anthropic")}
