"""Pins the SDK facts that the lesson "Errors as types" states (book/tier3/errors-as-types.md), for the pinned
openai 3.57 and anthropic 2.14.

Each fact is read from the installed SDK (its exception classes, the literal types of its finish and stop
reasons) or shown through the real client over a mock transport, so an upgrade that changes one fails here
and names it. Facts other lessons share (529 as `OverloadedError`, the retried statuses) are pinned in
tests/test_sdk_facts.py and tests/test_sdk_facts_fallbacks.py as well.
"""

from __future__ import annotations

import typing

import anthropic
import httpx2
import openai
import pytest
from anthropic.types import StopReason
from openai.types.chat.chat_completion import Choice


def _answering(status: int, body: object) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(status, json=body)))


def _openai_raises(status: int) -> type[BaseException]:
    client = openai.OpenAI(api_key="test", max_retries=0, http_client=_answering(status, {"error": {"message": "m"}}))
    with pytest.raises(openai.APIError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    return caught.type


def _anthropic_raises(status: int) -> type[BaseException]:
    body = {"type": "error", "error": {"type": "api_error", "message": "m"}}
    client = anthropic.Anthropic(api_key="test", max_retries=0, http_client=_answering(status, body))
    with pytest.raises(anthropic.APIError) as caught:
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    return caught.type


def test_the_sdk_versions_the_lesson_describes():
    """The lesson names openai 3.x and anthropic 2.x."""
    assert openai.__version__.startswith("3.") and anthropic.__version__.startswith("2.")


@pytest.mark.parametrize(("status", "name"), [(429, "RateLimitError"), (500, "InternalServerError"),
                                              (503, "InternalServerError"), (404, "NotFoundError"),
                                              (400, "BadRequestError")])
def test_openai_raises_the_table_s_exception_for_each_status(status, name):
    """The table: a 429 is RateLimitError, any 5xx (503 included) InternalServerError; 404 and 400 are their own."""
    assert _openai_raises(status).__name__ == name


@pytest.mark.parametrize(("status", "name"), [(429, "RateLimitError"), (500, "InternalServerError"),
                                              (529, "OverloadedError"), (404, "NotFoundError"),
                                              (400, "BadRequestError")])
def test_anthropic_raises_the_table_s_exception_for_each_status(status, name):
    """The table: a 429 is RateLimitError, a 500 InternalServerError, a 529 OverloadedError."""
    assert _anthropic_raises(status).__name__ == name


def test_one_except_internal_server_error_takes_an_anthropic_overload():
    """'OverloadedError (529), a subclass of InternalServerError': the exercise's one except clause takes both."""
    assert issubclass(anthropic.OverloadedError, anthropic.InternalServerError)


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
def test_a_timeout_is_a_connection_error_so_it_is_caught_first(sdk):
    """'APITimeoutError is a subclass of APIConnectionError': the order of the except clauses matters."""
    assert issubclass(sdk.APITimeoutError, sdk.APIConnectionError)


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
def test_every_api_error_is_an_exception_so_except_exception_swallows_it(sdk):
    """Every exception in the table derives from the SDK's APIError, and so from Exception."""
    for name in ("RateLimitError", "InternalServerError", "APITimeoutError", "APIConnectionError",
                 "NotFoundError", "BadRequestError"):
        error = getattr(sdk, name)
        assert issubclass(error, sdk.APIError) and issubclass(error, Exception), name


def test_openai_finish_reasons_include_length_and_content_filter():
    """A cut reply says finish_reason 'length', a filtered one 'content_filter' (Chat Completions' Literal)."""
    reasons = set(typing.get_args(Choice.model_fields["finish_reason"].annotation))
    assert {"stop", "length", "content_filter"} <= reasons


def test_anthropic_stop_reasons_include_max_tokens_and_refusal():
    """A cut reply says stop_reason 'max_tokens', a refusal 'refusal' (the SDK's StopReason Literal)."""
    assert {"end_turn", "max_tokens", "refusal"} <= set(typing.get_args(StopReason))


def test_only_openai_s_parse_helpers_raise_for_length_and_content_filter():
    """openai has LengthFinishReasonError and ContentFilterFinishReasonError (raised by parse()); create() returns the
    reply and leaves the reason to the caller. Both derive from OpenAIError, not APIError."""
    for name in ("LengthFinishReasonError", "ContentFilterFinishReasonError"):
        error = getattr(openai, name)
        assert issubclass(error, openai.OpenAIError) and not issubclass(error, openai.APIError)
