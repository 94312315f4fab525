"""Live mode, tested without the internet: its transport against `faultfirst serve` on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx2
import openai
import pytest

from faultfirst import SpendCapExceeded, World
from faultfirst._catalog import CATALOG, LIVE_MODELS
from faultfirst._fixtures import FixtureError, load_fixtures
from faultfirst._behaviour import Prompt
from faultfirst._keys import MissingKey, api_key
from faultfirst._live import LiveTransport, UnknownAlias
from faultfirst._server import WorldServer, serve_world, serving
from tests.conftest import ask

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
                           http_client=httpx2.Client(transport=LiveTransport(world, "openai", httpx2.MockTransport(api))))
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
    assert replayed == reply.content[0].text


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
