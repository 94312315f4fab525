"""Pins the SDK facts the world and the lessons rely on (docs/sdk-facts.md).

If an SDK upgrade changes one of these, this file fails and names the fact.
"""

from __future__ import annotations

import anthropic
import anthropic._base_client
import anthropic._constants
import httpx2
import openai
import openai._base_client
import openai._constants
import pytest

from faultfirst import World

SDKS = [pytest.param(openai, openai.OpenAI, id="openai"), pytest.param(anthropic, anthropic.Anthropic, id="anthropic")]


def _client(cls):
    return cls(api_key="test",
               http_client=httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(200))))


def _response(status: int, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, headers=headers, request=httpx2.Request("POST", "https://example.invalid"))


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_default_timeout_and_retries(sdk, cls):
    """Both SDKs default to 600 s (connect 5 s) and two retries."""
    constants = sdk._constants
    assert httpx2.Timeout(timeout=600, connect=5.0) == constants.DEFAULT_TIMEOUT
    assert constants.DEFAULT_MAX_RETRIES == 2
    assert (constants.INITIAL_RETRY_DELAY, constants.MAX_RETRY_DELAY) == (0.5, 8.0)


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_backoff_formula(sdk, cls, monkeypatch):
    """Back-off is min(0.5 * 2**n, 8) s times (1 - 0.25 * random())."""
    client = _client(cls)
    options = sdk._models.FinalRequestOptions(method="post", url="/x", max_retries=6)
    for jitter_draw, factor in ((0.0, 1.0), (1.0, 0.75)):
        monkeypatch.setattr(sdk._base_client, "random", lambda jitter_draw=jitter_draw: jitter_draw)
        delays = [client._calculate_retry_timeout(remaining, options, None) for remaining in range(6, 0, -1)]
        assert delays == pytest.approx([min(0.5 * 2**n, 8.0) * factor for n in range(6)])


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_retried_statuses(sdk, cls):
    """408, 409, 429 and 5xx are retried; other 4xx are not; x-should-retry overrides."""
    client = _client(cls)
    retried = {s for s in (400, 401, 403, 404, 408, 409, 422, 429, 500, 503, 529) if client._should_retry(_response(s))}
    assert retried == {408, 409, 429, 500, 503, 529}
    assert client._should_retry(_response(400, **{"x-should-retry": "true"}))
    assert not client._should_retry(_response(503, **{"x-should-retry": "false"}))


def test_long_retry_after():
    """OpenAI will not retry when retry-after exceeds 120 s; Anthropic waits as long as it is told."""
    assert openai._constants.MAX_RETRY_AFTER_DELAY == 120
    gpt, claude = _client(openai.OpenAI), _client(anthropic.Anthropic)
    assert gpt._should_retry(_response(429, **{"retry-after": "120"}))
    assert not gpt._should_retry(_response(429, **{"retry-after": "121"}))
    assert claude._should_retry(_response(429, **{"retry-after": "3600"}))
    claude_options = anthropic._models.FinalRequestOptions(method="post", url="/x", max_retries=2)
    assert claude._calculate_retry_timeout(2, claude_options, _response(429, **{"retry-after": "3600"}).headers) == 3600
    gpt_options = openai._models.FinalRequestOptions(method="post", url="/x", max_retries=2)
    assert gpt._calculate_retry_timeout(2, gpt_options, _response(429, **{"retry-after-ms": "1500"}).headers) == 1.5


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_sleep_and_jitter_are_module_globals(sdk, cls):
    """The sync retry sleep and the jitter are `time` and `random` globals of _base_client, which the world routes."""
    World()  # installs the routing
    module = sdk._base_client
    assert "time.sleep(timeout)" in _source(module.SyncAPIClient._sleep_for_retry)
    assert "random()" in _source(module.BaseClient._calculate_retry_timeout)
    assert "anyio.sleep(timeout)" in _source(module.AsyncAPIClient._sleep_for_retry)
    assert type(module.time).__name__ == "_TimeForSDK" and module.random.__module__ == "faultfirst.clock.sdk_sleep"


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_async_platform_lookup(sdk, cls):
    """Async clients look up the platform in a worker thread unless _platform is already set."""
    assert "asyncify(get_platform)" in _source(sdk._base_client.AsyncAPIClient)


def _source(obj) -> str:
    import inspect

    return inspect.getsource(obj)


def test_anthropic_messages_take_no_sampling_parameters():
    """anthropic 2.x Messages.create has no temperature/top_p/top_k; openai 3.x chat still takes temperature."""
    import inspect

    anthropic_params = inspect.signature(anthropic.resources.messages.Messages.create).parameters
    assert not {"temperature", "top_p", "top_k"} & set(anthropic_params)
    assert "temperature" in inspect.signature(openai.resources.chat.Completions.create).parameters


def test_anthropic_refuses_long_non_streaming_requests():
    """anthropic 2.x raises ValueError before sending a non-streaming request whose max_tokens implies > 10 minutes."""
    client = _client(anthropic.Anthropic)
    assert client._calculate_nonstreaming_timeout(21_333, None) == httpx2.Timeout(600, connect=5.0)
    with pytest.raises(ValueError, match="Streaming is required"):
        client._calculate_nonstreaming_timeout(21_334, None)


def test_max_tokens_is_required_by_anthropic_and_optional_for_openai():
    """anthropic 2.x Messages.create requires max_tokens; openai 3.x Chat Completions does not."""
    import inspect

    anthropic_max = inspect.signature(anthropic.resources.messages.Messages.create).parameters["max_tokens"]
    openai_max = inspect.signature(openai.resources.chat.Completions.create).parameters["max_tokens"]
    assert anthropic_max.default is inspect.Parameter.empty
    assert openai_max.default is not inspect.Parameter.empty


def test_anthropic_wraps_foreign_transport_errors_and_openai_does_not():
    """anthropic 2.x turns any non-Anthropic exception from the HTTP layer into APIConnectionError; openai 3.x lets it
    through."""
    def broken(request):
        raise LookupError("not a network problem")

    transport = httpx2.MockTransport(broken)
    claude = anthropic.Anthropic(api_key="t", max_retries=0, http_client=httpx2.Client(transport=transport))
    gpt = openai.OpenAI(api_key="t", max_retries=0, http_client=httpx2.Client(transport=transport))
    with pytest.raises(anthropic.APIConnectionError) as wrapped:
        claude.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}])
    assert isinstance(wrapped.value.__cause__, LookupError)
    with pytest.raises(LookupError):
        gpt.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_world_refusals_reach_the_caller_unwrapped_from_both_sdks():
    """The world's client-side errors subclass both SDKs' base errors, so neither SDK wraps or retries them."""
    from faultfirst import SpendCapExceeded

    world = World(seed=0, spend_cap_usd=0.0)
    with pytest.raises(SpendCapExceeded):
        world.anthropic(max_retries=2).messages.create(model="claude-fast", max_tokens=10,
                                                       messages=[{"role": "user", "content": "x"}])
    with pytest.raises(SpendCapExceeded):
        world.openai(max_retries=2).chat.completions.create(model="gpt-fast",
                                                            messages=[{"role": "user", "content": "x"}])
    assert world.requests == []


def test_only_the_anthropic_sdk_sends_anthropic_version():
    """GET /v1/models is the same path in both APIs; `faultfirst serve` tells the SDKs apart by this header."""
    seen: dict[str, httpx2.Headers] = {}

    def recorder(name: str):
        def handler(request: httpx2.Request) -> httpx2.Response:
            seen[name] = request.headers
            return httpx2.Response(200, json={"object": "list", "data": [], "has_more": False,
                                              "first_id": None, "last_id": None})
        return httpx2.Client(transport=httpx2.MockTransport(handler))

    list(openai.OpenAI(api_key="k", http_client=recorder("openai")).models.list())
    list(anthropic.Anthropic(api_key="k", http_client=recorder("anthropic")).models.list())
    assert "anthropic-version" in seen["anthropic"] and "anthropic-version" not in seen["openai"]


def test_both_sdks_take_their_base_url_from_the_environment(monkeypatch):
    """OPENAI_BASE_URL and ANTHROPIC_BASE_URL aim unchanged code elsewhere, which is how a lesson is recorded
    against a proxy or `faultfirst serve` without editing it."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    assert str(openai.OpenAI(api_key="k").base_url) == "http://127.0.0.1:9/v1/"
    assert str(anthropic.Anthropic(api_key="k").base_url) == "http://127.0.0.1:9"


def test_stop_reasons_the_sdks_list():
    """first-calls' table of endings lists every value of openai 3.x's finish_reason, Response.status and
    incomplete_details.reason, and of anthropic 2.x's StopReason; a new value fails here first."""
    from typing import get_args

    from anthropic.types import StopReason
    from openai.types.chat.chat_completion import Choice
    from openai.types.responses.response import IncompleteDetails
    from openai.types.responses.response_status import ResponseStatus

    assert set(get_args(Choice.model_fields["finish_reason"].annotation)) == {
        "stop", "length", "tool_calls", "content_filter", "function_call"}
    assert set(get_args(ResponseStatus)) == {"completed", "failed", "in_progress", "cancelled", "queued", "incomplete"}
    reasons = get_args(IncompleteDetails.model_fields["reason"].annotation)
    assert set(get_args(reasons[0])) == {"max_output_tokens", "max_messages", "content_filter", "steered"}
    assert set(get_args(StopReason)) == {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                                         "model_context_window_exceeded"}


def test_openai_deprecates_max_tokens_for_max_completion_tokens():
    """openai 3.x Chat Completions takes max_completion_tokens and documents max_tokens as deprecated in its favour;
    the world honours max_completion_tokens as the output limit."""
    import inspect

    create = openai.resources.chat.Completions.create
    assert "max_completion_tokens" in inspect.signature(create).parameters
    doc = _source(openai.resources.chat.completions.completions)
    assert "This value is now deprecated in favor of `max_completion_tokens`" in doc
    world = World(seed=1)
    cut = world.openai().chat.completions.create(model="gpt-fast", max_completion_tokens=5,
                                                 messages=[{"role": "user", "content": "Explain timeouts."}])
    assert cut.usage and (cut.choices[0].finish_reason, cut.usage.completion_tokens) == ("length", 5)


def test_anthropic_returns_several_text_blocks_and_scripted_endings_parse():
    """A fixture's multi-block reply reaches anthropic 2.x as several TextBlocks; its stop_sequence, refusal and
    content-filter endings parse as the SDKs' own values (Responses: incomplete, reason content_filter)."""
    world = World(seed=1)
    claude, gpt = world.anthropic(), world.openai()

    def ask(prompt):
        return claude.messages.create(model="claude-fast", max_tokens=300,
                                      messages=[{"role": "user", "content": prompt}])

    blocks = ask("How long is the refund window? Quote the policy.").content
    assert len(blocks) == 3 and all(b.type == "text" for b in blocks)
    ended = ask("List three reasons a streamed reply can stop early, then write END.")
    assert (ended.stop_reason, ended.stop_sequence) == ("stop_sequence", "END")
    refused = "Write an email that tricks our customers into sending their passwords."
    assert ask(refused).stop_reason == "refusal"
    chat = gpt.chat.completions.create(model="gpt-fast", messages=[{"role": "user", "content": refused}])
    assert chat.choices[0].finish_reason == "content_filter"
    response = gpt.responses.create(model="gpt-fast", input=refused)
    assert response.incomplete_details
    assert (response.status, response.incomplete_details.reason) == ("incomplete", "content_filter")
    cut = gpt.responses.create(model="gpt-fast", input="Explain timeouts.", max_output_tokens=16)
    assert cut.incomplete_details and (cut.status, cut.incomplete_details.reason) == ("incomplete", "max_output_tokens")
