"""The batch APIs of both providers, through the real SDKs, in virtual time."""

from __future__ import annotations

import json

import anthropic
import pytest
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request
from openai.types import Batch, FileObject
from openai.types.chat import ChatCompletion

from faultfirst import World


def _jsonl(n: int, model: str = "gpt-fast") -> bytes:
    return "".join(json.dumps({"custom_id": f"doc-{i}", "method": "POST", "url": "/v1/chat/completions",
                               "body": {"model": model, "max_tokens": 60,
                                        "messages": [{"role": "user", "content": f"Summarise document {i}."}]}}) + "\n"
                   for i in range(n)).encode()


def test_openai_batch_runs_in_virtual_time_and_costs_half():
    """Files + Batches: in progress until its time has passed, then one output line per request, billed at 50%."""
    world = World(seed=0)
    client = world.openai()
    uploaded = client.files.create(file=("batch.jsonl", _jsonl(20)), purpose="batch")
    assert isinstance(uploaded, FileObject) and uploaded.bytes == len(_jsonl(20))
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert isinstance(batch, Batch) and batch.status == "in_progress" and batch.output_file_id is None
    world.clock.sleep(3600)
    done = client.batches.retrieve(batch.id)
    counts = done.request_counts
    assert done.status == "completed" and counts and counts.completed == 20 and counts.failed == 0
    assert done.output_file_id
    lines = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == sorted(f"doc-{i}" for i in range(20))
    for line in lines:
        assert line["response"]["status_code"] == 200
        ChatCompletion.model_validate(line["response"]["body"])
    items = [r for r in world.requests if r.endpoint == "batch:chat.completions"]
    spec = world.catalog["gpt-fast"]
    assert len(items) == 20
    assert all(r.cost_usd == pytest.approx(spec.cost_usd(r.input_tokens, r.output_tokens) / 2) for r in items)


def test_openai_batch_input_errors_are_400s(world):
    """A batch naming a missing file or an unsupported endpoint is refused with BadRequestError."""
    import openai

    client = world.openai()
    with pytest.raises(openai.BadRequestError, match="No such file"):
        client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    uploaded = client.files.create(file=("b.jsonl", _jsonl(2)), purpose="batch")
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")


def test_anthropic_message_batch_results_after_it_ends():
    """Message Batches: results() refuses before the end (the SDK says so), then yields one result per request."""
    world = World(seed=1)
    client = world.anthropic()
    requests: list[Request] = [{"custom_id": f"q{i}", "params": {"model": "claude-fast", "max_tokens": 50,
                                                   "messages": [{"role": "user", "content": f"Question {i}?"}]}}
                for i in range(10)]
    batch = client.messages.batches.create(requests=requests)
    assert isinstance(batch, MessageBatch) and batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 10
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        list(client.messages.batches.results(batch.id))
    world.clock.sleep(3600)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.request_counts.succeeded == 10
    results = list(client.messages.batches.results(batch.id))
    assert sorted(r.custom_id for r in results) == sorted(f"q{i}" for i in range(10))
    assert all(r.result.type == "succeeded" and r.result.message.content for r in results)


def test_batch_items_fail_on_a_bad_day():
    """Under bad-day some batch items come back errored, the rest succeed; nothing is lost."""
    world = World(seed=2, scenario="bad-day")
    client = world.anthropic()
    requests: list[Request] = [{"custom_id": f"q{i}", "params": {"model": "claude-fast", "max_tokens": 30,
                                                   "messages": [{"role": "user", "content": f"Q{i}"}]}}
                for i in range(200)]
    batch = client.messages.batches.create(requests=requests)
    world.clock.sleep(4 * 3600)
    results = list(client.messages.batches.results(batch.id))
    kinds = [r.result.type for r in results]
    assert len(results) == 200 and 0 < kinds.count("errored") < 40 and kinds.count("succeeded") > 150


def test_cancelled_batch_ends_with_cancelled_items():
    """Cancelling an unfinished batch ends it; its items are reported as canceled."""
    world = World(seed=3)
    client = world.anthropic()
    batch = client.messages.batches.create(requests=[
        {"custom_id": "a",
         "params": {"model": "claude-fast", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}}])
    client.messages.batches.cancel(batch.id)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 1
