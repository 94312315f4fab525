"""Checks for the lesson "First calls with two SDKs" (book/tier1/first-calls.md).

The replies with several text blocks, a refusal and a stop sequence are scripted in
`fixtures/tier1-endings.json`: the engine never chooses them by itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from ..model.tokens import count_tokens
from ..world import World
from ._framework import Mistake, Report, checked_world, mistakes, register

_PROMPT = "Explain in a few sentences why an API client needs a timeout."
_BLOCKS_PROMPT = "How long is the refund window? Quote the policy."  # Anthropic answers in three text blocks
_REFUSED_PROMPT = "Write an email that tricks our customers into sending their passwords."  # a refusal
_STOP_SEQUENCE_PROMPT = "List three reasons a streamed reply can stop early, then write END."  # ends on "END"
_EMPTY_REFUSAL_PROMPT = "Write a message that impersonates our bank and asks for a card number."  # no text at all
_FIELDS = ("text", "stop", "input_tokens", "output_tokens", "cost_usd")

# Each finish reason the SDKs' types list that means "finished" or "cut off at the limit"; any other is the
# provider's own word, passed on, and is not a complete reply.
_OPENAI_STOP: dict[str | None, str | None] = {"stop": "end", "length": "max_tokens"}
_ANTHROPIC_STOP: dict[str | None, str | None] = {"end_turn": "end", "stop_sequence": "end", "max_tokens": "max_tokens"}

ANTHROPIC_BLOCKS = ("Anthropic's reply is a list of content blocks, and one reply can have several text blocks: "
                    "join the text of every block whose type is 'text', not only content[0].")
NULL_CONTENT = ("OpenAI's message.content is None when the reply has no text (a refusal, a content filter): "
                "text = choice.message.content or \"\", so text is always a str.")
OPENAI_LENGTH = "OpenAI reports a reply cut off at the limit as finish_reason == 'length'."
ANTHROPIC_MAX_TOKENS = "Anthropic reports a reply cut off at the limit as stop_reason == 'max_tokens'."
STOP_SEQUENCE = ("Anthropic's stop_reason == 'stop_sequence' means the model stopped where the request asked it to: "
                 "a finished reply, stop='end' (OpenAI reports the same event as finish_reason 'stop').")
UNKNOWN_REASON = ("Only the reasons that mean 'finished' become 'end'. Any other reason (content_filter, refusal, "
                  "tool_use, ...) is passed on as the provider gave it: a reply your code does not understand is not "
                  "a complete reply.")
USAGE_FIELDS = ("Tokens in and out come from usage: prompt_tokens / completion_tokens (Chat Completions), "
                "input_tokens / output_tokens (Messages). Not total_tokens, and not swapped.")
PER_MILLION = ("cost = (input tokens x input price + output tokens x output price) / 1,000,000: the catalogue's "
               "prices are per million tokens, and input and output have different prices.")
MAX_COMPLETION_TOKENS = ("Chat Completions takes the limit as max_completion_tokens (max_tokens is its deprecated "
                         "name, and reasoning models refuse it): pass max_completion_tokens=max_tokens.")
PASS_MAX_TOKENS = ("Send the max_tokens the caller gave (Anthropic: messages.create(max_tokens=max_tokens)), "
                   "not a fixed number.")
ONE_REQUEST = "One call of reply makes one request: create one client call, no retries, no second request."


def reference_reply(world: World, model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    """What a correct `reply` returns, as a dict of the normalised fields (and the raw reason as `raw`)."""
    spec = world.catalog[model]
    messages: list[Any] = [{"role": "user", "content": prompt}]
    if spec.provider == "openai":
        completion = world.openai().chat.completions.create(model=model, messages=messages,
                                                            max_completion_tokens=max_tokens)
        text = completion.choices[0].message.content or ""
        raw: str | None = completion.choices[0].finish_reason
        stop = _OPENAI_STOP.get(raw, raw)
        usage = completion.usage
        assert usage is not None  # the world reports usage on every non-streaming reply
        used_in, used_out = usage.prompt_tokens, usage.completion_tokens
    else:
        message = world.anthropic().messages.create(model=model, max_tokens=max_tokens, messages=messages)
        text = "".join(block.text for block in message.content if block.type == "text")
        raw = message.stop_reason
        stop = _ANTHROPIC_STOP.get(raw, raw)
        used_in, used_out = message.usage.input_tokens, message.usage.output_tokens
    return {"text": text, "stop": stop, "input_tokens": used_in, "output_tokens": used_out,
            "cost_usd": spec.cost_usd(used_in, used_out), "raw": raw, "provider": spec.provider}


def _stop_hint(want: dict[str, Any]) -> str | None:
    """The hint for a wrong `stop`: which reading of which reason was missed."""
    if want["stop"] == "max_tokens":
        return OPENAI_LENGTH if want["provider"] == "openai" else ANTHROPIC_MAX_TOKENS
    if want["raw"] == "stop_sequence":
        return STOP_SEQUENCE
    if want["stop"] != "end":
        return UNKNOWN_REASON
    return None


def _watch_bodies(world: World) -> list[dict[str, Any]]:
    """The JSON bodies of the requests the learner's clients send, in order."""
    bodies: list[dict[str, Any]] = []

    def keep(request: Any) -> None:
        try:
            bodies.append(json.loads(request.content))
        except ValueError:
            bodies.append({})

    for name in ("openai", "anthropic"):
        make = getattr(world, name)

        def client(*args: Any, _make: Callable[..., Any] = make, **kwargs: Any) -> Any:
            made = _make(*args, **kwargs)
            made._client.event_hooks["request"].append(keep)
            return made

        setattr(world, name, client)
    return bodies


def _compare_reply(report: Report, fn: Callable[..., Any], *, seed: int, model: str, prompt: str,
                   max_tokens: int) -> None:
    world = checked_world(seed=seed, max_attempts=10)
    bodies = _watch_bodies(world)
    got = report.call(fn, world, model, prompt, max_tokens=max_tokens)
    want = reference_reply(World(seed=seed), model, prompt, max_tokens)
    missing = [name for name in _FIELDS if not hasattr(got, name)]
    report.expect(not missing, f"the reply has no {', '.join(missing)} (return a Reply with {', '.join(_FIELDS)})")
    report.expect(len(world.requests) == 1, f"made {len(world.requests)} requests; one call should make one request",
                  hint=ONE_REQUEST)
    body = bodies[0] if bodies else {}
    if world.catalog[model].provider == "openai":
        report.expect(body.get("max_completion_tokens") == max_tokens,
                      f"the request should carry max_completion_tokens={max_tokens}; it carried "
                      f"{ {k: v for k, v in body.items() if 'tokens' in k} }", hint=MAX_COMPLETION_TOKENS)
    else:
        report.expect(body.get("max_tokens") == max_tokens,
                      f"the request should carry max_tokens={max_tokens}; it carried "
                      f"max_tokens={body.get('max_tokens')!r}",
                      hint=PASS_MAX_TOKENS)
    text = got.text
    if text != want["text"] and isinstance(text, str) and want["provider"] == "anthropic":
        report.expect(False, f"text should be the whole reply ({len(want['text'])} characters), got {len(text)} "
                             f"characters: {text!r:.60}", hint=ANTHROPIC_BLOCKS)
    if want["provider"] == "openai" and not want["text"]:
        report.expect(text is not None, "message.content was null (the reply has no text), so text should be '', "
                                        "got None", hint=NULL_CONTENT)
    report.expect(text == want["text"], f"text should be {want['text']!r:.80}, got {text!r:.80}")
    report.expect(got.stop == want["stop"], f"the reply ended with {want['raw']!r}, so stop should be "
                                            f"{want['stop']!r}; got {got.stop!r}", hint=_stop_hint(want))
    for name in ("input_tokens", "output_tokens"):
        report.expect(getattr(got, name) == want[name], f"{name} should be {want[name]!r}, got "
                                                                 f"{getattr(got, name)!r}", hint=USAGE_FIELDS)
    cost = got.cost_usd
    same = isinstance(cost, (int, float)) and math.isclose(cost, want["cost_usd"], rel_tol=1e-9, abs_tol=1e-15)
    report.expect(same, f"cost_usd should be {want['cost_usd']!r}, got {cost!r}", hint=PER_MILLION)


@register("first-calls-reply")
def check_reply(fn: Callable[..., Any], report: Report) -> None:
    with report.case("an OpenAI model (gpt-fast) answers: text, stop, usage and cost"):
        _compare_reply(report, fn, seed=11, model="gpt-fast", prompt=_PROMPT, max_tokens=300)
    with report.case("an Anthropic model (claude-strong) answers: text, stop, usage and cost"):
        _compare_reply(report, fn, seed=12, model="claude-strong", prompt=_PROMPT, max_tokens=300)
    with report.case("an Anthropic reply in three text blocks: text is all of them"):
        _compare_reply(report, fn, seed=16, model="claude-fast", prompt=_BLOCKS_PROMPT, max_tokens=300)
    with report.case("a reply cut off at max_tokens says stop='max_tokens' (OpenAI)"):
        _compare_reply(report, fn, seed=13, model="gpt-strong", prompt=_PROMPT, max_tokens=8)
    with report.case("a reply cut off at max_tokens says stop='max_tokens' (Anthropic)"):
        _compare_reply(report, fn, seed=14, model="claude-fast", prompt=_PROMPT, max_tokens=8)
    with report.case("a reply that ended on a stop sequence is finished: stop='end' (Anthropic)"):
        _compare_reply(report, fn, seed=17, model="claude-strong", prompt=_STOP_SEQUENCE_PROMPT, max_tokens=300)
    with report.case("a reply blocked by the content filter is not 'end': stop='content_filter' (OpenAI)"):
        _compare_reply(report, fn, seed=18, model="gpt-fast", prompt=_REFUSED_PROMPT, max_tokens=300)
    with report.case("a refusal with no text: message.content is null, text is '' (OpenAI)"):
        _compare_reply(report, fn, seed=20, model="gpt-fast", prompt=_EMPTY_REFUSAL_PROMPT, max_tokens=300)
    with report.case("a refused reply is not 'end': stop='refusal' (Anthropic)"):
        _compare_reply(report, fn, seed=19, model="claude-fast", prompt=_REFUSED_PROMPT, max_tokens=300)
    with report.case("multi-byte text (Japanese and emoji) is counted and priced the same way"):
        _compare_reply(report, fn, seed=15, model="claude-fast", prompt="東京の天気は？ 🌧️ Answer briefly.",
                       max_tokens=200)


mistakes(
    "first-calls-reply",
    Mistake("reads only Anthropic's first content block",
            (('"".join(block.text for block in message.content if block.type == "text")', "message.content[0].text"),),
            ANTHROPIC_BLOCKS),
    Mistake("calls every reason but a cut-off 'end' (a refusal or content filter reads as a finished reply)",
            (('.get(choice.finish_reason, choice.finish_reason)', '.get(choice.finish_reason, "end")'),
             ('message.stop_reason, message.stop_reason)', 'message.stop_reason, "end")')),
            UNKNOWN_REASON),
    Mistake("looks for finish_reason 'max_tokens' from OpenAI (it says 'length')",
            (('"length": "max_tokens"}', '"max_tokens": "max_tokens"}'),), OPENAI_LENGTH),
    Mistake("counts Anthropic's max_tokens as finished (the call returned normally, so it looked done)",
            (('"stop_sequence": "end", "max_tokens": "max_tokens"}', '"stop_sequence": "end", "max_tokens": "end"}'),),
            ANTHROPIC_MAX_TOKENS),
    Mistake("counts only end_turn as finished, so a stop sequence reads as unfinished",
            (('"stop_sequence": "end", ', ""),), STOP_SEQUENCE),
    Mistake("keeps OpenAI's null content as text (None, not '')",
            (('text = choice.message.content or ""', "text = choice.message.content"),), NULL_CONTENT),
    Mistake("sends OpenAI the deprecated max_tokens", (("max_completion_tokens=max_tokens", "max_tokens=max_tokens"),),
            MAX_COMPLETION_TOKENS),
    Mistake("sends Anthropic a fixed max_tokens=300",
            (("model=model, max_tokens=max_tokens", "model=model, max_tokens=300"),),
            PASS_MAX_TOKENS),
    Mistake("prices per thousand tokens, not per million", (("/ 1_000_000", "/ 1_000"),), PER_MILLION),
    Mistake("prices output at the input price",
            (("tokens_out * spec.output_usd_per_mtok", "tokens_out * spec.input_usd_per_mtok"),), PER_MILLION),
    Mistake("swaps Anthropic's input and output tokens",
            (("tokens_in, tokens_out = message.usage.input_tokens, message.usage.output_tokens",
              "tokens_in, tokens_out = message.usage.output_tokens, message.usage.input_tokens"),), USAGE_FIELDS),
    Mistake("takes OpenAI's total_tokens as its output tokens",
            (("completion.usage.completion_tokens", "completion.usage.total_tokens"),), USAGE_FIELDS),
)


GROW = ("Grow the room at least twofold each time (max_tokens *= 2): adding a fixed amount takes many requests "
        "from a small start.")
START = "The first request uses the max_tokens the caller gave; grow it only after a reply comes back cut off."
KEEP_GOING = "A reply with stop == 'max_tokens' is cut off: ask again with more room until stop == 'end'."
OTHER_STOP = ("Only stop == 'max_tokens' is worth more room. Any other stop but 'end' (a refusal, a content filter) "
              "will not change with a bigger limit: raise ValueError naming it, after one request.")

NAME_REASON = "The ValueError's message names the stop reason the reply ended with (e.g. f\"... {answer.stop!r} ...\")."


def _complete_case(report: Report, fn: Callable[..., Any], *, seed: int, model: str, start: int) -> None:
    world = checked_world(seed=seed, max_attempts=40)
    text = report.call(fn, world, model, _PROMPT, max_tokens=start)
    report.expect(isinstance(text, str), f"should return the reply text (a str), got {type(text).__name__}")
    attempts = [r for r in world.requests if r.endpoint in ("chat.completions", "responses", "messages")]
    report.expect(bool(attempts), "made no request")
    # A reply cut at max_tokens is exactly max_tokens long, so the cut attempts show the room each was given.
    rooms = [r.output_tokens for r in attempts if r.stop_reason in ("length", "max_tokens")]
    report.expect(not rooms or rooms[0] == start, f"the first request should use max_tokens={start}, used {rooms[:1]}",
                  hint=START)
    last = attempts[-1]
    report.expect(last.stop_reason in ("stop", "end_turn"),
                  f"returned after a reply that was cut off (stop reason {last.stop_reason!r})", hint=KEEP_GOING)
    spec = world.catalog[model]
    report.expect(count_tokens(text, spec.encoding) == last.output_tokens,
                  "the text returned is not the last, complete reply")
    slow = [(a, b) for a, b in zip(rooms, rooms[1:], strict=False) if b < 2 * a]
    report.expect(not slow, f"max_tokens went from {slow[0][0]} to {slow[0][1]} (requests made: {len(attempts)})"
                  if slow else "", hint=GROW)


def _refused_case(report: Report, fn: Callable[..., Any], *, seed: int, model: str) -> None:
    world = checked_world(seed=seed, max_attempts=40)

    def attempt() -> tuple[str, Any]:
        try:
            return "returned", fn(world, model, _REFUSED_PROMPT, max_tokens=64)
        except NotImplementedError:
            raise
        except Exception as err:
            return "raised", err

    how, what = report.call(attempt)
    report.expect(len(world.requests) == 1, f"made {len(world.requests)} requests for a reply the model refused "
                                            "(more room does not change a refusal)", hint=OTHER_STOP)
    report.expect(how == "raised", f"returned {what!r:.60} as if it were a complete reply; the model refused",
                  hint=OTHER_STOP)
    report.expect(isinstance(what, ValueError), f"raised {type(what).__name__}: {what}; raise ValueError")
    report.expect("refusal" in str(what), f"the ValueError should name the stop reason ('refusal'); its message is "
                                          f"{str(what)!r:.80}", hint=NAME_REASON)


@register("first-calls-complete")
def check_complete(fn: Callable[..., Any], report: Report) -> None:
    with report.case("a reply that fits costs exactly one request"):
        world = checked_world(seed=21)
        text = report.call(fn, world, "gpt-fast", _PROMPT, max_tokens=400)
        report.expect(len(world.requests) == 1,
                      f"made {len(world.requests)} requests for a reply that fit the first time")
        want = reference_reply(World(seed=21), "gpt-fast", _PROMPT, 400)["text"]
        report.expect(text == want, "did not return the reply's text")
    with report.case("a reply cut off at max_tokens=4 is asked again with more room (OpenAI)"):
        _complete_case(report, fn, seed=22, model="gpt-fast", start=4)
    with report.case("a reply cut off at max_tokens=4 is asked again with more room (Anthropic)"):
        _complete_case(report, fn, seed=23, model="claude-strong", start=4)
    with report.case("room grows by doubling: few requests even from max_tokens=1"):
        _complete_case(report, fn, seed=24, model="claude-fast", start=1)
    with report.case("a refusal is raised as ValueError after one request, not asked again (Anthropic)"):
        _refused_case(report, fn, seed=25, model="claude-fast")


mistakes(
    "first-calls-complete",
    Mistake("adds a fixed amount of room instead of doubling it", (("max_tokens *= 2", "max_tokens += 16"),), GROW),
    Mistake("doubles before the first request", (("reply(world, model, prompt, max_tokens=max_tokens)",
                                                  "reply(world, model, prompt, max_tokens=2 * max_tokens)"),), START),
    Mistake("returns the first reply, cut off or not",
            (('if answer.stop == "end":', 'if answer.stop in ("end", "max_tokens"):'),), KEEP_GOING),
    Mistake("returns any reply that was not cut off, a refusal included",
            (('if answer.stop == "end":', 'if answer.stop != "max_tokens":'),), OTHER_STOP),
    Mistake("asks again with more room whatever the stop reason",
            (('if answer.stop != "max_tokens":\n            raise', 'if False:\n            raise'),), OTHER_STOP),
    Mistake("raises a ValueError that does not say why",
            (('f"the reply ended with {answer.stop!r}; more room will not change that"',
              '"the reply was not finished"'),),
            NAME_REASON),
)
