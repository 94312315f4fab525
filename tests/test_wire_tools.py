"""Function calling and JSON mode on the OpenAI wire, through the real SDK (openai 3.57.0).

The SDK facts these rely on, read from the installed package and pinned in `test_the_sdk_types_these_replies_fill`:

- `types/chat/chat_completion_message_function_tool_call.py`: a call is `id`, `type: "function"`,
  `function: {name, arguments}` (arguments a JSON string); `types/chat/chat_completion.py`: finish_reason
  `"tool_calls"` when the model called a tool.
- `types/chat/chat_completion_chunk.py`: a streamed call is `ChoiceDeltaToolCall` pieces merged by their
  required `index` (`lib/streaming/chat/_completions.py`), whose stream emits
  `tool_calls.function.arguments.delta` / `.done` events.
- `types/responses/response_function_tool_call.py`: a Responses call is an output item
  `type: "function_call"` with `call_id`, `name`, `arguments`; a result goes back as an input item
  `type: "function_call_output"` with `call_id` and `output` (`types/responses/response_input_item_param.py`).
- `types/responses/response_stream_event.py` lists the stream events; `lib/streaming/responses/_responses.py`
  needs `response.created` first, every item added before its deltas, and `response.completed` for
  `get_final_response()`.
- `lib/_tools.py`: `openai.pydantic_function_tool(M)` is a strict function tool named `M`; `parse()` fills
  `parsed_arguments` with an `M`.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import jsonschema
import openai
import pytest
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessage,
)
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall
from openai.types.chat.chat_completion_message_function_tool_call import ChatCompletionMessageFunctionToolCall
from openai.types.responses import (
    FunctionToolParam,
    ParsedResponseFunctionToolCall,
    ResponseFunctionToolCall,
    ResponseStreamEvent,
)
from pydantic import BaseModel

from faultfirst import World
from tests.conftest import ask, first_text

WEATHER: dict[str, object] = {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city", "unit"], "additionalProperties": False}
TIME: dict[str, object] = {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}
TOOLS: list[ChatCompletionFunctionToolParam] = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "get_time", "parameters": TIME}}]
FLAT_TOOLS: list[FunctionToolParam] = [
    {"type": "function", "name": t["function"]["name"], "parameters": t["function"]["parameters"], "strict": False}
    for t in TOOLS]
BOTH = ask("What are the weather and the time in Paris?")
NEITHER = ask("Explain why retries need jitter.")
SCHEMAS = {"get_weather": WEATHER, "get_time": TIME}


class Contact(BaseModel):
    name: str
    age: int


def _chat(world: World | None = None, messages=BOTH, **options) -> ChatCompletion:
    return (world or World(seed=3)).openai(max_retries=0).chat.completions.create(
        model="gpt-fast", messages=messages, tools=TOOLS, **options)


def _function_calls(message: ChatCompletionMessage) -> list[ChatCompletionMessageFunctionToolCall]:
    """The message's tool calls, which must be there and all be function calls (the SDK types a call as either
    kind)."""
    assert message.tool_calls is not None, message
    calls = [call for call in message.tool_calls if isinstance(call, ChatCompletionMessageFunctionToolCall)]
    assert len(calls) == len(message.tool_calls), message.tool_calls
    return calls


def _assert_fits(name: str, arguments: str) -> None:
    jsonschema.validate(json.loads(arguments), SCHEMAS[name])


def test_the_sdk_types_these_replies_fill():
    """openai 3.57.0: the fields, enums and stream events named in this module's docstring."""
    assert set(ChatCompletionMessageFunctionToolCall.model_fields) == {"id", "function", "type"}
    assert "tool_calls" in typing.get_args(typing.get_args(ChatCompletion.model_fields["choices"].annotation)[0]
                                           .model_fields["finish_reason"].annotation)
    assert ChoiceDeltaToolCall.model_fields["index"].is_required()
    assert {"call_id", "name", "arguments", "type"} <= {n for n, f in ResponseFunctionToolCall.model_fields.items()
                                                         if f.is_required()}
    events = {typing.get_args(m.model_fields["type"].annotation)[0]
              for m in typing.get_args(typing.get_args(ResponseStreamEvent)[0])}
    assert {"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            "response.output_text.delta", "response.output_text.done", "response.content_part.done",
            "response.function_call_arguments.delta", "response.function_call_arguments.done",
            "response.output_item.done", "response.completed", "response.incomplete"} <= events
    tool = openai.pydantic_function_tool(Contact)
    assert tool["function"]["name"] == "Contact" and tool["function"]["strict"] is True


# -- Chat Completions ------------------------------------------------------------------------------------

def test_a_named_tool_choice_forces_that_call_with_arguments_that_fit_its_schema():
    """tool_choice naming a function: content null, one call to it, finish_reason 'tool_calls', logged as such."""
    world = World(seed=3)
    choice = _chat(world, NEITHER, tool_choice={"type": "function", "function": {"name": "get_time"}}).choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = _function_calls(choice.message)
    assert call.type == "function" and call.function.name == "get_time" and call.id.startswith("call_")
    _assert_fits("get_time", call.function.arguments)
    assert world.requests[-1].stop_reason == "tool_calls"


def test_auto_calls_each_tool_the_prompt_names_in_parallel_and_text_otherwise():
    """auto (the default): both tools the question names, with distinct ids; a question naming none gets prose;
    parallel_tool_calls=False keeps the first call."""
    calls = _function_calls(_chat().choices[0].message)
    assert [c.function.name for c in calls] == ["get_weather", "get_time"] and len({c.id for c in calls}) == 2
    for call in calls:
        _assert_fits(call.function.name, call.function.arguments)
    assert json.loads(calls[0].function.arguments)["city"] == "Paris"
    prose = _chat(messages=NEITHER).choices[0]
    assert prose.finish_reason == "stop" and prose.message.tool_calls is None and prose.message.content
    assert [c.function.name for c in _function_calls(_chat(parallel_tool_calls=False).choices[0].message)] == \
        ["get_weather"]


def test_required_calls_a_tool_and_none_answers_as_without_tools():
    """required with a prompt naming no tool calls the first; none gives the reply a tool-less request gets."""
    required = _chat(messages=NEITHER, tool_choice="required").choices[0].message
    assert [c.function.name for c in _function_calls(required)] == ["get_weather"]
    plain = World(seed=3).openai().chat.completions.create(model="gpt-fast", messages=BOTH)
    none = _chat(tool_choice="none")
    assert none.choices[0].message.content == plain.choices[0].message.content
    assert none.choices[0].finish_reason == "stop"
    assert none.usage and plain.usage
    assert none.usage.prompt_tokens > plain.usage.prompt_tokens  # the tool definitions are part of the prompt


def test_a_tool_choice_naming_an_unknown_function_is_a_400():
    """A named choice must be one of the tools: BadRequestError with param 'tool_choice', before any reply."""
    with pytest.raises(openai.BadRequestError) as caught:
        _chat(tool_choice={"type": "function", "function": {"name": "get_stock"}})
    assert caught.value.param == "tool_choice" and "get_stock" in caught.value.message


def test_the_follow_up_turn_answers_from_the_tool_results():
    """Tool results sent back with role 'tool' end the loop: a text reply relaying them, finish_reason 'stop'."""
    world = World(seed=3)
    message = _chat(world).choices[0].message
    results = {"get_weather": "Sunny, 22 degrees.", "get_time": "It is 14:05."}
    follow = [*BOTH, message.model_dump(exclude_none=True),
              *({"role": "tool", "tool_call_id": c.id,
                 "content": results[c.function.name]} for c in _function_calls(message))]
    answer = _chat(world, follow).choices[0]
    assert answer.finish_reason == "stop" and answer.message.tool_calls is None
    assert answer.message.content == "Sunny, 22 degrees. It is 14:05."


def test_parse_with_a_pydantic_function_tool_gives_parsed_arguments():
    """chat.completions.parse with pydantic_function_tool(M): parsed_arguments is an M."""
    completion = World(seed=3).openai().chat.completions.parse(
        model="gpt-fast", messages=ask("Alice Smith is 31 years old."), tools=[openai.pydantic_function_tool(Contact)],
        tool_choice="required")
    [call] = completion.choices[0].message.tool_calls or []
    arguments = call.function.parsed_arguments
    assert isinstance(arguments, Contact) and arguments.name == "Alice Smith" and arguments.age == 31


def test_streamed_tool_calls_arrive_as_indexed_argument_pieces():
    """chat.completions.stream: argument deltas per call index, a done event per call, and a final completion equal
    to the non-streamed one's calls; the raw chunks open each call with its id and name."""
    expected = [(c.id, c.function.name, c.function.arguments) for c in _function_calls(_chat().choices[0].message)]
    with World(seed=3).openai().chat.completions.stream(model="gpt-fast", messages=BOTH, tools=TOOLS) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    deltas = [e for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert {e.index for e in deltas} == {0, 1} and len(deltas) > 2
    assert [(e.index, e.name) for e in events if e.type == "tool_calls.function.arguments.done"] == \
        [(0, "get_weather"), (1, "get_time")]
    assert final.choices[0].finish_reason == "tool_calls"
    calls = final.choices[0].message.tool_calls or []
    # ids carry the request's serial, the second in its own world too
    assert [(c.function.name, c.function.arguments) for c in calls] == [(n, a) for _, n, a in expected]
    chunks = list(World(seed=3).openai().chat.completions.create(model="gpt-fast", messages=BOTH, tools=TOOLS,
                                                                 stream=True))
    openings = [d for c in chunks for d in c.choices[0].delta.tool_calls or [] if d.id]
    assert [(d.index, d.type, d.function and d.function.name, d.function and d.function.arguments)
            for d in openings] == \
        [(0, "function", "get_weather", ""), (1, "function", "get_time", "")]
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)


def test_async_streamed_tool_calls_match_the_sync_ones():
    """The async client's stream helper accumulates the same calls."""
    world = World(seed=3)

    async def main():
        async with world.async_openai().chat.completions.stream(model="gpt-fast", messages=BOTH, tools=TOOLS) as stream:
            return await stream.get_final_completion()

    final = world.run(main())
    assert [(c.function.name, c.function.arguments) for c in final.choices[0].message.tool_calls or []] == \
        [(c.function.name, c.function.arguments) for c in _function_calls(_chat().choices[0].message)]


def test_a_call_cut_at_max_tokens_ends_with_length():
    """Arguments longer than max_tokens stop there: finish_reason 'length', usage at the limit."""
    choice = _chat(max_completion_tokens=3, tool_choice="required")
    assert choice.choices[0].finish_reason == "length" and choice.usage and choice.usage.completion_tokens == 3
    with pytest.raises(ValueError):
        json.loads(_function_calls(choice.choices[0].message)[0].function.arguments)


def test_tool_calls_draw_from_their_own_stream():
    """A reply that calls tools samples from '{seed}:tools': the world's next prose reply is the one it would be."""
    alone = World(seed=5).openai().chat.completions.create(model="gpt-fast", messages=NEITHER)
    world = World(seed=5)
    _chat(world, tool_choice="required")
    after = world.openai().chat.completions.create(model="gpt-fast", messages=NEITHER)
    assert after.choices[0].message.content == alone.choices[0].message.content


# -- Responses ----------------------------------------------------------------------------------------------

def _responses(world: World | None = None, input=BOTH, **options):
    return (world or World(seed=3)).openai(max_retries=0).responses.create(
        model="gpt-fast", input=input, tools=FLAT_TOOLS, **options)


def test_responses_function_calls_and_the_follow_up_turn():
    """Responses: function_call items fitting their schemas, echoed tools; function_call_output items answer them."""
    world = World(seed=3)
    first = _responses(world)
    assert [item.type for item in first.output] == ["function_call", "function_call"]
    for item in first.output:
        _assert_fits(item.name, item.arguments)
    assert [t.name for t in first.tools] == ["get_weather", "get_time"]
    follow = [*BOTH, *(item.model_dump(exclude_none=True) for item in first.output),
              *({"type": "function_call_output", "call_id": item.call_id, "output": f"{item.name} says yes."}
                for item in first.output)]
    second = _responses(world, follow)
    assert second.output_text == "get_weather says yes. get_time says yes." and second.status == "completed"
    forced = _responses(input=NEITHER, tool_choice={"type": "function", "name": "get_time"})
    assert [item.name for item in forced.output] == ["get_time"]


def test_responses_parse_fills_parsed_arguments_and_text_format():
    """responses.parse: a pydantic function tool's call has parsed_arguments an M; text_format gives output_parsed."""
    client = World(seed=3).openai()
    called = client.responses.parse(model="gpt-fast", input="Alice Smith is 31 years old.",
                                    tools=[openai.pydantic_function_tool(Contact)], tool_choice="required")
    assert isinstance(called.output[0], ParsedResponseFunctionToolCall)
    assert isinstance(called.output[0].parsed_arguments, Contact)
    parsed = client.responses.parse(model="gpt-fast", input="Alice Smith is 31 years old.", text_format=Contact)
    assert parsed.output_parsed == Contact(name="Alice Smith", age=31)


def test_responses_stream_sends_the_events_the_sdk_parses():
    """responses.stream: created, in_progress, the item's events, completed, numbered in order; the final response
    is the non-streamed one; function calls stream their arguments."""
    with World(seed=3).openai().responses.stream(model="gpt-fast", input=NEITHER) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    plain = World(seed=3).openai().responses.create(model="gpt-fast", input=NEITHER)
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert final.output_text == plain.output_text == "".join(deltas)
    assert final.usage and plain.usage and final.usage.output_tokens == plain.usage.output_tokens
    with World(seed=3).openai().responses.stream(model="gpt-fast", input=BOTH, tools=FLAT_TOOLS) as stream:
        kinds = [e.type for e in stream]
        calls = stream.get_final_response().output
    assert kinds.count("response.function_call_arguments.done") == 2
    assert all(c.type == "function_call" for c in calls)
    assert [(c.name, c.arguments) for c in calls if c.type == "function_call"] == \
        [(c.name, c.arguments) for c in _responses().output]


def test_responses_stream_cut_at_max_output_tokens_is_incomplete():
    """A streamed response cut at max_output_tokens ends with response.incomplete (reason max_output_tokens)."""
    with World(seed=3).openai().responses.stream(model="gpt-fast", input=NEITHER, max_output_tokens=16) as stream:
        last = list(stream)[-1]
    assert last.type == "response.incomplete"
    details, usage = last.response.incomplete_details, last.response.usage
    assert details and usage and details.reason == "max_output_tokens" and usage.output_tokens == 16


# -- JSON mode ------------------------------------------------------------------------------------------------

SCHEMA_PROMPT = ("Reply with JSON that matches this schema: " + json.dumps(Contact.model_json_schema())
                 + ". Don't include any text outside the JSON object.")


def test_json_mode_fills_the_schema_the_prompt_carries():
    """response_format json_object with a schema in the system prompt: an object that validates against it;
    without one, any object ({})."""
    client = World(seed=3).openai()
    filled = client.chat.completions.create(model="gpt-fast", response_format={"type": "json_object"},
                                            messages=[{"role": "system", "content": SCHEMA_PROMPT},
                                                      *ask("Alice Smith is 31 years old.")])
    assert Contact.model_validate_json(filled.choices[0].message.content or "") == Contact(name="Alice Smith", age=31)
    empty = client.chat.completions.create(model="gpt-fast", response_format={"type": "json_object"}, messages=NEITHER)
    assert json.loads(empty.choices[0].message.content or "") == {}


def test_responses_json_mode_streamed_and_not():
    """Responses text.format json_object fills the prompt's schema, streamed (responses.stream) or not."""
    options: dict[str, Any] = {"model": "gpt-fast", "instructions": SCHEMA_PROMPT,
                               "input": "Alice Smith is 31 years old.", "text": {"format": {"type": "json_object"}}}
    client = World(seed=3).openai()
    created = client.responses.create(**options)
    with client.responses.stream(**options) as stream:
        streamed = stream.get_final_response()
    for response in (created, streamed):
        assert Contact.model_validate_json(response.output_text) == Contact(name="Alice Smith", age=31)
        assert response.text and response.text.format and response.text.format.type == "json_object"


# -- Anthropic models list ----------------------------------------------------------------------------------

def test_the_anthropic_models_list_carries_capabilities_the_world_honours():
    """anthropic 2.14.0 `ModelInfo.capabilities` (`types/model_capabilities.py`): every key the SDK declares is
    present and validates; what it claims holds (structured output answers JSON of the schema; batches are served)
    and what it denies is not simulated (images, thinking)."""
    from anthropic.types import ModelInfo
    from anthropic.types.model_capabilities import ModelCapabilities

    world = World(seed=3)
    claude = world.anthropic()
    raw = claude.models.with_raw_response.list().http_response.json()["data"]
    for entry in raw:
        assert set(entry["capabilities"]) >= {n for n, f in ModelCapabilities.model_fields.items() if f.is_required()}
        info = ModelInfo.model_validate(entry)  # strict validation, not the SDK's lenient construction
        assert info.lifecycle == "active" and info.max_tokens == world.catalog[info.id].max_output_tokens
    caps = next(iter(claude.models.list())).capabilities
    assert caps
    assert caps.structured_outputs.supported and caps.batch.supported and caps.citations.supported
    assert not caps.image_input.supported and not caps.thinking.types.enabled.supported
    reply = claude.messages.create(model="claude-fast", max_tokens=300, messages=ask("Alice Smith is 31 years old."),
                                   output_config={"format": {"type": "json_schema",
                                                             "schema": Contact.model_json_schema()}})
    assert Contact.model_validate_json(first_text(reply)) == Contact(name="Alice Smith", age=31)
