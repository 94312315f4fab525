"""Pins the SDK facts that the lesson "Structured output and validation" (book/tier3/structured-output.md) states,
for the pinned openai 3.57 and anthropic 2.14.

Each fact is read from the installed SDK (its schema helpers, its literal types) or shown through the real client
over a mock transport that answers as the API would, so an upgrade that changes one fails here and names it.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import anthropic
import httpx2
import openai
import pydantic
import pytest
from anthropic.types import StopReason
from openai.lib._pydantic import to_strict_json_schema
from openai.types.chat.chat_completion import Choice
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    amount: float


class Invoice(BaseModel):
    invoice_id: str
    total: float
    items: list[Item]


class Note(BaseModel):  # the lesson's example of what strict mode reshapes
    text: str
    score: int = pydantic.Field(default=0, ge=0, le=10)
    tag: str | None = None


INVOICE = '{"invoice_id": "INV-1", "total": 3.5, "items": [{"name": "a", "amount": 3.5}]}'


def _client(body: dict[str, Any], seen: list[dict[str, Any]] | None = None) -> httpx2.Client:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(json.loads(request.content))
        return httpx2.Response(200, json=body)
    return httpx2.Client(transport=httpx2.MockTransport(answer))


def _completion(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": finish_reason, "message": {"role": "assistant", **message}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}


def _message(text: str, stop_reason: str) -> dict[str, Any]:
    return {"id": "m", "type": "message", "role": "assistant", "model": "m", "stop_reason": stop_reason,
            "stop_sequence": None, "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 5, "output_tokens": 5}}


def _gpt(body: dict[str, Any], seen: list[dict[str, Any]] | None = None) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", max_retries=0, http_client=_client(body, seen))


def _claude(body: dict[str, Any], seen: list[dict[str, Any]] | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test", max_retries=0, http_client=_client(body, seen))


ASK: Any = [{"role": "user", "content": "Extract the invoice."}]


def test_the_sdk_versions_the_lesson_describes():
    """The lesson names openai 3.x and anthropic 2.x (written against 3.57 and 2.14)."""
    assert openai.__version__.startswith("3.") and anthropic.__version__.startswith("2.")


def test_to_strict_json_schema_requires_every_property_and_closes_every_object():
    """openai's strict schema: every property required (a default no longer makes one optional), objects closed
    with additionalProperties false, a None default dropped."""
    assert Note.model_json_schema()["required"] == ["text"]
    strict = to_strict_json_schema(Note)
    assert strict["required"] == ["text", "score", "tag"] and strict["additionalProperties"] is False
    assert "default" not in strict["properties"]["tag"]
    nested = to_strict_json_schema(Invoice)
    assert nested["$defs"]["Item"]["additionalProperties"] is False


def test_parse_refuses_a_function_tool_that_is_not_strict_before_any_request():
    """openai's parse(): a non-strict function tool is a ValueError, and nothing is sent."""
    seen: list[dict[str, Any]] = []
    client = _gpt(_completion({"content": INVOICE}, "stop"), seen)
    tool: Any = {"type": "function", "function": {"name": "record", "parameters": to_strict_json_schema(Invoice)}}
    with pytest.raises(ValueError, match="is not strict"):
        client.chat.completions.parse(model="m", messages=ASK, tools=[tool])
    assert seen == []


def test_parse_sends_the_strict_schema_and_parses_the_content():
    """openai's parse(response_format=Model) sends a json_schema format with strict true and the strict schema."""
    seen: list[dict[str, Any]] = []
    parsed = _gpt(_completion({"content": INVOICE}, "stop"), seen).chat.completions.parse(
        model="m", messages=ASK, response_format=Invoice).choices[0].message.parsed
    assert parsed == Invoice.model_validate_json(INVOICE)
    sent = seen[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"] == to_strict_json_schema(Invoice)


def test_parse_raises_length_finish_reason_error_on_a_cut_reply():
    """openai's parse(): finish_reason "length" raises LengthFinishReasonError, which carries the completion."""
    client = _gpt(_completion({"content": INVOICE[:20]}, "length"))
    with pytest.raises(openai.LengthFinishReasonError) as err:
        client.chat.completions.parse(model="m", messages=ASK, response_format=Invoice)
    assert err.value.completion.choices[0].finish_reason == "length"
    assert "length" in typing.get_args(Choice.model_fields["finish_reason"].annotation)


def test_parse_returns_a_refusal_with_nothing_parsed():
    """openai's parse(): a refusal is no exception; `parsed` is None and the text is in `message.refusal`."""
    message = _gpt(_completion({"content": None, "refusal": "I can't help with that."}, "stop")).chat.completions \
        .parse(model="m", messages=ASK, response_format=Invoice).choices[0].message
    assert message.parsed is None and message.refusal == "I can't help with that."


def test_anthropic_transform_schema_closes_objects_and_moves_constraints_into_the_description():
    """anthropic's transform_schema: additionalProperties false; a minimum, maximum and default become text in the
    field's description."""
    schema = anthropic.transform_schema(Note)
    assert schema["additionalProperties"] is False
    score = schema["properties"]["score"]
    assert "minimum" not in score and "maximum" not in score
    assert "minimum: 0" in score["description"] and "maximum: 10" in score["description"]


def test_anthropic_parse_sends_output_config_and_gives_parsed_output():
    """anthropic's messages.parse(output_format=Model) sends output_config's json_schema format and returns
    `parsed_output`."""
    seen: list[dict[str, Any]] = []
    reply = _claude(_message(INVOICE, "end_turn"), seen).messages.parse(
        model="m", max_tokens=100, messages=ASK, output_format=Invoice)
    assert reply.parsed_output == Invoice.model_validate_json(INVOICE)
    assert seen[0]["output_config"]["format"]["type"] == "json_schema"


@pytest.mark.parametrize(("text", "stop_reason"), [(INVOICE[:20], "max_tokens"),
                                                   ("I can't help with that.", "refusal")])
def test_anthropic_parse_raises_a_validation_error_on_a_cut_or_refused_reply(text, stop_reason):
    """anthropic's messages.parse() validates the text whatever the stop_reason: a cut reply or a refusal's prose
    raises pydantic's ValidationError, and the stop_reason that says why is not seen."""
    with pytest.raises(pydantic.ValidationError):
        _claude(_message(text, stop_reason)).messages.parse(model="m", max_tokens=100, messages=ASK,
                                                            output_format=Invoice)
    assert stop_reason in typing.get_args(StopReason)


def test_anthropic_transform_schema_moves_an_unsupported_string_format_into_the_description():
    """anthropic's transform_schema keeps a supported `format` ("date") and turns an unknown one into text."""
    schema = anthropic.transform_schema({"type": "object", "properties": {
        "day": {"type": "string", "format": "date"}, "code": {"type": "string", "format": "isbn"}}})
    assert schema["properties"]["day"]["format"] == "date"
    code = schema["properties"]["code"]
    assert "format" not in code and "isbn" in code["description"]


def test_openai_parse_validates_without_a_context():
    """openai's parse() validates the reply with no pydantic context, so a meaning validator that needs the source
    cannot run inside it: meaning is a second step."""
    contexts: list[object] = []

    class Seen(BaseModel):
        invoice_id: str

        @pydantic.field_validator("invoice_id")
        @classmethod
        def note(cls, value: str, info: pydantic.ValidationInfo) -> str:
            contexts.append(info.context)
            return value

    _gpt(_completion({"content": '{"invoice_id": "INV-1"}'}, "stop")).chat.completions.parse(
        model="m", messages=ASK, response_format=Seen)
    assert contexts == [None]
