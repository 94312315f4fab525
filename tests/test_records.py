"""The request log is what happened: a record is final once its attempt is over, and its cost is set once."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import openai
import pytest

from faultfirst import World
from faultfirst.service.records import RequestRecord
from tests.conftest import ask


def _one_call(world: World, **kwargs: Any) -> None:
    world.openai().chat.completions.create(model="gpt-fast", messages=ask("Say hello."), max_tokens=40, **kwargs)


def test_a_finished_attempt_refuses_changes_and_says_how_to_copy_it():
    world = World(seed=1)
    _one_call(world)
    record = world.requests[-1]
    assert record.final
    with pytest.raises(AttributeError, match=r"final.*dataclasses\.replace\(record, status=") as caught:
        record.status = 500
    assert "world.requests is what happened" in str(caught.value)
    assert record.status == 200


def test_a_changed_copy_is_an_ordinary_record():
    world = World(seed=1)
    _one_call(world)
    record = world.requests[-1]
    copy = dataclasses.replace(record, status=503, error="overloaded")
    assert (copy.status, copy.ok, copy.final) == (503, False, False)
    assert record.ok


def test_cost_is_the_catalogue_price_of_the_billed_tokens():
    world = World(seed=2)
    _one_call(world)
    record = world.requests[-1]
    spec = world.catalog.get(record.model)
    assert spec is not None and record.output_tokens > 0
    assert record.cost_usd == pytest.approx(spec.cost_usd(record.input_tokens, record.output_tokens))


def test_a_stream_record_is_open_while_read_and_final_after_close():
    world = World(seed=3)
    stream = world.openai().chat.completions.create(model="gpt-fast", messages=ask("Count to five."),
                                                    max_tokens=40, stream=True)
    record = world.requests[-1]
    next(iter(stream))
    assert not record.final, "the transport still has to learn how much of the stream was read"
    stream.close()
    assert record.final


def test_every_record_of_a_faulty_run_is_final():
    """Failures end attempts too: rate limits, resets, timeouts and outages leave final records behind."""
    world = World(seed=4, scenario="bad-day")
    client = world.openai(max_retries=0, timeout=5.0)
    for i in range(30):
        with contextlib.suppress(openai.APIError):  # any failure will do: the log is what is under test
            client.chat.completions.create(model="gpt-fast", messages=ask(f"q{i}"), max_tokens=40)
    assert len(world.requests) == 30
    assert any(not r.ok for r in world.requests), "the scenario should fail some attempts"
    assert all(r.final for r in world.requests)


def test_copies_of_a_final_record_are_final_and_equal_and_a_replaced_one_is_new():
    """Finality is the record's class: copy, deepcopy and pickle keep it; equality reads the fields alone."""
    import copy
    import pickle

    world = World(seed=1)
    _one_call(world)
    record = world.requests[-1]
    assert type(record).__name__ == "RequestRecord" and repr(record).startswith("RequestRecord(provider='openai'")
    for twin in (copy.copy(record), copy.deepcopy(record), pickle.loads(pickle.dumps(record))):
        assert twin == record and twin is not record and twin.final
        with pytest.raises(AttributeError, match="final"):
            twin.latency = 0.0
    with pytest.raises(AttributeError, match="final"):
        del record.status
    fresh = dataclasses.replace(record)
    assert fresh == record and not fresh.final and type(fresh) is RequestRecord
    fresh.latency += 1.0  # a copy in flight takes changes
    assert fresh != record
