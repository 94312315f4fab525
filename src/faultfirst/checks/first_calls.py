"""Checks for the lesson "First calls with two SDKs" (book/tier1/first-calls.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._tokens import count_tokens
from .._world import World
from ._framework import Report, checked_world, register

_PROMPT = "Explain in a few sentences why an API client needs a timeout."
_FIELDS = ("text", "stop", "input_tokens", "output_tokens", "cost_usd")


def reference_reply(world: World, model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    """What a correct `reply` returns, as a dict of the normalised fields."""
    spec = world.catalog[model]
    messages = [{"role": "user", "content": prompt}]
    if spec.provider == "openai":
        completion = world.openai().chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)
        text = completion.choices[0].message.content or ""
        stop = "max_tokens" if completion.choices[0].finish_reason == "length" else "end"
        used_in, used_out = completion.usage.prompt_tokens, completion.usage.completion_tokens
    else:
        message = world.anthropic().messages.create(model=model, max_tokens=max_tokens, messages=messages)
        text = "".join(block.text for block in message.content if block.type == "text")
        stop = "max_tokens" if message.stop_reason == "max_tokens" else "end"
        used_in, used_out = message.usage.input_tokens, message.usage.output_tokens
    return {"text": text, "stop": stop, "input_tokens": used_in, "output_tokens": used_out,
            "cost_usd": spec.cost_usd(used_in, used_out)}


def _compare_reply(report: Report, fn: Callable[..., Any], *, seed: int, model: str, prompt: str, max_tokens: int) -> None:
    world = checked_world(seed=seed)
    got = report.call(fn, world, model, prompt, max_tokens=max_tokens)
    want = reference_reply(World(seed=seed), model, prompt, max_tokens)
    missing = [name for name in _FIELDS if not hasattr(got, name)]
    report.expect(not missing, f"the reply has no {', '.join(missing)} (return a Reply with {', '.join(_FIELDS)})")
    report.expect(len(world.requests) == 1, f"made {len(world.requests)} requests; one call should make one request")
    for name in _FIELDS:
        value, expected = getattr(got, name), want[name]
        same = math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-15) if name == "cost_usd" else value == expected
        report.expect(same, f"{name} should be {expected!r}, got {value!r}")


@register("first-calls-reply")
def check_reply(fn: Callable[..., Any], report: Report) -> None:
    with report.case("an OpenAI model (gpt-fast) answers: text, stop, usage and cost"):
        _compare_reply(report, fn, seed=11, model="gpt-fast", prompt=_PROMPT, max_tokens=300)
    with report.case("an Anthropic model (claude-strong) answers: text, stop, usage and cost",
                     hint="Anthropic's reply is a list of content blocks; join the text of every text block."):
        _compare_reply(report, fn, seed=12, model="claude-strong", prompt=_PROMPT, max_tokens=300)
    with report.case("a reply cut off at max_tokens says stop='max_tokens' (OpenAI)",
                     hint="OpenAI reports a cut-off as finish_reason == 'length'."):
        _compare_reply(report, fn, seed=13, model="gpt-strong", prompt=_PROMPT, max_tokens=8)
    with report.case("a reply cut off at max_tokens says stop='max_tokens' (Anthropic)",
                     hint="Anthropic reports a cut-off as stop_reason == 'max_tokens'."):
        _compare_reply(report, fn, seed=14, model="claude-fast", prompt=_PROMPT, max_tokens=8)
    with report.case("multi-byte text (Japanese and emoji) is counted and priced the same way"):
        _compare_reply(report, fn, seed=15, model="claude-fast", prompt="東京の天気は？ 🌧️ Answer briefly.", max_tokens=200)


def _complete_case(report: Report, fn: Callable[..., Any], *, seed: int, model: str, start: int) -> None:
    world = checked_world(seed=seed, max_attempts=40)
    text = report.call(fn, world, model, _PROMPT, max_tokens=start)
    report.expect(isinstance(text, str), f"should return the reply text (a str), got {type(text).__name__}")
    attempts = [r for r in world.requests if r.endpoint in ("chat.completions", "responses", "messages")]
    report.expect(bool(attempts), "made no request")
    last = attempts[-1]
    report.expect(last.stop_reason in ("stop", "end_turn"),
                  f"the last reply was still cut off (stop reason {last.stop_reason!r}); keep going until it is complete")
    spec = world.catalog[model]
    report.expect(count_tokens(text, spec.encoding) == last.output_tokens,
                  "the text returned is not the last, complete reply")
    # A reply cut at max_tokens is exactly max_tokens long, so the cut attempts show the room each was given.
    rooms = [r.output_tokens for r in attempts[:-1]]
    report.expect(not rooms or rooms[0] == start, f"the first request should use max_tokens={start}, used {rooms[:1]}")
    slow = [(a, b) for a, b in zip(rooms, rooms[1:]) if b < 2 * a]
    report.expect(not slow, f"max_tokens went from {slow[0][0]} to {slow[0][1]}; grow it at least twofold each time "
                            f"(requests made: {len(attempts)})" if slow else "")


@register("first-calls-complete")
def check_complete(fn: Callable[..., Any], report: Report) -> None:
    with report.case("a reply that fits costs exactly one request"):
        world = checked_world(seed=21)
        text = report.call(fn, world, "gpt-fast", _PROMPT, max_tokens=400)
        report.expect(len(world.requests) == 1, f"made {len(world.requests)} requests for a reply that fit the first time")
        want = reference_reply(World(seed=21), "gpt-fast", _PROMPT, 400)["text"]
        report.expect(text == want, "did not return the reply's text")
    with report.case("a reply cut off at max_tokens=4 is asked again with more room (OpenAI)",
                     hint="finish_reason == 'length' means cut off; double max_tokens and ask again."):
        _complete_case(report, fn, seed=22, model="gpt-fast", start=4)
    with report.case("a reply cut off at max_tokens=4 is asked again with more room (Anthropic)",
                     hint="stop_reason == 'max_tokens' means cut off; double max_tokens and ask again."):
        _complete_case(report, fn, seed=23, model="claude-strong", start=4)
    with report.case("room grows by doubling: few requests even from max_tokens=1"):
        _complete_case(report, fn, seed=24, model="claude-fast", start=1)
