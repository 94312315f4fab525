"""Anthropic tool use when Claude chooses, through the real SDK (anthropic 2.14.0).

`tool_choice` "auto" (or none given) lets the model call the tools the user's words name, one tool_use
block each, `stop_reason: "tool_use"`; the follow-up turn sends `tool_result` blocks back and gets text
built from them; "none" and `disable_parallel_tool_use` are honoured; streams carry the same calls as
`input_json_delta` events, which the SDK's stream helper assembles into the same blocks.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from faultfirst import World
from faultfirst.model.prompt_view import _View
from faultfirst.wire.dialects import parse_request
from tests.conftest import first_text

WEATHER: Any = {"name": "get_weather", "description": "Current weather for a city.",
                           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                            "required": ["city"]}}
TIME: Any = {"name": "get_local_time", "description": "The local time in a city.",
                        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                         "required": ["city"]}}
QUESTION = "What is the weather and the local time in Paris?"


def _ask(world: World, content: Any = QUESTION, **kwargs: Any) -> anthropic.types.Message:
    return world.anthropic().messages.create(model="claude-fast", max_tokens=300, tools=[WEATHER, TIME],
                                             messages=[{"role": "user", "content": content}], **kwargs)


def test_claude_calls_each_tool_the_question_names():
    message = _ask(World(seed=0))
    assert message.stop_reason == "tool_use"
    uses = [b for b in message.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["get_weather", "get_local_time"]
    assert all(isinstance(u.input, dict) and isinstance(u.input.get("city"), str) for u in uses)
    assert len({u.id for u in uses}) == 2


def test_tool_choice_none_and_no_parallel_use_are_honoured():
    assert _ask(World(seed=0), tool_choice={"type": "none"}).stop_reason == "end_turn"
    single = _ask(World(seed=0), tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert [b.name for b in single.content if b.type == "tool_use"] == ["get_weather"]


def test_a_question_that_names_no_tool_gets_text():
    message = _ask(World(seed=0), "Tell me a fun fact about bridges.")
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"


def test_the_follow_up_turn_answers_from_the_tool_results():
    world = World(seed=0)
    first = _ask(world, tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    use = next(b for b in first.content if b.type == "tool_use")
    conversation: list[Any] = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "Paris: 18 C, light rain."}]},
    ]
    follow_up = world.anthropic().messages.create(model="claude-fast", max_tokens=300, tools=[WEATHER, TIME],
                                                  messages=conversation)
    assert follow_up.stop_reason == "end_turn"
    assert "18 C, light rain" in first_text(follow_up)


def test_a_stream_carries_the_same_calls():
    streamed = World(seed=0).anthropic().messages.stream(
        model="claude-fast", max_tokens=300, tools=[WEATHER, TIME], messages=[{"role": "user", "content": QUESTION}])
    with streamed as stream:
        final = stream.get_final_message()
    plain = _ask(World(seed=0))
    assert final.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == \
        [(b.name, b.input) for b in plain.content if b.type == "tool_use"]


def test_an_unknown_tool_choice_is_refused_with_the_valid_ones():
    with pytest.raises(anthropic.BadRequestError, match="'auto', 'any', 'tool' or 'none'"):
        _ask(World(seed=0), tool_choice={"type": "sometimes"})


def test_a_tool_result_is_read_as_a_tool_result():
    """What a tool returned is data the model reads (an injection in it is a tool-result injection)."""
    body = {"model": "claude-fast", "max_tokens": 100, "tools": [WEATHER],
            "messages": [{"role": "user", "content": "Weather in Oslo?"},
                         {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                                            "input": {"city": "Oslo"}}]},
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                                       "content": [{"type": "text", "text": "Oslo: 3 C"}]}]}]}
    world = World(seed=0)
    spec = world.catalog.get("claude-fast")
    assert spec is not None
    parsed = parse_request("messages", spec, json.dumps(body).encode())
    assert parsed.results == ("Oslo: 3 C",) and parsed.calls == ()
    assert parsed.prompt.user == "Weather in Oslo?"
    assert [d.origin for d in _View.of(parsed.prompt).documents] == ["tool_result"]
