"""Fault kinds: one module each, each drawing one die per attempt from its own seeded stream.

A toy kind defined here, in this file alone, and registered through `faults.registry.register` is
injected and labelled by a world, and shifts no other kind's draw: that is the whole cost of adding
a fault (its module and one registration line). Direct calls, live mode and batch items roll the
same per-kind streams; the `Scenario` fields keep working, and `Scenario.rates` carries new kinds'.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from faultfirst import SCENARIOS, Outage, RateLimits, Scenario, World
from faultfirst.faults import registry
from faultfirst.faults.dice import FaultDice
from faultfirst.faults.kind import Refusal, RefusalFault, ReplyFault, Stage
from tests.conftest import ask

# The toy kind: a flaky gateway in front of the provider that answers 5xx before the rate limiter sees the
# request. It is a value of an existing shape (a refusal at the CONNECT stage) with a name of its own.
GATEWAY = RefusalFault(name="gateway_error", stage=Stage.CONNECT, refusal=Refusal.SERVER_ERROR)

SCHEMA = {"type": "object", "properties": {"customer": {"type": "string"}, "total": {"type": "integer"}},
          "required": ["customer", "total"], "additionalProperties": False}
ROUGH = {"reset", "overload", "stream_error", "malformed_json"}  # the built-in kinds `_rough` rates
CITATION = {"invented_quote", "paraphrase_as_quote", "reversed_quote", "wrong_document", "unprovided_document",
            "offset_error"}
DRAWN = ROUGH | {"refusal", "wrong_meaning", "schema_violation"} | CITATION  # the built-in kinds that roll dice


@pytest.fixture
def gateway() -> Iterator[RefusalFault]:
    registry.register(GATEWAY)
    try:
        yield GATEWAY
    finally:
        registry.unregister(GATEWAY.name)


def _rough(**rates: float) -> Scenario:
    """Every drawn built-in kind at a high rate, no drift, no outage, generous limits: so an attempt's
    labels hang on the dice alone, and the clock cannot move another kind's outcome."""
    return Scenario("rough", "dice only", RateLimits(10_000, 50_000_000), overload_rate=0.2, reset_rate=0.1,
                    stream_error_rate=0.3, malformed_output_rate=0.4, rates=rates)


def _session(world: World, calls: int = 40) -> list[object]:
    """Plain, streamed and structured calls on both SDKs, no retries, errors swallowed; the log's rows."""
    gpt, claude = world.openai(max_retries=0), world.anthropic(max_retries=0)
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "invoice", "schema": SCHEMA, "strict": True}}
    for i in range(calls):
        try:
            if i % 3 == 0:
                gpt.chat.completions.create(model="gpt-fast", messages=ask(f"Invoice {i}: ACME, {i} dollars."),
                                            response_format=fmt)
            elif i % 3 == 1:
                stream = claude.messages.create(model="claude-fast", max_tokens=400, messages=ask(f"Q{i}"), stream=True)
                for _ in stream:
                    pass
            else:
                for _ in gpt.chat.completions.create(model="gpt-fast", messages=ask(f"Q{i}"), stream=True):
                    pass
        except (openai.APIError, anthropic.APIError):
            pass
    return [tuple(vars(r).values()) for r in world.requests]


def test_each_kind_draws_from_its_own_named_stream_one_die_per_attempt(gateway):
    """The n-th roll's die of a kind is the n-th draw of `random.Random(f"{seed}:fault:{name}")`, whichever
    other kinds are registered beside it."""
    with_toy = FaultDice(7, registry.kinds())
    without = FaultDice(7, tuple(k for k in registry.kinds() if k is not gateway))
    rolls = [(with_toy.roll().draws, without.roll().draws) for _ in range(200)]
    streams = {name: random.Random(f"7:fault:{name}") for name in DRAWN | {"gateway_error"}}
    for both, alone in rolls:
        expected = {name: rng.random() for name, rng in streams.items()}
        assert both == expected
        assert alone == {name: expected[name] for name in DRAWN}
    assert "outage" not in rolls[0][0]  # an outage is a window of the scenario: it rolls no die


def test_a_die_read_late_is_the_draw_it_would_have_been_and_one_passed_over_is_refused():
    """Dice are drawn when first read: a kind left unread for 40 attempts (it could not strike) draws the dice it
    skipped, so its 41st die is still the 41st draw of its stream; reading an earlier attempt's die after that is
    a bug in the engine, refused with what to do."""
    dice = FaultDice(3, registry.kinds())
    rolls = [dice.roll() for _ in range(41)]
    stream = random.Random("3:fault:overload")
    expected = [stream.random() for _ in range(41)]
    assert rolls[40].die("overload") == expected[40]
    assert rolls[40].die("overload") == expected[40]  # the same die when asked again
    assert rolls[40].die("outage") is None  # a kind that draws none
    with pytest.raises(RuntimeError, match="passed over"):
        rolls[39].die("overload")


def test_a_toy_kind_registered_from_a_test_is_injected_labelled_and_shifts_no_other_draw():
    """Registered with no rate, the toy changes no record at all. At 30%, its attempts answer 5xx labelled
    "gateway_error" alone, and every other attempt carries the labels of the drawn kinds that the same attempt
    carries in a world without the toy."""
    plain = World(seed=5, scenario=_rough())
    plain_rows = _session(plain)
    registry.register(GATEWAY)
    try:
        idle_rows = _session(World(seed=5, scenario=_rough()))
        flaky = World(seed=5, scenario=_rough(gateway_error=0.3))
        _session(flaky)
    finally:
        registry.unregister(GATEWAY.name)
    assert idle_rows == plain_rows
    struck = [i for i, r in enumerate(flaky.requests) if "gateway_error" in r.faults]
    assert 5 <= len(struck) <= 25  # about 30% of 40
    for i, (record, before) in enumerate(zip(flaky.requests, plain.requests, strict=True)):
        if i in struck:
            expected_status = 503 if record.provider == "openai" else 500
            assert (record.status, record.faults) == (expected_status, ("gateway_error",)), record
            assert "reset" not in before.faults  # a reset, registered first, would have struck first
        else:
            assert ROUGH & set(record.faults) == ROUGH & set(before.faults), (i, record, before)
    seen = {label for r in flaky.requests for label in r.faults}
    assert seen >= ROUGH | {"gateway_error"}


class _Shouted(ReplyFault):
    """A toy reply fault: the structured reply comes back upper-cased (its keys no longer match the schema)."""

    def spoil(self, text: str, schema: dict[str, Any], rng: random.Random) -> str:
        return text.upper()


def test_a_toy_reply_kind_spoils_structured_replies_only():
    """A reply kind defined here, at rate 1: a JSON reply comes back spoiled and labelled; prose is left alone."""
    shouted = _Shouted(name="shouted_json")
    registry.register(shouted)
    try:
        world = World(scenario=Scenario("loud", "", rates={"shouted_json": 1.0}))
    finally:
        registry.unregister(shouted.name)
    gpt = world.openai(max_retries=0)
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "invoice", "schema": SCHEMA, "strict": True}}
    structured = gpt.chat.completions.create(model="gpt-fast", messages=ask("Invoice for ACME, 120 dollars."),
                                             response_format=fmt).choices[0].message.content
    prose = gpt.chat.completions.create(model="gpt-fast", messages=ask("Explain retries.")).choices[0].message.content
    assert structured is not None and prose is not None
    assert structured == structured.upper() and '"CUSTOMER"' in structured
    assert prose != prose.upper()
    assert [r.faults for r in world.requests] == [("shouted_json",), ()]


def test_removing_a_kinds_rate_keeps_every_other_kinds_outcomes():
    """Setting stream_error_rate to 0 changes only which attempts say "stream_error"; the rest keep their labels."""
    full = World(seed=2, scenario=_rough())
    _session(full)
    calmer = World(seed=2, scenario=dataclasses.replace(_rough(), stream_error_rate=0.0))
    _session(calmer)
    assert not any("stream_error" in r.faults for r in calmer.requests)
    for a, b in zip(full.requests, calmer.requests, strict=True):
        assert set(a.faults) - {"stream_error"} == set(b.faults) - {"stream_error"}


def test_batch_items_and_direct_calls_roll_the_same_streams():
    """At overload_rate 0.5 alone, the n-th attempt is overloaded when the n-th draw of `{seed}:fault:overload` is
    under 0.5: for direct calls and for the items of a batch alike."""
    scenario = dataclasses.replace(SCENARIOS["calm"], name="half-overloaded", overload_rate=0.5)
    rng = random.Random("3:fault:overload")
    expected = [rng.random() < 0.5 for _ in range(12)]
    direct = World(seed=3, scenario=scenario)
    claude = direct.anthropic(max_retries=0)
    for i in range(12):
        with contextlib.suppress(anthropic.APIError):
            claude.messages.create(model="claude-fast", max_tokens=20, messages=ask(f"Q{i}"))
    assert ["overload" in r.faults for r in direct.requests] == expected
    batched = World(seed=3, scenario=scenario)
    client = batched.anthropic()
    batch = client.messages.batches.create(requests=[
        {"custom_id": f"q{i}", "params": {"model": "claude-fast", "max_tokens": 20, "messages": ask(f"Q{i}")}}
        for i in range(12)])
    batched.clock.sleep(4 * 3600)
    assert len(list(client.messages.batches.results(batch.id))) == 12
    items = [r for r in batched.requests if r.endpoint == "batch:messages"]
    assert ["overload" in r.faults for r in items] == expected


@pytest.fixture
def live_keys(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-openai-not-a-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-anthropic-not-a-key")


@pytest.mark.loopback
def test_live_mode_rolls_the_same_streams(live_keys):
    """Live mode in front of a (loopback) API overloads the same attempts a simulated world with that seed does."""
    from faultfirst.serve import serving

    scenario = dataclasses.replace(SCENARIOS["calm"], name="half-overloaded", overload_rate=0.5)
    rng = random.Random("4:fault:overload")
    expected = [rng.random() < 0.5 for _ in range(8)]
    with serving(seed=0, port=0, speed=1000) as server:
        live = World(live=True, seed=4, scenario=scenario)
        gpt = live.openai(base_url=f"{server.base_url}/v1", max_retries=0)
        for i in range(8):
            with contextlib.suppress(openai.APIError):
                gpt.chat.completions.create(model="gpt-fast", messages=ask(f"Q{i}"))
    assert ["overload" in r.faults for r in live.requests] == expected
    assert [r.status for r in live.requests] == [503 if hit else 200 for hit in expected]


def test_scenario_fields_stay_and_rates_name_only_kinds_that_read_them(gateway):
    """The old rate fields and the named scenarios work as before; `rates` is read-only, and a name in it that no
    registered kind reads (a typo, or a built-in kind with a field of its own) is refused when the world is made."""
    old = Scenario("mine", "old fields", overload_rate=0.08, reset_rate=0.02, stream_error_rate=0.05,
                   malformed_output_rate=0.2, outage=Outage("anthropic", 0.0, 60.0))
    assert (old.overload_rate, old.rates, hash(old) == hash(dataclasses.replace(old))) == (0.08, {}, True)
    assert SCENARIOS["bad-day"].overload_rate == 0.08 and World(scenario="bad-day").scenario is SCENARIOS["bad-day"]
    toy = Scenario("toy", "a new kind", rates={"gateway_error": 1.0})
    with pytest.raises(TypeError):
        toy.rates["gateway_error"] = 0.0  # type: ignore[index]
    world = World(scenario=toy)
    with pytest.raises(openai.InternalServerError):
        world.openai(max_retries=0).chat.completions.create(model="gpt-fast", messages=ask("hi"))
    assert world.requests[0].faults == ("gateway_error",)
    with pytest.raises(ValueError, match="gatway_error.*rates can set: gateway_error"):
        World(scenario=Scenario("typo", "", rates={"gatway_error": 0.5}))
    with pytest.raises(ValueError, match="Scenario.overload_rate"):
        World(scenario=Scenario("twice", "", rates={"overload": 0.5}))


def test_the_registry_refuses_a_second_kind_of_a_name_and_keeps_the_built_in_ones(gateway):
    """Names are labels and stream names: unique. The built-in kinds cannot be unregistered."""
    with pytest.raises(ValueError, match="already registered"):
        registry.register(dataclasses.replace(gateway, refusal=Refusal.OVERLOADED))
    with pytest.raises(ValueError, match="built-in"):
        registry.unregister("overload")
    assert [k.name for k in registry.kinds()] == [
        "outage", "reset", "overload", "invented_quote", "paraphrase_as_quote", "reversed_quote", "wrong_document",
        "unprovided_document", "offset_error", "refusal", "wrong_meaning", "schema_violation", "malformed_json",
        "stream_error", "gateway_error"]
