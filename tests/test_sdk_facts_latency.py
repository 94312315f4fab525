"""Pins the SDK facts the lesson "Latency and randomness" (book/tier1/latency.md) states.

That `anthropic` 2.x `Messages.create` has no `temperature` at all is already pinned in
tests/test_sdk_facts.py (test_anthropic_messages_take_no_sampling_parameters); this file
pins what the lesson adds on top of it.
"""

from __future__ import annotations

import inspect

import anthropic
import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletion


def _recording_client(cls, sent: list[httpx2.Request], **options):
    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(500, json={"error": {"message": "not a real API"}})

    return cls(api_key="test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
               **options)


def _chat_create_docs() -> str:
    """The docstrings of Chat Completions' `create` overloads (the public method itself has none), one line."""
    return " ".join(inspect.getsource(openai.resources.chat.completions.completions.Completions).split())


def test_openai_chat_takes_temperature_between_0_and_2():
    """openai 3.x Chat Completions takes `temperature`, documented as between 0 and 2."""
    assert "temperature" in inspect.signature(openai.resources.chat.Completions.create).parameters
    assert "temperature: What sampling temperature to use, between 0 and 2." in _chat_create_docs()


def test_openai_seed_is_best_effort_and_points_to_system_fingerprint():
    """openai 3.x documents `seed` as best effort ("Determinism is not guaranteed") and names `system_fingerprint`."""
    assert "seed" in inspect.signature(openai.resources.chat.Completions.create).parameters
    docs = _chat_create_docs()
    assert "seed: This feature is in Beta. If specified, our system will make a best effort" in docs
    assert "Determinism is not guaranteed, and you should refer to the `system_fingerprint` response parameter" in docs


def test_chat_completion_has_an_optional_system_fingerprint():
    """A ChatCompletion carries `system_fingerprint`, optional (None when the API sends none)."""
    field = ChatCompletion.model_fields["system_fingerprint"]
    assert field.default is None and not field.is_required()


def test_anthropic_temperature_is_a_type_error_before_sending():
    """anthropic 2.x: passing temperature= to messages.create raises TypeError and sends nothing."""
    sent: list[httpx2.Request] = []
    client = _recording_client(anthropic.Anthropic, sent)
    with pytest.raises(TypeError, match="unexpected keyword argument 'temperature'"):
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}],
                               temperature=0)
    assert sent == []


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
def test_timeout_error_is_a_connection_error(sdk):
    """APITimeoutError subclasses APIConnectionError in both SDKs, so a connection-error handler catches timeouts."""
    assert issubclass(sdk.APITimeoutError, sdk.APIConnectionError)


def test_client_timeout_number_is_the_read_timeout_of_each_request():
    """openai 3.x: a number given as the client's `timeout` reaches the transport as each request's read timeout."""
    sent: list[httpx2.Request] = []
    client = _recording_client(openai.OpenAI, sent, timeout=10.5)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert sent[0].extensions["timeout"]["read"] == 10.5
