"""The spend cap refuses, before sending, any call whose worst case would exceed what is left."""

from __future__ import annotations

import asyncio

import pytest

from faultfirst import SpendCapExceeded, World
from tests.conftest import ask


def test_no_cap_by_default_in_the_simulated_world(world):
    """Without spend_cap_usd nothing is refused."""
    assert world.spend_cap_usd is None
    world.openai().chat.completions.create(model="gpt-strong", messages=ask("hi"), max_tokens=100_000)


def test_worst_case_is_checked_before_sending():
    """A call whose prompt plus max_tokens at catalogue prices exceeds the cap is refused, and not sent."""
    prompt_tokens = World(seed=0).openai().chat.completions.create(
        model="gpt-strong", messages=ask("hi"), max_tokens=1).usage.prompt_tokens
    world = World(seed=0, spend_cap_usd=0.50)
    with pytest.raises(SpendCapExceeded) as err:
        world.openai().chat.completions.create(model="gpt-strong", messages=ask("hi"), max_tokens=100_000)
    assert world.requests == []  # refused before sending: no attempt
    assert err.value.cap_usd == 0.50 and err.value.spent_usd == 0
    assert err.value.worst_case_usd == pytest.approx(world.catalog["gpt-strong"].cost_usd(prompt_tokens, 100_000))
    assert "spend cap is $0.5000" in str(err.value) and "spend_cap_usd" in str(err.value)


def test_missing_max_tokens_counts_the_model_limit():
    """Without max_tokens the worst case is the model's whole output limit (128,000 tokens on gpt-strong)."""
    world = World(seed=0, spend_cap_usd=0.50)
    with pytest.raises(SpendCapExceeded, match="128,000 output tokens"):
        world.openai().chat.completions.create(model="gpt-strong", messages=ask("hi"))


def test_spending_accumulates_until_the_cap_refuses():
    """Calls go through while their worst case fits what is left; the spend so far is named in the refusal."""
    world = World(seed=0, spend_cap_usd=0.002)
    client = world.anthropic()
    sent = 0
    with pytest.raises(SpendCapExceeded) as err:
        for i in range(100):
            client.messages.create(model="claude-fast", max_tokens=200, messages=ask(f"Question {i}"))
            sent += 1
    spent = sum(r.cost_usd for r in world.requests)
    assert 0 < sent == len(world.requests) and spent <= 0.002
    assert err.value.spent_usd == pytest.approx(spent) and spent + err.value.worst_case_usd > 0.002


def test_async_clients_are_capped_too():
    """The async transport checks the cap as well."""
    world = World(seed=0, spend_cap_usd=0.0001)
    client = world.async_openai()

    async def main():
        await client.chat.completions.create(model="gpt-strong", messages=ask("hi"), max_tokens=1_000)

    with pytest.raises(SpendCapExceeded):
        world.run(main())


def test_free_calls_pass_a_spent_cap():
    """Counting tokens costs nothing and is never refused."""
    world = World(seed=0, spend_cap_usd=0.0)
    assert world.anthropic().messages.count_tokens(model="claude-fast", messages=ask("hi")).input_tokens > 0


@pytest.mark.parametrize("cap", [-1, "5", float("nan")])
def test_bad_cap_is_a_clear_error(cap):
    """A negative, non-numeric or NaN cap is refused with a message."""
    with pytest.raises(ValueError, match="spend_cap_usd"):
        World(spend_cap_usd=cap)
