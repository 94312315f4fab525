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

from ..text import plural
from ..world import World
from ._framework import Mistake, Report, checked_world, mistakes, register

_PROMPT = "Explain in a few sentences why a streamed reply can stop in the middle."
# Scripted in fixtures/tier1-endings.json: the engine never ends a reply these ways by itself.
# closes before its stop reason
_DROPPED_PROMPT = "Explain in a few sentences why a load balancer can close a long stream."
_REFUSED_PROMPT = "Write an email that tricks our customers into sending their passwords."  # content_filter / refusal
_STOP_SEQUENCE_PROMPT = "List three reasons a streamed reply can stop early, then write END."  # stop_sequence "END"
# breaks after its stop reason
_BROKEN_PROMPT = "Explain in a few sentences why a proxy can break a stream at its very end."
_EMPTY_PROMPT = "If there is nothing to add, reply with nothing at all."  # finishes cleanly with no text
_FIELDS = ("text", "complete", "failure")

# What the first streamed attempt of a fresh world with this seed does.
_MID_STREAM_ERROR = 19  # overloaded: an error event after some text, any model
_RESET = 37  # overloaded: connection reset before any byte
_OVERLOADED = 2  # overloaded: 529 (Anthropic) / 503 (OpenAI) before the stream
_STALL = 0  # calm: the first token comes later than 1 s for claude-strong and 0.8 s for gpt-strong

# The endings that mean the model finished: OpenAI's "stop" (which covers its stop sequences) and Anthropic's
# "end_turn" and "stop_sequence" (the reply stopped where the request asked it to). Any other ending, and a stream
# that closed before it said why it ended, is not complete.
COMPLETE_ENDINGS = ("stop", "end_turn", "stop_sequence")

SDK_ERRORS = ("Every SDK error a streamed call raises (refusals, resets, timeouts, error events) derives from "
              "openai.APIError or anthropic.APIError: catch both, around create() and the loop, and return it.")
TRANSPORT_ERRORS = ("anthropic does not wrap a stall or a broken connection during iteration: catch "
                    "httpx2.TransportError (its timeouts and its protocol errors, such as RemoteProtocolError) as well "
                    "as anthropic.APIError, not only httpx2.TimeoutException.")
KEEP_PIECES = ("Keep the pieces in a list created before the try block, and return them joined when the stream "
               "fails: the user has already read them.")
EXACT_FAILURE = "Return the exception the SDK raised as failure, exactly as raised, not a wrapper or a new one."
PASS_TIMEOUT = "Pass timeout to the client (world.openai(timeout=timeout), world.anthropic(timeout=timeout))."
CUT_OFF = ("A reply cut at the limit is not complete: finish_reason 'length' (OpenAI), stop_reason 'max_tokens' "
           "(Anthropic).")
NO_STOP_REASON = ("complete is True only when you saw an ending that means finished ('stop', 'end_turn', "
                  "'stop_sequence'). A stream that closed before any stop reason arrived was cut: testing "
                  "'not length' (or 'not max_tokens') calls it complete.")
STOP_SEQUENCE = ("stop_reason 'stop_sequence' means the reply stopped where the request asked it to: complete, as "
                 "OpenAI's finish_reason 'stop' is for the same event.")
FILTERED = ("finish_reason 'content_filter' (Anthropic: stop_reason 'refusal') means the model did not finish its "
            "answer: not complete.")
ONE_REQUEST = "Make one request and return the failure: retrying is the caller's decision."
FAILED_NOT_COMPLETE = ("A stream that failed is not complete, even when its stop reason had already arrived: "
                       "return complete=False with the failure.")


@dataclass(frozen=True)
class _Result:
    text: str
    complete: bool
    failure: BaseException | None
    ending: str | None = None  # the last stop reason the stream said, if any


def reference_stream_reply(world: World, model: str, prompt: str, *, max_tokens: int = 300,
                           timeout: float = 60.0) -> _Result:
    """What a correct `stream_reply` returns: every text delta received, how it ended, the exception as raised."""
    messages: list[Any] = [{"role": "user", "content": prompt}]
    pieces: list[str] = []
    ending: str | None = None
    try:
        if world.catalog[model].provider == "openai":
            stream = world.openai(timeout=timeout).chat.completions.create(
                model=model, messages=messages, max_completion_tokens=max_tokens, stream=True)
            with stream:
                for chunk in stream:
                    for choice in chunk.choices:
                        if choice.delta.content:
                            pieces.append(choice.delta.content)
                        ending = choice.finish_reason or ending
        else:
            events = world.anthropic(timeout=timeout).messages.create(
                model=model, max_tokens=max_tokens, messages=messages, stream=True)
            with events:
                for event in events:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        pieces.append(event.delta.text)
                    elif event.type == "message_delta":
                        ending = event.delta.stop_reason
        return _Result("".join(pieces), ending in COMPLETE_ENDINGS, None, ending)
    except (openai.APIError, anthropic.APIError, httpx2.TransportError) as err:
        return _Result("".join(pieces), False, err, ending)


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
    return f"{plural(len(words), 'word')}" + (f" ending {' '.join(words[-3:])!r}" if words else "")


def _call(report: Report, fn: Callable[..., Any], *args: Any, escaped: str | None = None, **kwargs: Any) -> Any:
    """The learner's result; an SDK or transport error that escaped is a failed expectation with its hint
    (`escaped`, or which of the two errors a stream_reply must catch)."""
    def attempt() -> tuple[bool, Any]:
        try:
            return True, fn(*args, **kwargs)
        except (openai.APIError, anthropic.APIError, httpx2.TransportError) as err:
            return False, err

    returned, value = report.call(attempt)
    if not returned:
        sdk = isinstance(value, (openai.APIError, anthropic.APIError))
        report.expect(False, f"raised {_name(value)}: {str(value)[:120]} (a failed stream should be returned as "
                             "failure, not raised)", hint=escaped or (SDK_ERRORS if sdk else TRANSPORT_ERRORS))
    return value


def _complete_hint(want: _Result) -> str | None:
    if want.complete:
        return STOP_SEQUENCE if want.ending == "stop_sequence" else None
    if want.failure is not None:
        return FAILED_NOT_COMPLETE
    if want.ending in ("content_filter", "refusal"):
        return FILTERED
    return CUT_OFF if want.ending in ("length", "max_tokens") else NO_STOP_REASON


def _compare(report: Report, got: Any, want: _Result, world: World, *, attempts: int) -> None:
    missing = [name for name in _FIELDS if not hasattr(got, name)]
    report.expect(not missing, f"the result has no {', '.join(missing)} (return a StreamResult with text, complete, "
                               f"failure); got {type(got).__name__}")
    report.expect(isinstance(got.text, str), f"text should be a str, got {type(got.text).__name__}")
    made = len(world.requests)
    report.expect(made <= attempts, f"made {made} requests, expected {attempts}", hint=ONE_REQUEST)
    report.expect(made == attempts, f"made {plural(made, 'request')}, expected {attempts}")
    if want.failure is None:
        report.expect(got.failure is None, f"the stream ended without an error, but failure is {_name(got.failure)}: "
                                           f"{got.failure}")
    else:
        timed_out = isinstance(want.failure, (openai.APITimeoutError, httpx2.TimeoutException))
        report.expect(got.failure is not None, f"the stream failed with {_name(want.failure)}, but failure is None",
                      hint=PASS_TIMEOUT if timed_out else None)
        report.expect(isinstance(got.failure, BaseException) and type(got.failure) is type(want.failure),
                      f"failure should be the {_name(want.failure)} the SDK raised, exactly as raised; "
                      f"got {_name(got.failure)} {got.failure!r:.80}", hint=EXACT_FAILURE)
    if got.text != want.text:
        lost = want.failure is not None and not got.text and want.text
        reason = (f"text should be every text delta that arrived ({_words(want.text)}); got {_words(got.text)}")
        report.expect(False, reason, hint=KEEP_PIECES if lost else None)
    report.expect(got.complete is want.complete,
                  f"the stream ended with {want.ending!r}" + (f" and {_name(want.failure)}" if want.failure else "")
                  + f", so complete should be {want.complete}; got {got.complete!r}", hint=_complete_hint(want))


def _case(report: Report, fn: Callable[..., Any], *, seed: int, scenario: str, model: str,
          timeout: float | None = None, max_tokens: int = 300, prompt: str = _PROMPT) -> None:
    world = checked_world(seed=seed, scenario=scenario, max_attempts=20)
    options: dict[str, Any] = {"max_tokens": max_tokens}
    if timeout is not None:
        options["timeout"] = timeout
    got = _call(report, fn, world, model, prompt, **options)
    want = reference_stream_reply(World(seed=seed, scenario=scenario), model, prompt, **options)
    _compare(report, got, want, world, attempts=1)


@register("streaming-partial")
def check_stream_reply(fn: Callable[..., Any], report: Report) -> None:
    with report.case("OpenAI (gpt-fast): the whole reply, complete, no failure"):
        _case(report, fn, seed=31, scenario="calm", model="gpt-fast")
    with report.case("Anthropic (claude-strong): the whole reply, complete, no failure"):
        _case(report, fn, seed=32, scenario="calm", model="claude-strong")
    with report.case("OpenAI: an error event mid-stream gives the partial text and openai.APIError"):
        _case(report, fn, seed=_MID_STREAM_ERROR, scenario="overloaded", model="gpt-fast")
    with report.case("Anthropic: an error event mid-stream gives the partial text and anthropic.APIStatusError"):
        _case(report, fn, seed=_MID_STREAM_ERROR, scenario="overloaded", model="claude-fast")
    with report.case("a connection reset before any event: empty text, APIConnectionError from create()"):
        _case(report, fn, seed=_RESET, scenario="overloaded", model="claude-fast")
    with report.case("an overloaded API refuses the stream before it starts (503)"):
        _case(report, fn, seed=_OVERLOADED, scenario="overloaded", model="gpt-strong")
    with report.case("OpenAI: a stall after the head with timeout=0.8 gives openai.APITimeoutError"):
        _case(report, fn, seed=_STALL, scenario="calm", model="gpt-strong", timeout=0.8)
    with report.case("Anthropic: a stall after the head with timeout=1.0 is returned, not raised (httpx2.ReadTimeout)"):
        _case(report, fn, seed=_STALL, scenario="calm", model="claude-strong", timeout=1.0)
    with report.case("OpenAI: a reply cut at max_tokens=12 is not complete, and is not a failure"):
        _case(report, fn, seed=33, scenario="calm", model="gpt-fast", max_tokens=12)
    with report.case("Anthropic: a reply cut at max_tokens=12 is not complete, and is not a failure"):
        _case(report, fn, seed=34, scenario="calm", model="claude-fast", max_tokens=12)
    with report.case("OpenAI: a stream that closes before its finish_reason is not complete, and is not a failure"):
        _case(report, fn, seed=35, scenario="calm", model="gpt-fast", prompt=_DROPPED_PROMPT)
    with report.case("Anthropic: a stream that closes before its message_delta is not complete, and is not a failure"):
        _case(report, fn, seed=36, scenario="calm", model="claude-fast", prompt=_DROPPED_PROMPT)
    with report.case("Anthropic: the connection breaks after message_delta: the text, httpx2.RemoteProtocolError, "
                     "not complete"):
        _case(report, fn, seed=39, scenario="calm", model="claude-fast", prompt=_BROKEN_PROMPT)
    with report.case("OpenAI: the connection breaks after finish_reason 'stop': the text, openai.APIConnectionError, "
                     "not complete"):
        _case(report, fn, seed=40, scenario="calm", model="gpt-fast", prompt=_BROKEN_PROMPT)
    with report.case("OpenAI: a stream that ends with finish_reason 'content_filter' is not complete"):
        _case(report, fn, seed=38, scenario="calm", model="gpt-fast", prompt=_REFUSED_PROMPT)
    with report.case("Anthropic: a reply that stopped on its stop sequence is complete"):
        _case(report, fn, seed=37, scenario="calm", model="claude-fast", prompt=_STOP_SEQUENCE_PROMPT)


mistakes(
    "streaming-partial",
    Mistake("OpenAI: complete unless cut off at the limit (a stream with no finish_reason reads as complete)",
            (('complete = ending == "stop"', 'complete = ending != "length"'),), NO_STOP_REASON),
    Mistake("Anthropic: complete unless cut off at the limit (a stream with no stop_reason reads as complete)",
            (('complete = ending in ("end_turn", "stop_sequence")', 'complete = ending != "max_tokens"'),),
            NO_STOP_REASON),
    Mistake("Anthropic: only end_turn is complete, so a stop sequence reads as cut off",
            (('complete = ending in ("end_turn", "stop_sequence")', 'complete = ending == "end_turn"'),),
            STOP_SEQUENCE),
    Mistake("OpenAI: complete whatever finish_reason said (a cut-off reads as complete)",
            (('complete = ending == "stop"', "complete = True"),), CUT_OFF),
    Mistake("OpenAI: counts a content-filtered stream as complete",
            (('complete = ending == "stop"', 'complete = ending in ("stop", "content_filter")'),), FILTERED),
    Mistake("catches anthropic's errors only", (("except (openai.APIError, anthropic.APIError, httpx2.TransportError)",
                                                 "except (anthropic.APIError, httpx2.TransportError)"),), SDK_ERRORS),
    Mistake("does not catch httpx2.TransportError (anthropic's stall escapes)",
            (("except (openai.APIError, anthropic.APIError, httpx2.TransportError)",
              "except (openai.APIError, anthropic.APIError)"),), TRANSPORT_ERRORS),
    Mistake("catches httpx2.TimeoutException, not every httpx2.TransportError (a broken connection escapes)",
            (("except (openai.APIError, anthropic.APIError, httpx2.TransportError)",
              "except (openai.APIError, anthropic.APIError, httpx2.TimeoutException)"),), TRANSPORT_ERRORS),
    Mistake("calls a failed stream complete when its stop reason had arrived",
            (('return StreamResult("".join(pieces), complete=False, failure=err)',
              'return StreamResult("".join(pieces), complete=ending in ("stop", "end_turn", "stop_sequence"), '
              'failure=err)'),), FAILED_NOT_COMPLETE),
    Mistake("drops the text that arrived before the failure",
            (('return StreamResult("".join(pieces), complete=False, failure=err)',
              'return StreamResult("", complete=False, failure=err)'),), KEEP_PIECES),
    Mistake("wraps the failure in an exception of its own",
            (("failure=err)", "failure=RuntimeError(str(err)))"),), EXACT_FAILURE),
    Mistake("does not pass timeout on (OpenAI)", (("world.openai(timeout=timeout)", "world.openai()"),), PASS_TIMEOUT),
    Mistake("retries a failed stream itself",
            (("world.openai(timeout=timeout)", "world.openai(timeout=timeout, max_retries=2)"),
             ("world.anthropic(timeout=timeout)",
                                                "world.anthropic(timeout=timeout, max_retries=2)")), ONE_REQUEST),
)


_FALLBACK = ("claude-strong", "gpt-fast")

PASS_BUDGET = "Pass first_token_timeout on as the read timeout: stream_reply(..., timeout=first_token_timeout)."
SWITCH_BEFORE_TEXT = ("Try the next model after any failure before text arrived (refused, reset, or silent past the "
                      "budget), not only after a timeout.")
NO_SWITCH_AFTER_TEXT = ("Switch only when result.text is empty: once words arrived, return that result, failed or "
                        "not; the user has already read them.")
PASS_ON_MAX_TOKENS = "Pass max_tokens on to each attempt: stream_reply(..., max_tokens=max_tokens, ...)."
RETURN_LAST = "When every model failed before any text, return the last result; never raise."
CLEAN_EMPTY = ("A model that finished without a failure has answered, even with no text: return its result. Switch "
               "only when result.failure is set and no text arrived (if result.text or result.failure is None).")


def _fallback_case(report: Report, fn: Callable[..., Any], *, seed: int, scenario: str, budget: float,
                   attempts: int, why: str, hint: str, models: tuple[str, ...] = _FALLBACK,
                   max_tokens: int = 300, prompt: str = _PROMPT) -> None:
    world = checked_world(seed=seed, scenario=scenario, max_attempts=20)
    got = _call(report, fn, world, prompt, models, first_token_timeout=budget, max_tokens=max_tokens,
                escaped=RETURN_LAST)
    want = reference_fallback(World(seed=seed, scenario=scenario), prompt, models, first_token_timeout=budget,
                              max_tokens=max_tokens)
    over = [r.output_tokens for r in world.requests if r.output_tokens > max_tokens]
    report.expect(not over, f"called with max_tokens={max_tokens}, but a reply of {over[:1]} tokens came back",
                  hint=PASS_ON_MAX_TOKENS)
    tried = [r.model for r in world.requests]
    report.expect(tried == list(models[:attempts]), f"asked {tried}, expected {list(models[:attempts])}: {why}",
                  hint=hint)
    _compare(report, got, want, world, attempts=attempts)


@register("streaming-ttft")
def check_stream_with_fallback(fn: Callable[..., Any], report: Report) -> None:
    with report.case("the first model answers within the budget: one request, its whole reply"):
        _fallback_case(report, fn, seed=41, scenario="calm", budget=2.0, attempts=1, hint=NO_SWITCH_AFTER_TEXT,
                       why="the first model answered, so no other model should be asked")
    with report.case("the first model is silent past the budget: the second model answers"):
        _fallback_case(report, fn, seed=_STALL, scenario="calm", budget=1.0, attempts=2, hint=PASS_BUDGET,
                       why="the first model's first token came after the 1 s budget, so the second should be asked")
    with report.case("the first model is refused before the stream (529): the second model answers"):
        _fallback_case(report, fn, seed=18, scenario="overloaded", budget=2.0, attempts=2, hint=SWITCH_BEFORE_TEXT,
                       why="the first model failed before any text, so the second should be asked")
    with report.case("the first model fails after text arrived: no switch, the partial text and its failure"):
        _fallback_case(report, fn, seed=_MID_STREAM_ERROR, scenario="overloaded", budget=2.0, attempts=1,
                       hint=NO_SWITCH_AFTER_TEXT,
                       why="text had already arrived, so switching models would start a different answer under it")
    with report.case("max_tokens=12 is passed on: the reply is cut at 12 tokens, not complete, and not switched"):
        _fallback_case(report, fn, seed=41, scenario="calm", budget=2.0, attempts=1, hint=PASS_ON_MAX_TOKENS,
                       max_tokens=12, why="the first model answered (cut at the limit), so no other model should be "
                                          "asked")
    with report.case("the first model finishes cleanly with no text: one request, its empty reply"):
        _fallback_case(report, fn, seed=42, scenario="calm", budget=2.0, attempts=1, hint=CLEAN_EMPTY,
                       prompt=_EMPTY_PROMPT,
                       why="the first model finished without a failure, so no other model should be asked")
    with report.case("every model fails before any text: the last failure comes back, nothing is raised"):
        _fallback_case(report, fn, seed=0, scenario="calm", budget=0.01, attempts=2, hint=SWITCH_BEFORE_TEXT,
                       why="each model failed before any text, so each should be asked once")


mistakes(
    "streaming-ttft",
    Mistake("keeps stream_reply's default timeout instead of the first-token budget",
            (("timeout=first_token_timeout", "timeout=60.0"),), PASS_BUDGET),
    Mistake("switches after any failure, even once text arrived",
            (("if result.text or result.failure is None:", "if result.failure is None:"),), NO_SWITCH_AFTER_TEXT),
    Mistake("switches only after a timeout",
            (("if result.text or result.failure is None:",
              "if result.text or not isinstance(result.failure, (openai.APITimeoutError, httpx2.TimeoutException)):"),),
            SWITCH_BEFORE_TEXT),
    Mistake("asks only the first model", (("for model in models:", "for model in models[:1]:"),), SWITCH_BEFORE_TEXT),
    Mistake("does not pass max_tokens on", (("prompt, max_tokens=max_tokens, timeout", "prompt, timeout"),),
            PASS_ON_MAX_TOKENS),
    Mistake("raises the last failure when every model failed",
            (("            return result\n    return result", "            return result\n    raise result.failure"),),
            RETURN_LAST),
    Mistake("switches away from a clean reply with no text",
            (("if result.text or result.failure is None:", "if result.text:"),), CLEAN_EMPTY),
    Mistake("asks every model and returns the last answer",
            (("        if result.text or result.failure is None:\n            return result\n", ""),),
            NO_SWITCH_AFTER_TEXT),
)
