"""Live mode, tested without the internet: its transport against `faultfirst serve` on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx2
import openai
import pytest
from anthropic.types import RawMessageStreamEvent, TextDelta
from openai.types.chat import ChatCompletionChunk

from faultfirst import SpendCapExceeded, World
from faultfirst.live.keys import MissingKey, api_key
from faultfirst.live.transport import LiveTransport, UnknownAlias
from faultfirst.model.catalog import CATALOG, LIVE_MODELS
from faultfirst.model.fixtures import FixtureError, load_fixtures
from faultfirst.model.prompt import Prompt
from faultfirst.serve import WorldServer, serving
from tests.conftest import ask, first_text, gathered_calls

FAKE_KEYS = {"OPENAI_API_KEY": "test-openai-not-a-key", "ANTHROPIC_API_KEY": "test-anthropic-not-a-key"}


@pytest.fixture
def keys(monkeypatch) -> None:
    for name, value in FAKE_KEYS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def server() -> Iterator[WorldServer]:
    with serving(seed=0, port=0, speed=1000) as running:
        yield running


def test_every_alias_has_a_real_id_the_installed_sdk_knows():
    """Each catalogue alias maps to a real model id for its provider, listed in the SDK's own model literal."""
    import typing

    from anthropic.types import ModelParam
    from openai.types.shared import ChatModel

    known = {"openai": set(typing.get_args(ChatModel)),
             "anthropic": {a for arg in typing.get_args(ModelParam) for a in typing.get_args(arg)}}
    for spec in CATALOG.values():
        real = LIVE_MODELS[spec.provider][spec.name]
        assert real in known[spec.provider], f"{spec.name} -> {real} is not a model the installed SDK knows"
        assert CATALOG.resolve(real) is spec


def test_live_mode_needs_an_explicit_switch(monkeypatch, keys):
    """A key in the environment does not turn live mode on; FAULTFIRST_LIVE=1 does; a typo is an error."""
    monkeypatch.delenv("FAULTFIRST_LIVE", raising=False)
    assert World().live is False
    monkeypatch.setenv("FAULTFIRST_LIVE", "1")
    assert World().live is True and World(live=False).live is False
    monkeypatch.setenv("FAULTFIRST_LIVE", "maybe")
    with pytest.raises(ValueError, match="FAULTFIRST_LIVE"):
        World()


def test_a_missing_key_is_a_clear_error(monkeypatch, tmp_path):
    """Live mode without a key names the variable to set; nothing else is needed to run simulated."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingKey, match="OPENAI_API_KEY"):
        World(live=True).openai()


def test_keys_come_from_a_dotenv_file(monkeypatch, tmp_path):
    """A .env file (comments, export, quotes) supplies a key the environment lacks."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    (tmp_path / ".env").write_text("# local keys\nexport ANTHROPIC_API_KEY='test-from-dotenv'\n")
    assert api_key("anthropic", search=(tmp_path / "sub",)) == "test-from-dotenv"


@pytest.mark.loopback
def test_async_live_clients_wait_on_their_sockets(keys):
    """Under world.run in live mode the loop waits on the network for real: ten concurrent calls all answer."""
    import asyncio
    import time

    async def ten(client):
        return await asyncio.gather(*(client.chat.completions.create(model="gpt-fast", max_tokens=5,
                                                                     messages=ask(f"q{i}")) for i in range(10)))

    world = World(live=True)
    with serving(seed=0, port=0, speed=20) as slow:  # each reply takes tens of real milliseconds
        began = time.monotonic()
        replies = world.run(ten(world.async_openai(base_url=f"{slow.base_url}/v1", timeout=5)))
    assert all(reply.choices[0].message.content for reply in replies)
    assert [record.status for record in world.requests] == [200] * 10
    assert time.monotonic() - began < 4  # answered as the replies came, not when a timer ran out


def test_the_dotenv_search_starts_where_the_call_is_made(monkeypatch, tmp_path):
    """The .env looked for is the one above the working directory of the call, not of the import."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / ".env").write_text(f"OPENAI_API_KEY=test-{name}\n")
    monkeypatch.chdir(tmp_path / "first")
    assert api_key("openai") == "test-first"
    monkeypatch.chdir(tmp_path / "second")
    assert api_key("openai") == "test-second"


@pytest.mark.loopback
def test_live_transport_against_the_served_world(server, keys):
    """Live clients reach a real HTTP server, and world.requests records the real usage and catalogue cost."""
    world = World(live=True)
    gpt = world.openai(base_url=f"{server.base_url}/v1")
    claude = world.anthropic(base_url=server.base_url)
    completion = gpt.chat.completions.create(model="gpt-fast", messages=ask("Say this is a test"))
    with claude.messages.stream(model="claude-fast", max_tokens=60, messages=ask("Say this is a test")) as stream:
        streamed = "".join(stream.text_stream)
    assert completion.choices[0].message.content == streamed == "This is a test."
    first, second = world.requests
    assert completion.usage
    assert (first.model, first.status, first.output_tokens) == ("gpt-fast", 200, completion.usage.completion_tokens)
    assert second.stream and second.output_tokens > 0 and second.input_tokens > 0
    assert first.cost_usd == pytest.approx(CATALOG["gpt-fast"].cost_usd(first.input_tokens, first.output_tokens))
    assert len(server.world.requests) == 2


def test_the_real_model_id_is_what_is_sent(keys):
    """The outgoing body carries the real id for the alias; the key goes only in the auth header."""
    seen: list[httpx2.Request] = []

    def api(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                          "choices": [{"index": 0, "finish_reason": "stop",
                                                       "message": {"role": "assistant", "content": "hi"}}],
                                          "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})

    world = World(live=True)
    client = openai.OpenAI(api_key=api_key("openai"), max_retries=0,
                           http_client=httpx2.Client(transport=LiveTransport(world._session, "openai",
                                                                             httpx2.MockTransport(api))))
    client.chat.completions.create(model="gpt-strong", messages=ask("hi"))
    [sent] = seen
    assert json.loads(sent.content)["model"] == LIVE_MODELS["openai"]["gpt-strong"]
    assert FAKE_KEYS["OPENAI_API_KEY"] not in sent.content.decode()
    assert (world.requests[0].input_tokens, world.requests[0].output_tokens) == (3, 1)


def test_unknown_alias_is_refused_before_sending(keys):
    """A model with no live id is refused with the list of aliases, and nothing is sent."""
    world = World(live=True)
    with pytest.raises(UnknownAlias, match="gpt-fast, gpt-strong"):
        world.openai(base_url="http://127.0.0.1:9/v1").chat.completions.create(model="gpt-huge", messages=ask("hi"))
    assert world.requests == []


@pytest.mark.loopback
def test_scenario_faults_are_injected_in_front_of_the_api(server, keys):
    """In live mode an outage is answered locally: the SDK sees a 503 and the API never sees the call."""
    world = World(live=True, scenario="outage")
    with pytest.raises(openai.InternalServerError):
        world.openai(base_url=f"{server.base_url}/v1").chat.completions.create(model="gpt-fast", messages=ask("hi"))
    assert world.requests[0].status == 503 and server.world.requests == []


@pytest.mark.loopback
def test_live_spend_cap_defaults_to_a_few_dollars(server, keys):
    """Live worlds are capped by default; a call that could exceed the cap is never sent."""
    world = World(live=True)
    assert world.spend_cap_usd == 2.00
    with pytest.raises(SpendCapExceeded):
        world.anthropic(base_url=server.base_url).messages.create(
            model="claude-strong", max_tokens=200_000, messages=ask("hi"), stream=True)
    assert server.world.requests == []


@pytest.mark.loopback
def test_record_mode_saves_replies_the_simulated_world_replays(server, keys, tmp_path):
    """Record mode writes fixtures (prompt and reply only: no key, no header) that match the same prompt later."""
    path = tmp_path / "recorded.json"
    world = World(live=True, record_to=path)
    client = world.anthropic(base_url=server.base_url)
    reply = client.messages.create(model="claude-fast", max_tokens=200, system="Be brief.",
                                   messages=ask("Why do retries need jitter?"))
    text = path.read_text()
    assert FAKE_KEYS["ANTHROPIC_API_KEY"] not in text and "x-api-key" not in text.lower()
    replayed = load_fixtures(path).match(Prompt(system="Be brief.", user="Why do retries need jitter?",
                                                provider="anthropic", model="claude-fast"))
    assert replayed == first_text(reply)


def test_record_mode_refuses_a_corrupt_fixture_file(tmp_path, keys):
    """A corrupt fixture file is named and left untouched rather than overwritten."""
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(FixtureError, match="broken.json"):
        World(live=True, record_to=path)
    assert path.read_text() == "{not json"


def test_record_needs_live_mode():
    """Recording without live mode is a clear error (there is nothing real to record)."""
    with pytest.raises(ValueError, match="live mode"):
        World(record_to="x.json")


@pytest.mark.loopback
def test_gathered_live_calls_cannot_overshoot_the_cap(server, keys):
    """Forty live calls at once: each holds its worst case while in flight, so the cap is never overshot."""
    world = World(live=True, spend_cap_usd=0.01)
    results = gathered_calls(world, world.async_openai(base_url=f"{server.base_url}/v1"), 40, max_tokens=150)
    refused = [r for r in results if isinstance(r, SpendCapExceeded)]
    answered = [r for r in results if isinstance(r, openai.types.chat.ChatCompletion)]
    assert refused and answered and len(refused) + len(answered) == 40
    assert sum(r.cost_usd for r in world.requests) <= 0.01 and world._spend.held() == 0
    assert len(server.world.requests) == len(answered)  # the refused ones never left


@pytest.mark.loopback
def test_a_live_stream_without_usage_is_still_costed(server, keys):
    """An OpenAI stream without include_usage carries no usage; the world counts its tokens itself."""
    world = World(live=True)
    chunks = list(world.openai(base_url=f"{server.base_url}/v1").chat.completions.create(
        model="gpt-fast", messages=ask("Why do retries need jitter?"), stream=True))
    assert all(chunk.usage is None for chunk in chunks)
    [mine], [served] = world.requests, server.world.requests
    assert (mine.input_tokens, mine.output_tokens) == (served.input_tokens, served.output_tokens)
    assert mine.output_tokens > 0 and mine.cost_usd == pytest.approx(served.cost_usd)


@pytest.mark.loopback
def test_a_timed_out_live_call_is_booked_at_its_worst_case(keys):
    """A call that timed out may have been billed, for an amount nobody reports: it is booked at its worst case."""
    with serving(seed=0, port=0, speed=1) as slow:  # real time: gpt-strong takes seconds
        world = World(live=True)
        client = world.openai(base_url=f"{slow.base_url}/v1", timeout=0.05)
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="gpt-strong", max_tokens=300, messages=ask("hi"))
    [record] = world.requests
    usage = World().openai().chat.completions.create(model="gpt-strong", messages=ask("hi"), max_tokens=1).usage
    assert usage
    prompt_tokens = usage.prompt_tokens
    assert record.error == "timeout" and record.status is None
    assert record.cost_usd == pytest.approx(CATALOG["gpt-strong"].cost_usd(prompt_tokens, 300))
    assert world._spend.held() == 0


SCRIPTED = "Served reply: a retry budget caps retries at a share of all calls."


@pytest.fixture
def scripted_server(tmp_path) -> Iterator[WorldServer]:
    """A served world that says SCRIPTED to one question, so a recording of it cannot be mistaken for the engine."""
    script = tmp_path / "served.json"
    script.write_text(json.dumps({"fixtures": [{"match": {"equals": "What is a retry budget?"}, "reply": SCRIPTED}]}))
    with serving(seed=0, port=0, speed=1000, fixtures=script) as running:
        yield running


@pytest.mark.loopback
def test_record_mode_saves_request_response_pairs_that_replay_through_the_sdks(scripted_server, keys, tmp_path):
    """Plain and streamed exchanges with both providers are saved as pairs without credentials, and a
    simulated world given the file answers the same prompts with the recorded replies."""
    path = tmp_path / "recorded.json"
    world = World(live=True, record_to=path)
    url, question = scripted_server.base_url, ask("What is a retry budget?")
    gpt, claude = world.openai(base_url=f"{url}/v1"), world.anthropic(base_url=url)
    gpt.chat.completions.create(model="gpt-fast", messages=question, extra_headers={"OpenAI-Organization": "org-me"})
    list(gpt.chat.completions.create(model="gpt-strong", messages=question, stream=True))
    with claude.messages.stream(model="claude-fast", max_tokens=100, system="Be brief.", messages=question) as stream:
        stream.until_done()

    text = path.read_text()
    for secret in (*FAKE_KEYS.values(), "org-me", "authorization", "x-api-key", "organization"):
        assert secret not in text.lower()
    entries = json.loads(text)["fixtures"]
    assert [e["match"]["model"] for e in entries] == ["gpt-fast", "gpt-strong", "claude-fast"]
    assert all(e["reply"] == SCRIPTED for e in entries)
    plain, streamed, claude_streamed = (e["recorded"] for e in entries)
    assert plain["live_model"] == LIVE_MODELS["openai"]["gpt-fast"] and plain["request"]["body"]["model"] == "gpt-fast"
    assert plain["response"]["status"] == 200 and plain["response"]["body"]["object"] == "chat.completion"
    assert streamed["response"]["events"][0]["object"] == "chat.completion.chunk"
    assert claude_streamed["request"]["headers"]["anthropic-version"]
    assert claude_streamed["request"]["path"] == "/v1/messages"
    assert {e["type"] for e in claude_streamed["response"]["events"]} >= {"message_start", "content_block_delta"}

    replaying = World(seed=0, fixtures=path)
    assert replaying.openai().chat.completions.create(model="gpt-fast", messages=question).choices[0].message.content \
        == SCRIPTED
    reply = replaying.anthropic().messages.create(model="claude-fast", max_tokens=100, system="Be brief.",
                                                  messages=question)
    assert first_text(reply) == SCRIPTED
    assert World(seed=0).openai().chat.completions.create(
        model="gpt-fast", messages=question).choices[0].message.content != SCRIPTED


@pytest.mark.loopback
def test_the_environment_switches_recording_on_for_every_live_world(scripted_server, keys, monkeypatch, tmp_path):
    """FAULTFIRST_LIVE=1 with FAULTFIRST_RECORD=path records lessons run unchanged (the base URLs come from the
    SDKs' own OPENAI_BASE_URL / ANTHROPIC_BASE_URL, as they would point at a proxy)."""
    path = tmp_path / "lessons.json"
    monkeypatch.setenv("FAULTFIRST_LIVE", "1")
    monkeypatch.setenv("FAULTFIRST_RECORD", str(path))
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted_server.base_url}/v1")
    world = World(seed=3)
    assert world.live
    world.openai().chat.completions.create(model="gpt-fast", messages=ask("What is a retry budget?"))
    assert [e["reply"] for e in json.loads(path.read_text())["fixtures"]] == [SCRIPTED]
    monkeypatch.delenv("FAULTFIRST_LIVE")
    assert World(seed=3)._recorder is None  # a simulated world has nothing real to record


@pytest.mark.loopback
def test_another_providers_alias_goes_to_the_api_to_be_refused(server, keys):
    """A lesson's deliberate mistake (a Claude alias on the OpenAI client) meets the API's 404, as it does simulated."""
    world = World(live=True)
    with pytest.raises(openai.NotFoundError):
        world.openai(base_url=f"{server.base_url}/v1").chat.completions.create(model="claude-fast", messages=ask("hi"))
    assert world.requests[0].status == 404 and len(server.world.requests) == 1


@pytest.mark.loopback
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_broken_stream_is_injected_into_a_real_one(server, keys, provider):
    """In a scenario with broken streams, live mode cuts some real streams and puts the provider's error event
    in their place: the SDK raises mid-stream after some text, as it does against the simulation."""
    world = World(live=True, scenario="overloaded", seed=5)
    base_url = f"{server.base_url}/v1" if provider == "openai" else server.base_url
    client = world.openai(base_url=base_url) if provider == "openai" else world.anthropic(base_url=base_url)
    texts = []  # what arrived before each stream that broke in the loop (not at create(): that is a 5xx)
    for i in range(30):
        pieces, question = [], ask(f"Explain backoff, take {i}.")
        try:
            stream: openai.Stream[ChatCompletionChunk] | anthropic.Stream[RawMessageStreamEvent]
            if isinstance(client, openai.OpenAI):
                stream = client.chat.completions.create(model="gpt-fast", stream=True, max_tokens=300,
                                                        messages=question)
            else:
                stream = client.messages.create(model="claude-fast", stream=True, max_tokens=300, messages=question)
        except (openai.APIError, anthropic.APIError):
            continue  # the scenario's overloads and resets, answered locally
        try:
            for item in stream:
                if isinstance(item, ChatCompletionChunk):
                    pieces += [choice.delta.content or "" for choice in item.choices]
                elif item.type == "content_block_delta":
                    assert isinstance(item.delta, TextDelta)
                    pieces.append(item.delta.text)
        except (openai.APIError, anthropic.APIError):
            texts.append("".join(pieces))
    broken = [r for r in world.requests if r.error == "stream error"]
    assert texts and len(broken) == len(texts) and all(texts)
    assert all(r.output_tokens > 0 and r.cost_usd > 0 for r in broken)
