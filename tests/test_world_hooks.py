"""The public ways to watch and bound a world: `on_attempt`, `watching`, `limits`, `script_reply`."""

from __future__ import annotations

import contextlib
import json

import anthropic
import openai
import pytest

from faultfirst import World
from faultfirst.clock.limits import Runaway
from faultfirst.service.attempts import HookFailed
from tests.conftest import ask

ASK = ask("Say hi.")


def _one_of_each(world: World) -> None:
    world.openai().chat.completions.create(model="gpt-fast", max_tokens=20, messages=ASK)
    world.anthropic().messages.create(model="claude-fast", max_tokens=20, messages=ASK)


def test_watching_sees_every_attempt_in_order_through_both_sdks() -> None:
    """Each attempt, from either SDK, shows its provider, model, JSON body, arrival time, status and log record."""
    world = World(seed=1)
    with world.watching() as attempts:
        _one_of_each(world)
    assert [(a.provider, a.model, a.status) for a in attempts] == [("openai", "gpt-fast", 200),
                                                                   ("anthropic", "claude-fast", 200)]
    assert [a.record for a in attempts] == world.requests  # the very records the world logged, in order
    assert attempts[0].json["messages"] == ASK and attempts[1].json["max_tokens"] == 20
    assert attempts[0].at == 0.0 and attempts[1].at == world.requests[1].start > 0
    assert json.loads(attempts[0].body)["object"] == "chat.completion"  # the reply as sent
    assert json.loads(attempts[1].body)["type"] == "message"
    _one_of_each(world)
    assert len(attempts) == 2  # outside the block nothing more is seen


def test_hooks_do_not_change_what_the_world_does() -> None:
    """Watching draws nothing: the same seed gives the same records with and without a hook."""
    plain, watched = World(seed=5, scenario="bad-day"), World(seed=5, scenario="bad-day")
    watched.on_attempt(before=lambda a: None, after=lambda a: None)
    for world in (plain, watched):
        for _ in range(6):
            with contextlib.suppress(openai.APIError, anthropic.APIError):
                _one_of_each(world)
    assert plain.requests == watched.requests


def test_before_hook_may_make_requests_that_are_answered_first() -> None:
    """A request made from `before` (traffic arriving meanwhile) is logged before the attempt it interrupted."""
    world = World(seed=2)
    client = world.anthropic()

    def meanwhile(attempt: object) -> None:
        handle.remove()
        client.messages.create(model="claude-fast", max_tokens=5, messages=ASK)

    handle = world.on_attempt(before=meanwhile)
    world.openai().chat.completions.create(model="gpt-fast", max_tokens=5, messages=ASK)
    assert [r.provider for r in world.requests] == ["anthropic", "openai"]


def test_answer_replaces_the_reply_with_the_providers_error() -> None:
    """`attempt.answer(408, ...)` reaches each SDK as its own exception for that status, and the log agrees."""
    world = World(seed=3)
    with world.on_attempt(after=lambda a: a.answer(408, "Request timed out.", headers={"retry-after": "2"})):
        with pytest.raises(openai.APIStatusError) as oai:
            world.openai().chat.completions.create(model="gpt-fast", max_tokens=5, messages=ASK)
        with pytest.raises(anthropic.APIStatusError) as ant:
            world.anthropic().messages.create(model="claude-fast", max_tokens=5, messages=ASK)
    assert oai.value.status_code == ant.value.status_code == 408
    assert oai.value.response.headers["retry-after"] == "2"
    assert "Request timed out." in str(oai.value) and "Request timed out." in str(ant.value)
    assert [(r.status, r.output_tokens, r.cost_usd, r.ok) for r in world.requests] == [(408, 0, 0.0, False)] * 2
    world.openai().chat.completions.create(model="gpt-fast", max_tokens=5, messages=ASK)  # the hook is gone
    assert world.requests[-1].status == 200


def test_answer_before_the_decision_says_where_it_works() -> None:
    """There is no reply to replace in a before hook: the error says to use an after hook."""
    world = World(seed=3)
    world.on_attempt(before=lambda a: a.answer(409, "no"))
    with pytest.raises(HookFailed) as failed:
        world.openai().chat.completions.create(model="gpt-fast", max_tokens=5, messages=ASK)
    assert "after hook" in str(failed.value.__cause__)


def test_a_hook_that_raises_stops_the_call_as_itself_not_as_a_connection_error() -> None:
    """The SDK would retry an Exception from its transport as a connection error; HookFailed passes through it."""
    world = World(seed=4)

    def broken(attempt: object) -> None:
        raise KeyError("model")

    world.on_attempt(after=broken)
    with pytest.raises(HookFailed, match="broken raised KeyError") as failed:
        world.openai(max_retries=3).chat.completions.create(model="gpt-fast", max_tokens=5, messages=ASK)
    assert isinstance(failed.value.__cause__, KeyError)
    assert len(world.requests) == 1  # not retried


def test_on_attempt_rejects_what_is_not_a_hook() -> None:
    """A missing or non-callable hook is refused when it is added, not at the first attempt."""
    world = World(seed=4)
    with pytest.raises(TypeError, match="before=, after="):
        world.on_attempt()
    with pytest.raises(TypeError, match="after must be a function"):
        world.on_attempt(after="print")  # type: ignore[arg-type]


def test_limits_hold_inside_and_restore_on_exit_and_on_error() -> None:
    """Inside the block a third attempt is a Runaway; after it, even after an exception, the world is unbounded."""
    world = World(seed=6)
    with world.limits(max_attempts=2) as bounds:
        assert world.active_limits is bounds
        _one_of_each(world)
        with pytest.raises(Runaway, match="more than 2 requests"):
            _one_of_each(world)
    assert world.active_limits is None
    with pytest.raises(ZeroDivisionError), world.limits(max_seconds=1.0):
        raise ZeroDivisionError
    assert world.active_limits is None
    world.clock.sleep(10.0)  # past the old bound on time: nothing stops it now
    _one_of_each(world)


def test_limits_nest_and_bound_virtual_time() -> None:
    """An inner block's bounds replace the outer's, which come back when it ends; world.limits() lifts them."""
    world = World(seed=7)
    with world.limits(max_attempts=100, max_seconds=60.0) as outer:
        with world.limits(max_seconds=5.0), pytest.raises(Runaway, match="more than 5 simulated seconds"):
            world.clock.sleep(6.0)
        assert world.active_limits is outer
        with world.limits():
            world.clock.sleep(100.0)
        assert world.active_limits is outer
    world.limits(max_attempts=1)  # without `with`: for the rest of the world's life
    assert world.active_limits is not None and world.active_limits.max_attempts == 1


@pytest.mark.parametrize("bad", [{"max_attempts": -1}, {"max_attempts": 2.5}, {"max_seconds": "60"},
                                 {"max_seconds": float("nan")}])
def test_limits_reject_bad_bounds(bad: dict[str, object]) -> None:
    """A bound that is not a non-negative number says what it takes."""
    with pytest.raises(ValueError, match="must be"):
        World(seed=0).limits(**bad)  # type: ignore[arg-type]


def test_script_reply_answers_matching_requests_in_this_world_only() -> None:
    """A reply scripted in code leads the world's own behaviour, for requests that match, in that world alone."""
    world, other = World(seed=8), World(seed=8)
    world.script_reply(("First block. ", "Second block."), contains="Say hi", provider="anthropic")
    blocks = world.anthropic().messages.create(model="claude-fast", max_tokens=50, messages=ASK).content
    assert [b.text for b in blocks] == ["First block. ", "Second block."]  # type: ignore[union-attr]
    reply = world.openai().chat.completions.create(model="gpt-fast", max_tokens=50, messages=ASK)
    assert "Second block." not in (reply.choices[0].message.content or "")
    mine = other.anthropic().messages.create(model="claude-fast", max_tokens=50, messages=ASK).content
    assert "Second block." not in "".join(b.text for b in mine)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="world.script_reply.*needs at least one of"):
        world.script_reply("x", provider="openai")
