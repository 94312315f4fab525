"""The public surface of `World`: names, defaults and clear errors for bad input."""

from __future__ import annotations

import asyncio
import inspect
import socket

import anthropic
import openai
import pytest

import faultfirst
from faultfirst import SCENARIOS, World
from tests.conftest import ask


def test_world_options_are_keyword_only_with_documented_defaults():
    """World(seed=0, scenario='calm') is the signature lessons and external tests rely on."""
    params = list(inspect.signature(World).parameters.values())
    assert [(p.name, p.kind, p.default) for p in params[:2]] == [
        ("seed", inspect.Parameter.KEYWORD_ONLY, 0),
        ("scenario", inspect.Parameter.KEYWORD_ONLY, "calm"),
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty for p in params)
    with pytest.raises(TypeError):
        World(0)  # type: ignore[call-arg]  # on purpose: the seed is keyword-only


def test_all_named_scenarios_exist():
    """Every scenario the curriculum names can be built."""
    assert set(SCENARIOS) == {"calm", "latency-drift", "rate-limited", "overloaded", "outage", "flaky-output",
                              "sloppy-json", "citations", "bad-day"}
    for name in SCENARIOS:
        assert World(scenario=name).scenario.name == name


def test_unknown_scenario_error_lists_the_valid_names():
    """A typo in a scenario name says which names exist."""
    with pytest.raises(ValueError) as err:
        World(scenario="stormy")
    assert "'stormy'" in str(err.value) and "rate-limited" in str(err.value) and "bad-day" in str(err.value)


@pytest.mark.parametrize("seed", ["7", 1.5, None, True])
def test_bad_seed_type_is_a_clear_error(seed):
    """A seed that is not an int is refused with the type named."""
    with pytest.raises(TypeError, match="seed must be an int"):
        World(seed=seed)


def test_unknown_model_in_catalog_lists_the_models():
    """world.catalog['x'] names the models that exist."""
    with pytest.raises(KeyError) as err:
        World().catalog["gpt-huge"]
    assert "gpt-fast" in str(err.value) and "claude-strong" in str(err.value)


def test_unknown_model_through_each_sdk_is_a_404_listing_the_models(world):
    """Asking an SDK for a model the world lacks raises the SDK's NotFoundError, with the valid names."""
    with pytest.raises(openai.NotFoundError) as oerr:
        world.openai().chat.completions.create(model="gpt-huge", messages=ask("hi"))
    assert oerr.value.code == "model_not_found" and "gpt-fast, gpt-strong" in oerr.value.message
    with pytest.raises(anthropic.NotFoundError) as aerr:
        world.anthropic().messages.create(model="gpt-fast", max_tokens=10, messages=ask("hi"))
    assert aerr.value.type == "not_found_error" and "claude-fast" in str(aerr.value)


def test_clients_are_the_real_sdk_classes_with_no_retries_by_default(world):
    """world.openai() is an openai.OpenAI; retries are off unless asked for."""
    assert type(world.openai()) is openai.OpenAI and world.openai().max_retries == 0
    assert type(world.anthropic()) is anthropic.Anthropic and world.anthropic(max_retries=3).max_retries == 3
    assert type(world.async_openai()) is openai.AsyncOpenAI
    assert type(world.async_anthropic()) is anthropic.AsyncAnthropic


def test_catalog_has_fast_and_strong_models_for_each_provider(world):
    """Each provider has a fast/cheap and a strong/slow model with limits and prices."""
    for provider in ("openai", "anthropic"):
        models = {m.tier: m for m in world.catalog.values() if m.provider == provider}
        fast, strong = models["fast"], models["strong"]
        assert fast.input_usd_per_mtok < strong.input_usd_per_mtok
        assert fast.output_usd_per_mtok < strong.output_usd_per_mtok
        assert fast.latency.ttft < strong.latency.ttft and fast.latency.per_token < strong.latency.per_token
        assert fast.context_window > 0 and 0 < fast.max_output_tokens < fast.context_window


def test_public_api_exports():
    """The names tests outside the repo import are exported."""
    assert {"World", "Scenario", "SCENARIOS", "RequestRecord", "Catalog", "ModelSpec"} <= set(faultfirst.__all__)


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_the_network_is_off_in_tests():
    """pytest-socket is active: any test that tried to reach the network would fail."""
    with pytest.raises(Exception, match="socket"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_a_numpy_integer_seed_is_the_same_seed():
    """World(seed=numpy.int64(7)) is World(seed=7): same seed attribute, same first reply."""
    import numpy as np

    replies = []
    for seed in (7, np.int64(7)):
        world = World(seed=seed, scenario="flaky-output")
        assert type(world.seed) is int and world.seed == 7
        replies.append(world.openai().chat.completions.with_raw_response.create(
            model="gpt-fast", messages=ask("Name a colour."), temperature=1).http_response.content)
    assert replies[0] == replies[1]


def test_run_takes_any_awaitable():
    """world.run accepts an object with __await__, not only coroutines and futures."""
    class Later:
        def __await__(self):
            yield from asyncio.sleep(5).__await__()
            return "done"

    world = World()
    assert world.run(Later()) == "done" and world.clock.now() == 5


@pytest.mark.parametrize("limits", [dict(requests_per_minute=0, tokens_per_minute=1_000),
                                    dict(requests_per_minute=60, tokens_per_minute=-5),
                                    dict(requests_per_minute=60, tokens_per_minute=1_000, requests_per_day=0),
                                    dict(requests_per_minute=True, tokens_per_minute=1_000),
                                    dict(requests_per_minute="60", tokens_per_minute=1_000)])
def test_rate_limits_that_cannot_refill_are_refused_where_they_are_written(limits):
    """A zero or negative bucket used to fail inside the first call (ZeroDivisionError); now RateLimits says so."""
    from faultfirst import RateLimits

    bad = next(name for name, value in limits.items() if isinstance(value, (bool, str)) or value <= 0)
    with pytest.raises(ValueError, match=rf"RateLimits\.{bad} must be a positive number.*Outage"):
        RateLimits(**limits)


def test_rate_limits_accept_positive_limits_and_no_daily_quota():
    from faultfirst import RateLimits

    assert RateLimits(1, 1_000_000).requests_per_minute == 1
    assert RateLimits(60, 1_000, requests_per_day=None).requests_per_day is None
