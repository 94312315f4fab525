"""The spend cap refuses, before sending, any call whose worst case would exceed what is left."""

from __future__ import annotations

import json

import pytest
from anthropic.types.messages.batch_create_params import Request

from faultfirst import SpendCapExceeded, World
from tests.conftest import ask, gathered_calls


def test_no_cap_by_default_in_the_simulated_world(world):
    """Without spend_cap_usd nothing is refused."""
    assert world.spend_cap_usd is None
    world.openai().chat.completions.create(model="gpt-strong", messages=ask("hi"), max_tokens=100_000)


def test_worst_case_is_checked_before_sending():
    """A call whose prompt plus max_tokens at catalogue prices exceeds the cap is refused, and not sent."""
    usage = World(seed=0).openai().chat.completions.create(model="gpt-strong", messages=ask("hi"), max_tokens=1).usage
    assert usage is not None
    prompt_tokens = usage.prompt_tokens
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


def _messages_batch(n: int, max_tokens: int = 200) -> list[Request]:
    return [{"custom_id": f"doc-{i}", "params": {"model": "claude-fast", "max_tokens": max_tokens,
                                                 "messages": ask(f"Summarise document {i}.")}} for i in range(n)]


def test_a_batch_is_checked_against_the_cap_before_it_is_sent():
    """A batch whose worst case (every request's, at the batch discount) exceeds the cap is refused whole."""
    world = World(seed=0, spend_cap_usd=0.001)
    spec = world.catalog["claude-fast"]
    with pytest.raises(SpendCapExceeded, match="batch of 200 requests") as err:
        world.anthropic().messages.batches.create(requests=_messages_batch(200))
    assert world.requests == [] and err.value.worst_case_usd > 0.001
    one = World(seed=0).anthropic().messages.count_tokens(model="claude-fast", messages=ask("Summarise document 0."))
    assert err.value.worst_case_usd == pytest.approx(200 * spec.cost_usd(one.input_tokens, 200) / 2, rel=0.05)


def test_a_pending_batch_holds_its_worst_case_until_it_is_billed():
    """While a batch runs, its worst case counts against the cap; once its items are billed, only their cost does."""
    world = World(seed=0, spend_cap_usd=0.02)
    client = world.anthropic()
    batch = client.messages.batches.create(requests=_messages_batch(20))
    held = world._spend.held()
    assert held > 0 and sum(r.cost_usd for r in world.requests) == 0
    cap_left = 0.02 - held
    big = int(cap_left / world.catalog["claude-fast"].output_usd_per_mtok * 1e6) + 100  # just over what is left
    with pytest.raises(SpendCapExceeded, match="held for calls and batches not yet billed"):
        client.messages.create(model="claude-fast", max_tokens=big, messages=ask("hi"))
    world.clock.sleep(3600)
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
    billed = sum(r.cost_usd for r in world.requests)
    assert world._spend.held() == 0 and 0 < billed < held
    client.messages.create(model="claude-fast", max_tokens=big, messages=ask("hi"))  # the hold has gone


def test_an_openai_batch_is_checked_against_its_input_file():
    """OpenAI's batch names an uploaded file: the file's requests are what the cap weighs when the batch is created."""
    world = World(seed=0, spend_cap_usd=0.0005)
    client = world.openai()
    lines = "".join(json.dumps({"custom_id": f"doc-{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "gpt-fast", "max_tokens": 500, "messages": ask(f"Doc {i}.")}}) + "\n"
                    for i in range(50)).encode()
    uploaded = client.files.create(file=("batch.jsonl", lines), purpose="batch")
    with pytest.raises(SpendCapExceeded, match=f"the batch over file {uploaded.id}"):
        client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert [r.endpoint for r in world.requests] == ["files"]


def test_gathered_calls_cannot_overshoot_the_cap():
    """Forty calls at once: each is weighed with the others' worst cases, so the total stays under the cap."""
    world = World(seed=0, spend_cap_usd=0.003)
    results = gathered_calls(world, world.async_openai(), 40, max_tokens=100)
    refused = [r for r in results if isinstance(r, SpendCapExceeded)]
    assert 0 < len(refused) < 40 and sum(r.cost_usd for r in world.requests) <= 0.003
