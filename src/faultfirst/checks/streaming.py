"""Checks for the lesson "Streaming" (book/tier1/streaming.md).

Each case runs the learner's function in a fresh seeded world and a reference
consumer in a twin world with the same seed, so both see the same stream, the
same fault and the same timing. The seeds are chosen for what their first
attempt does (tests/test_exercises.py proves the solutions pass, and the
`_SEEDS` comments say what each seed injects).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai

from .._world import World
from ._framework import Report, checked_world, register

_PROMPT = "Explain in a few sentences why a streamed reply can stop in the middle."
_FIELDS = ("text", "complete", "failure")

# What the first streamed attempt of a fresh world with this seed does.
_MID_STREAM_ERROR = 50  # overloaded: an error event after some text, any model
_RESET = 61  # overloaded: connection reset before any byte
_OVERLOADED = 5  # overloaded: 529 (Anthropic) / 503 (OpenAI) before the stream
_STALL = 0  # calm: the first token comes later than 1 s for claude-strong and 0.8 s for gpt-strong


@dataclass(frozen=True)
class _Result:
    text: str
    complete: bool
    failure: BaseException | None


def reference_stream_reply(world: World, model: str, prompt: str, *, max_tokens: int = 300,
                           timeout: float = 60.0) -> _Result:
    """What a correct `stream_reply` returns: every text delta received, how it ended, the exception as raised."""
    messages = [{"role": "user", "content": prompt}]
    pieces: list[str] = []
    ending: str | None = None
    try:
        if world.catalog[model].provider == "openai":
            stream = world.openai(timeout=timeout).chat.completions.create(
                model=model, messages=messages, max_tokens=max_tokens, stream=True)
            with stream:
                for chunk in stream:
                    for choice in chunk.choices:
                        if choice.delta.content:
                            pieces.append(choice.delta.content)
                        ending = choice.finish_reason or ending
            return _Result("".join(pieces), ending == "stop", None)
        stream = world.anthropic(timeout=timeout).messages.create(
            model=model, max_tokens=max_tokens, messages=messages, stream=True)
        with stream:
            for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    pieces.append(event.delta.text)
                elif event.type == "message_delta":
                    ending = event.delta.stop_reason
        return _Result("".join(pieces), ending in ("end_turn", "stop_sequence"), None)
    except (openai.APIError, anthropic.APIError, httpx2.TransportError) as err:
        return _Result("".join(pieces), False, err)


def reference_fallback(world: World, prompt: str, models: tuple[str, ...], *, first_token_timeout: float,
                       max_tokens: int = 300) -> _Result:
    """What a correct `stream_with_fallback` returns: the next model only while no text has arrived."""
    result = _Result("", False, None)
    for model in models:
        result = reference_stream_reply(world, model, prompt, max_tokens=max_tokens, timeout=first_token_timeout)
        if result.text or result.failure is None:
            return result
    return result


def _name(error: BaseException | None) -> str:
    return "None" if error is None else f"{type(error).__module__}.{type(error).__qualname__}"


def _words(text: str) -> str:
    words = text.split()
    return f"{len(words)} words" + (f" ending {' '.join(words[-3:])!r}" if words else "")


def _compare(report: Report, got: Any, want: _Result, world: World, *, attempts: int) -> None:
    missing = [name for name in _FIELDS if not hasattr(got, name)]
    report.expect(not missing, f"the result has no {', '.join(missing)} (return a StreamResult with text, complete, "
                               f"failure); got {type(got).__name__}")
    report.expect(isinstance(got.text, str), f"text should be a str, got {type(got.text).__name__}")
    made = len(world.requests)
    report.expect(made == attempts, f"made {made} requests, expected {attempts}" +
                  (": return the failure and leave retrying to the caller" if made > attempts else ""))
    if want.failure is None:
        report.expect(got.failure is None, f"the stream ended without an error, but failure is {_name(got.failure)}: "
                                           f"{got.failure}")
    else:
        report.expect(got.failure is not None, f"the stream failed with {_name(want.failure)}, but failure is None")
        report.expect(isinstance(got.failure, BaseException),
                      f"failure should be the exception itself, got {type(got.failure).__name__} {got.failure!r}")
        report.expect(type(got.failure) is type(want.failure),
                      f"failure should be the {_name(want.failure)} the SDK raised, exactly as raised; "
                      f"got {_name(got.failure)}")
    if got.text != want.text:
        if want.text.startswith(got.text):
            reason = (f"text should be every text delta that arrived ({_words(want.text)}); got only "
                      f"{_words(got.text)}")
        else:
            reason = f"text should be {_words(want.text)}; got {_words(got.text)}"
        report.expect(False, reason)
    report.expect(got.complete is want.complete,
                  f"complete should be {want.complete}, got {got.complete!r}"
                  + ("" if want.complete else " (a reply that failed or was cut off is not complete)"))


def _case(report: Report, fn: Callable[..., Any], *, seed: int, scenario: str, model: str,
          timeout: float | None = None, max_tokens: int = 300) -> None:
    world = checked_world(seed=seed, scenario=scenario, max_attempts=20)
    options: dict[str, Any] = {"max_tokens": max_tokens}
    if timeout is not None:
        options["timeout"] = timeout
    got = report.call(fn, world, model, _PROMPT, **options)
    want = reference_stream_reply(World(seed=seed, scenario=scenario), model, _PROMPT, **options)
    _compare(report, got, want, world, attempts=1)


@register("streaming-partial")
def check_stream_reply(fn: Callable[..., Any], report: Report) -> None:
    with report.case("OpenAI (gpt-fast): the whole reply, complete, no failure",
                     hint="Chat Completions' first chunk has content ''; later chunks carry the text in "
                          "choices[0].delta.content, and the last usable one has finish_reason."):
        _case(report, fn, seed=31, scenario="calm", model="gpt-fast")
    with report.case("Anthropic (claude-strong): the whole reply, complete, no failure",
                     hint="Collect event.delta.text from content_block_delta events; message_delta carries "
                          "delta.stop_reason."):
        _case(report, fn, seed=32, scenario="calm", model="claude-strong")
    with report.case("OpenAI: an error event mid-stream gives the partial text and openai.APIError",
                     hint="Keep the pieces in a list outside the try block, so they survive the exception."):
        _case(report, fn, seed=_MID_STREAM_ERROR, scenario="overloaded", model="gpt-fast")
    with report.case("Anthropic: an error event mid-stream gives the partial text and anthropic.APIStatusError",
                     hint="anthropic raises a plain APIStatusError with status_code 200 for an error event."):
        _case(report, fn, seed=_MID_STREAM_ERROR, scenario="overloaded", model="claude-fast")
    with report.case("a connection reset before any event: empty text, APIConnectionError from create()",
                     hint="create(stream=True) itself can raise; put it inside the try block too."):
        _case(report, fn, seed=_RESET, scenario="overloaded", model="claude-fast")
    with report.case("an overloaded API refuses the stream before it starts (503)"):
        _case(report, fn, seed=_OVERLOADED, scenario="overloaded", model="gpt-strong")
    with report.case("OpenAI: a stall after the head with timeout=0.8 gives openai.APITimeoutError",
                     hint="Pass timeout to the client (world.openai(timeout=timeout)) or to create()."):
        _case(report, fn, seed=_STALL, scenario="calm", model="gpt-strong", timeout=0.8)
    with report.case("Anthropic: a stall after the head with timeout=1.0 is returned, not raised (httpx2.ReadTimeout)",
                     hint="anthropic does not wrap a read timeout during iteration: catch httpx2.TransportError as "
                          "well as anthropic.APIError."):
        _case(report, fn, seed=_STALL, scenario="calm", model="claude-strong", timeout=1.0)
    with report.case("OpenAI: a reply cut at max_tokens=12 is not complete, and is not a failure",
                     hint="finish_reason == 'length' means cut off."):
        _case(report, fn, seed=33, scenario="calm", model="gpt-fast", max_tokens=12)
    with report.case("Anthropic: a reply cut at max_tokens=12 is not complete, and is not a failure",
                     hint="stop_reason == 'max_tokens' (in the message_delta event) means cut off."):
        _case(report, fn, seed=34, scenario="calm", model="claude-fast", max_tokens=12)


_FALLBACK = ("claude-strong", "gpt-fast")


def _fallback_case(report: Report, fn: Callable[..., Any], *, seed: int, scenario: str, budget: float,
                   attempts: int, why: str, models: tuple[str, ...] = _FALLBACK) -> None:
    world = checked_world(seed=seed, scenario=scenario, max_attempts=20)
    got = report.call(fn, world, _PROMPT, models, first_token_timeout=budget)
    want = reference_fallback(World(seed=seed, scenario=scenario), _PROMPT, models, first_token_timeout=budget)
    tried = [r.model for r in world.requests]
    report.expect(tried == list(models[:attempts]), f"asked {tried}, expected {list(models[:attempts])}: {why}")
    _compare(report, got, want, world, attempts=attempts)


@register("streaming-ttft")
def check_stream_with_fallback(fn: Callable[..., Any], report: Report) -> None:
    with report.case("the first model answers within the budget: one request, its whole reply"):
        _fallback_case(report, fn, seed=41, scenario="calm", budget=2.0, attempts=1,
                       why="the first model answered, so no other model should be asked")
    with report.case("the first model is silent past the budget: the second model answers",
                     hint="Pass first_token_timeout on as the read timeout: stream_reply(..., timeout=first_token_timeout)."):
        _fallback_case(report, fn, seed=_STALL, scenario="calm", budget=1.0, attempts=2,
                       why="the first model's first token came after the 1 s budget, so the second should be asked")
    with report.case("the first model is refused before the stream (529): the second model answers"):
        _fallback_case(report, fn, seed=7, scenario="overloaded", budget=2.0, attempts=2,
                       why="the first model failed before any text, so the second should be asked")
    with report.case("the first model fails after text arrived: no switch, the partial text and its failure",
                     hint="Switch only when result.text is empty: the user has already read the first model's words."):
        _fallback_case(report, fn, seed=_MID_STREAM_ERROR, scenario="overloaded", budget=2.0, attempts=1,
                       why="text had already arrived, so switching models would start a different answer under it")
    with report.case("every model fails before any text: the last failure comes back, nothing is raised"):
        _fallback_case(report, fn, seed=0, scenario="calm", budget=0.01, attempts=2,
                       why="each model failed before any text, so each should be asked once")
