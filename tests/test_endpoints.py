"""Each supported endpoint answers in exactly the shape the SDK parses.

Bodies are validated with the SDK's own pydantic models (not just parsed
leniently), so a missing required field or a wrong type fails here.
"""

from __future__ import annotations

import anthropic
import openai
import pytest
from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ParsedChatCompletion
from openai.types.responses import Response
from pydantic import BaseModel, TypeAdapter

from faultfirst import World
from tests.conftest import ask, first_text


class Ticket(BaseModel):
    title: str
    priority: int
    tags: list[str]


def test_chat_completion_validates_against_the_sdk_model(world):
    """Chat Completions returns a body that ChatCompletion.model_validate accepts, with usage."""
    raw = world.openai().chat.completions.with_raw_response.create(model="gpt-fast", messages=ask("Explain retries."))
    completion = ChatCompletion.model_validate(raw.http_response.json())
    assert completion == raw.parse()
    assert completion.choices[0].finish_reason == "stop" and completion.choices[0].message.content
    assert completion.usage
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_chat_parse_with_a_pydantic_response_format(world):
    """chat.completions.parse fills message.parsed with an instance of the requested model."""
    result = world.openai().chat.completions.parse(
        model="gpt-fast", messages=ask("File a ticket: checkout page times out under load."), response_format=Ticket,
        temperature=0,
    )
    assert isinstance(result, ParsedChatCompletion)
    assert isinstance(result.choices[0].message.parsed, Ticket)


def test_chat_stream_with_usage(world):
    """stream=True yields ChatCompletionChunk objects; include_usage adds a final usage chunk."""
    client = world.openai()
    plain = client.chat.completions.create(model="gpt-fast", messages=ask("ping twice"), temperature=0)
    chunks = list(client.chat.completions.create(
        model="gpt-fast", messages=ask("ping twice"), temperature=0, stream=True,
                                                 stream_options={"include_usage": True},
    ))
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_responses_create_and_output_text(world):
    """The Responses API returns a Response whose output_text is the reply."""
    raw = world.openai().responses.with_raw_response.create(model="gpt-strong", input="Say this is a test",
                                                            instructions="Be brief.")
    response = Response.model_validate(raw.http_response.json())
    assert response.output_text == raw.parse().output_text == "This is a test."
    assert response.status == "completed" and response.usage and response.usage.input_tokens > 0


def test_anthropic_message_validates_against_the_sdk_model(world):
    """Messages returns a body that anthropic.types.Message.model_validate accepts."""
    raw = world.anthropic().messages.with_raw_response.create(model="claude-fast", max_tokens=200,
                                                              messages=ask("Explain timeouts."))
    message = Message.model_validate(raw.http_response.json())
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"
    assert message.usage.output_tokens > 0


def test_anthropic_stream_events_and_final_message():
    """messages.stream assembles the same text as create() does in a world with the same seed."""
    plain = World(seed=4).anthropic().messages.create(model="claude-fast", max_tokens=300,
                                                      messages=ask("Explain jitter."))
    with World(seed=4).anthropic().messages.stream(model="claude-fast", max_tokens=300,
                                                   messages=ask("Explain jitter.")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == first_text(plain) == first_text(final)
    assert final.usage.output_tokens == plain.usage.output_tokens and final.stop_reason == "end_turn"


def test_anthropic_raw_stream_events_validate(world):
    """Every raw event of a Messages stream validates as a RawMessageStreamEvent."""
    adapter = TypeAdapter(RawMessageStreamEvent)
    events = list(world.anthropic().messages.create(model="claude-fast", max_tokens=100, messages=ask("hello"),
                                                    stream=True))
    kinds = [adapter.validate_python(e.model_dump()).type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_delta" in kinds


def test_count_tokens_matches_usage(world):
    """messages.count_tokens returns the input_tokens a create() is billed for."""
    client = world.anthropic()
    messages = ask("How many tokens is this sentence, exactly?")
    counted = client.messages.count_tokens(model="claude-strong", messages=messages, system="Be exact.")
    created = client.messages.create(model="claude-strong", max_tokens=50, messages=messages, system="Be exact.")
    assert isinstance(counted, MessageTokensCount) and counted.input_tokens == created.usage.input_tokens


def test_unknown_route_gets_the_api_404_shape(world):
    """A route the world does not serve answers 404 in each API's error shape."""
    with pytest.raises(openai.NotFoundError) as oerr:
        world.openai().post("/embeddings", cast_to=object, body={"model": "gpt-fast"})
    assert oerr.value.body == {"message": "Invalid URL (POST /v1/embeddings)", "type": "invalid_request_error",
                               "param": None, "code": None}
    with pytest.raises(anthropic.NotFoundError) as aerr:
        world.anthropic().post("/v1/complete", cast_to=object, body={})
    assert aerr.value.type == "not_found_error"


def test_citations_are_char_locations_into_the_document(world):
    """With citations enabled, the answer quotes the document and each citation points at the quoted span."""
    document = ("Our API retries 429 responses twice. Timeouts default to ten minutes. "
                "Refunds are processed within five business days.")
    message = world.anthropic().messages.create(
        model="claude-fast", max_tokens=300,
        messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": document},
             "title": "Handbook", "citations": {"enabled": True}},
            {"type": "text", "text": "How long do refunds take?"},
        ]}],
    )
    cited = [c for block in message.content for c in (block.citations or [])]
    assert cited, message.content
    for citation in cited:
        assert citation.type == "char_location" and citation.document_title == "Handbook"
        assert document[citation.start_char_index:citation.end_char_index] == citation.cited_text
    assert "five business days" in cited[0].cited_text


def test_chat_stream_chunks_validate_against_the_sdk_model(world):
    """Every streamed chunk carries the fields ChatCompletionChunk requires."""
    chunks = world.openai().chat.completions.create(model="gpt-strong", messages=ask("stream me"), stream=True,
                                                    stream_options={"include_usage": True})
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())


def test_anthropic_structured_output_with_messages_parse(world):
    """messages.parse(output_format=Model) gets JSON that fits the model (output_config.format)."""
    message = world.anthropic().messages.parse(
        model="claude-strong", max_tokens=400, output_format=Ticket,
        messages=ask("File a ticket: the export button does nothing."),
    )
    assert isinstance(message.parsed_output, Ticket)


def test_anthropic_forced_tool_use_returns_its_input_as_json(world):
    """tool_choice naming a tool gets a tool_use block whose input fits the tool's schema."""
    message = world.anthropic().messages.create(
        model="claude-fast", max_tokens=400, messages=ask("File a ticket: login fails on Safari."),
        tools=[{"name": "file_ticket", "description": "File a ticket.", "input_schema": Ticket.model_json_schema()}],
        tool_choice={"type": "tool", "name": "file_ticket"},
    )
    [block] = message.content
    assert message.stop_reason == "tool_use" and block.type == "tool_use" and block.name == "file_ticket"
    Ticket.model_validate(block.input)


def test_responses_input_token_count_matches_usage(world):
    """responses.input_tokens.count returns the input_tokens a responses.create() is billed for."""
    from openai.types.responses.input_token_count_response import InputTokenCountResponse

    client = world.openai()
    counted = client.responses.input_tokens.count(model="gpt-fast", input="How long is this?", instructions="Be exact.")
    created = client.responses.create(model="gpt-fast", input="How long is this?", instructions="Be exact.")
    assert isinstance(counted, InputTokenCountResponse) and counted.input_tokens == created.usage.input_tokens


def test_models_list_names_the_catalogue_for_each_provider(world):
    """models.list() answers with the provider's aliases, as each SDK's own model types."""
    from anthropic.types import ModelInfo
    from openai.types import Model

    openai_models = list(world.openai().models.list())
    anthropic_models = list(world.anthropic().models.list())
    assert all(isinstance(m, Model) for m in openai_models) and all(isinstance(m, ModelInfo) for m in anthropic_models)
    assert [m.id for m in openai_models] == ["gpt-fast", "gpt-strong"]
    assert [m.id for m in anthropic_models] == ["claude-fast", "claude-strong"]
    assert "gpt-legacy" not in {m.id for m in openai_models}
