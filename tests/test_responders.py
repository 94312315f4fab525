"""`World(responder=fn)`: a plain function scripts the model's text; the wire around it stays the world's.

Through the real SDKs (openai 3.57.0, anthropic 2.14.0), sync and async, streamed or not.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from faultfirst import Message, ModelRequest, ResponderFailed, World
from faultfirst.model.tokens import count_tokens
from tests.conftest import Conversation, ask

ASK = ask("Say hi.")
SCRIPTED = "Scripted hello from the test."


def _echo(request: ModelRequest) -> str:
    return f"{SCRIPTED} You said: {request.user}"


def _openai_text(world: World, *, stream: bool, **kwargs: Any) -> tuple[str, str | None]:
    """The reply's text and finish_reason, read from a Chat Completion or from its stream's chunks."""
    client = world.openai()
    if not stream:
        choice = client.chat.completions.create(model="gpt-fast", **kwargs).choices[0]
        return choice.message.content or "", choice.finish_reason
    text, finish = "", None
    for chunk in client.chat.completions.create(model="gpt-fast", stream=True, **kwargs):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return text, finish


def _anthropic_text(world: World, *, stream: bool, **kwargs: Any) -> tuple[str, str | None]:
    """The reply's text and stop_reason, from a Message or from the SDK's accumulated stream."""
    client = world.anthropic()
    if stream:
        with client.messages.stream(model="claude-fast", **kwargs) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(model="claude-fast", **kwargs)
    return "".join(b.text for b in message.content if b.type == "text"), message.stop_reason


def _ask(world: World, provider: str, *, stream: bool, **kwargs: Any) -> tuple[str, str | None]:
    kwargs.setdefault("messages", ASK)
    kwargs.setdefault("max_tokens", 200)
    return (_openai_text if provider == "openai" else _anthropic_text)(world, stream=stream, **kwargs)


BOTH = pytest.mark.parametrize(("provider", "stream"),
                               [("openai", False), ("openai", True), ("anthropic", False), ("anthropic", True)])


@BOTH
def test_a_responders_text_arrives_and_is_counted_by_the_world(provider: str, stream: bool) -> None:
    """The scripted text is the reply; its usage is the world's token count of that text, billed as usual."""
    world = World(seed=1, responder=_echo)
    text, ending = _ask(world, provider, stream=stream)
    assert text == f"{SCRIPTED} You said: Say hi."
    assert ending == ("stop" if provider == "openai" else "end_turn")
    record = world.requests[-1]
    encoding = world.catalog.get(record.model).encoding  # type: ignore[union-attr]
    assert record.status == 200 and record.output_tokens == count_tokens(text, encoding)
    assert record.cost_usd > 0 and record.latency > 0


def test_a_responders_text_arrives_through_the_async_clients() -> None:
    """The async SDKs, on the world's loop, get the scripted text too, streamed or not."""
    world = World(seed=1, responder=lambda request: "async " + request.provider)

    async def both() -> list[str]:
        gpt, claude = world.async_openai(), world.async_anthropic()
        chat = await gpt.chat.completions.create(model="gpt-fast", max_tokens=20, messages=ASK)
        streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in await gpt.chat.completions.create(
            model="gpt-fast", max_tokens=20, messages=ASK, stream=True) if chunk.choices])
        message = await claude.messages.create(model="claude-fast", max_tokens=20, messages=ASK)
        async with claude.messages.stream(model="claude-fast", max_tokens=20, messages=ASK) as events:
            final = await events.get_final_message()
        return [chat.choices[0].message.content or "", streamed, message.content[0].text,  # type: ignore[union-attr]
                final.content[0].text]  # type: ignore[union-attr]

    assert world.run(both()) == ["async openai", "async openai", "async anthropic", "async anthropic"]


@BOTH
def test_none_lets_the_world_answer_as_a_world_without_a_responder(provider: str, stream: bool) -> None:
    """A responder that passes changes nothing: same replies, same records, same clock as a plain world."""
    asked: list[str] = []

    def passes(request: ModelRequest) -> None:
        asked.append(request.user)

    plain, passing = World(seed=6), World(seed=6, responder=passes)
    prompts = ["Say hi.", "How do I add retries to my client?", "Classify as positive or negative: I love it."]
    replies = {
        name: [_ask(world, provider, stream=stream, messages=[{"role": "user", "content": p}]) for p in prompts]
        for name, world in (("plain", plain), ("passing", passing))
    }
    assert asked == prompts
    assert replies["plain"] == replies["passing"] and replies["plain"][2][0] == "positive"
    assert plain.requests == passing.requests and plain.clock.now() == passing.clock.now()


def test_a_responder_sees_system_messages_and_max_tokens_through_openai() -> None:
    """Chat Completions: system message, the whole conversation in order, the last user text, max_tokens, schema."""
    seen: list[ModelRequest] = []

    def answer(request: ModelRequest) -> str:
        seen.append(request)
        return '{"city": "Leeds"}'

    world = World(seed=2, responder=answer)
    schema: dict[str, object] = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    conversation: Conversation = [{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "Where is the office?"},
                                  {"role": "assistant", "content": "Which one?"},
                                  {"role": "user", "content": "The main one."}]
    reply = world.openai().chat.completions.create(
        model="gpt-strong", max_tokens=40, messages=conversation,
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}})
    assert json.loads(reply.choices[0].message.content or "") == {"city": "Leeds"}
    (request,) = seen
    assert (request.provider, request.model, request.system, request.user) == (
        "openai", "gpt-strong", "Be brief.", "The main one.")
    assert request.messages == tuple(Message(m["role"], m["content"]) for m in conversation)
    assert request.max_tokens == 40 and request.schema == schema


def test_a_responder_sees_the_responses_apis_instructions_and_input() -> None:
    """Responses: `instructions` is the system text, a string `input` one user message."""
    seen: list[ModelRequest] = []

    def answer(request: ModelRequest) -> str:
        seen.append(request)
        return "Fine."

    world = World(seed=2, responder=answer)
    response = world.openai().responses.create(model="gpt-fast", instructions="Be kind.", input="How are you?",
                                               max_output_tokens=30)
    assert response.output_text == "Fine."
    assert (seen[0].system, seen[0].messages, seen[0].max_tokens, seen[0].schema) == (
        "Be kind.", (Message("user", "How are you?"),), 30, None)


def test_a_responder_sees_anthropics_system_and_a_forced_tools_schema() -> None:
    """Anthropic: `system` is not a message; a forced tool's input_schema is the schema; JSON text is its input."""
    seen: list[tuple[str, str, tuple[Message, ...], str]] = []

    def fill(request: ModelRequest) -> str:
        seen.append((request.provider, request.system, request.messages, json.dumps(request.schema)))
        request.schema["properties"].clear()  # type: ignore[index]  # a copy: the next request's is untouched
        return '{"label": "urgent"}'

    world = World(seed=3, responder=fill)
    schema: dict[str, object] = {"type": "object", "properties": {"label": {"type": "string"}}}
    for _ in range(2):
        message = world.anthropic().messages.create(
            model="claude-fast", max_tokens=50, system="You triage tickets.",
            messages=[{"role": "user", "content": "The server is down!"}],
            tools=[{"name": "triage", "input_schema": schema}], tool_choice={"type": "tool", "name": "triage"})
        assert message.stop_reason == "tool_use" and message.content[0].input == {"label": "urgent"}  # type: ignore[union-attr]
    assert seen[0] == seen[1] == ("anthropic", "You triage tickets.", (Message("user", "The server is down!"),),
                                  json.dumps(schema))


@BOTH
def test_max_tokens_cuts_a_scripted_reply_with_the_apis_own_ending(provider: str, stream: bool) -> None:
    """A reply longer than max_tokens is cut there: finish_reason 'length' / stop_reason 'max_tokens'."""
    world = World(seed=4, responder=lambda request: "word " * 200)
    text, ending = _ask(world, provider, stream=stream, max_tokens=7)
    assert ending == ("length" if provider == "openai" else "max_tokens")
    assert world.requests[-1].output_tokens == 7 and text.startswith("word word") and len(text) < 200


@BOTH
def test_stop_sequences_end_a_scripted_reply(provider: str, stream: bool) -> None:
    """The world's stop sequences apply: the reply ends before the match, with the API's stop reason."""
    world = World(seed=4, responder=lambda request: "First part. END Second part.")
    key = "stop" if provider == "openai" else "stop_sequences"
    text, ending = _ask(world, provider, stream=stream, **{key: ["END"]})
    assert text == "First part. " and ending == ("stop" if provider == "openai" else "stop_sequence")


def test_the_scenarios_faults_still_apply_to_a_scripted_reply() -> None:
    """flaky-output corrupts scripted JSON as it corrupts the world's own, from the same attempt on.

    Only the first corruption is compared: which way a reply is broken draws from the fault stream, and
    how many ways there are depends on the text, so later dice differ between different replies.
    """
    def outcomes(world: World) -> list[bool]:
        valid = []
        for _ in range(20):
            content = world.openai().chat.completions.create(
                model="gpt-fast", max_tokens=50, messages=ASK, response_format={"type": "json_object"},
            ).choices[0].message.content or ""
            try:
                valid.append(json.loads(content) is not None)
            except ValueError:
                valid.append(False)
        return valid

    scripted = outcomes(World(seed=9, scenario="flaky-output", responder=lambda request: '{"ok": true}'))
    plain = outcomes(World(seed=9, scenario="flaky-output"))
    assert False in scripted and True in scripted
    assert scripted.index(False) == plain.index(False)  # the fault's dice are the world's, whoever wrote the text


@pytest.mark.parametrize("client", ["openai", "async_anthropic"])
def test_a_responder_that_raises_stops_the_call_as_itself(client: str) -> None:
    """ResponderFailed passes the SDK's retry loop (which would retry an Exception as a connection error)."""
    def broken(request: ModelRequest) -> str:
        raise KeyError("no such ticket")

    world = World(seed=5, responder=broken)
    with pytest.raises(ResponderFailed, match="responder .*broken raised KeyError: 'no such ticket'") as failed:
        if client == "openai":
            world.openai(max_retries=3).chat.completions.create(model="gpt-fast", max_tokens=5, messages=ASK)
        else:
            world.run(world.async_anthropic(max_retries=3).messages.create(
                model="claude-fast", max_tokens=5, messages=ASK))
    assert isinstance(failed.value.__cause__, KeyError)
    assert len(world.requests) == 1  # not retried


@pytest.mark.parametrize(("returned", "shown"), [(42, "int 42"), (["a", "b"], "list ['a', 'b']"), ((), "tuple ()"),
                                                 (("a", 1), "tuple ('a', 1)"), (b"hi", "bytes b'hi'")])
def test_a_bad_return_value_names_what_came_back_and_what_is_accepted(returned: Any, shown: str) -> None:
    """Anything but a str, a non-empty tuple of str or None stops the call with a TypeError as the cause."""
    world = World(seed=5, responder=lambda request: returned)
    with pytest.raises(ResponderFailed) as failed:
        world.anthropic(max_retries=2).messages.create(model="claude-fast", max_tokens=5, messages=ASK)
    cause = failed.value.__cause__
    assert isinstance(cause, TypeError) and str(cause) == str(failed.value)
    assert f"returned {shown};" in str(cause) and "a str (one text block), a non-empty tuple of str" in str(cause)
    assert len(world.requests) == 1


def test_a_responder_is_checked_when_the_world_is_made() -> None:
    """Not a function: a TypeError at once. A live world has no simulated model to script: a ValueError."""
    with pytest.raises(TypeError, match="responder must be a function taking a faultfirst.ModelRequest"):
        World(responder="Hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="responder scripts the simulated model"):
        World(live=True, responder=_echo)


def test_several_blocks_and_script_reply_come_after_the_responder() -> None:
    """A tuple is one text block each; the responder leads, script_reply answers what it passes on."""
    world = World(seed=7, responder=lambda request: ("One. ", "Two.") if "blocks" in request.user else None)
    world.script_reply("From script_reply.", contains="Say")
    blocks = world.anthropic().messages.create(model="claude-fast", max_tokens=50,
                                               messages=[{"role": "user", "content": "Say blocks"}]).content
    assert [b.text for b in blocks] == ["One. ", "Two."]  # type: ignore[union-attr]
    assert _ask(world, "anthropic", stream=False)[0] == "From script_reply."


def test_same_seed_same_everything_with_a_responder() -> None:
    """Two worlds with the same seed, scenario and responder make the same replies, records and clock."""
    def some(request: ModelRequest) -> str | None:
        return None if "retries" in request.user else f"Scripted {len(request.messages)}"

    def run(world: World) -> list[tuple[str, str | None]]:
        out = []
        for provider in ("openai", "anthropic") * 4:
            for prompt in ("Say hi.", "How do I add retries?"):
                try:
                    out.append(_ask(world, provider, stream=prompt == "Say hi.",
                                    messages=[{"role": "user", "content": prompt}]))
                except (openai.APIError, anthropic.APIError) as err:
                    out.append((type(err).__name__, None))
        return out

    first, second = (World(seed=11, scenario="overloaded", responder=some) for _ in range(2))
    assert run(first) == run(second)
    assert first.requests == second.requests and first.clock.now() == second.clock.now()
    assert {record.status for record in first.requests} - {200}  # the scenario's faults were in play
