"""Checks for the lesson "Fallbacks" (book/tier2/fallbacks.md).

`fallbacks-adapter` sends neutral requests through the learner's adapter and
reads what reached the API: one attempt, in the provider's shape (a system
message for OpenAI, `system=` for Anthropic, no system role among Anthropic's
messages, no system prompt at all when the request has none), the request's
instructions and user text carried word for word somewhere in the right place,
the output limit passed on, and the reply's text returned whole (a Claude reply
of several text blocks included). The adapter may wrap the instructions in its
own per-provider template (the lesson's point: different models need different
prompts), so the check never compares the prompt, the reply or the token count
with a reference adapter's. Then it makes each failure shape happen (an outage,
an overload, a reset, a 429, a 408 and a 409, prompts over the window, a prompt
whose `max_tokens` does not fit beside it, a malformed request, a 404) and checks which
of the lesson's neutral exceptions comes out, chained from the SDK's.

`fallbacks-chain` drives traffic through the learner's chain, one request every
15 or 20 simulated seconds, under `calm`, `overloaded`, and `outage` and
`bad-day` with their outages shortened to a few minutes (as many requests as
show a breaker open, probe and close, and no more: each costs the SDKs
milliseconds), and judges it by what the world saw: attempts per provider inside and outside the
outage window, which model answered when, how many requests were answered and
how many lost, and what was raised. The driver is sequential, so it cannot see
a half-open breaker that admits every call (each probe's outcome is known before
the next call); one case therefore sends requests *while* the probe is in
flight (from inside the simulated API, as it plans the probe), and counts how
many reach the recovering provider. Two short cases pin what long traffic
cannot: two OpenAI models in an OpenAI outage share one breaker, whose
`allow()` the check then calls on the world's clock at exactly `cooldown`
seconds after it opened; and a half-open probe answered with a 400 closes it.

The lesson's types (`Request`, `Answer`, `Unavailable`, `TooLong`, `Rejected`,
`AllFailed`) live in the notebook's setup cell, so the check builds requests of
its own with the same fields and recognises the exceptions by class name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..service.attempts import Attempt
from ..service.records import RequestRecord
from ..service.scenarios import SCENARIOS, Outage, RateLimits
from ..world import World
from ..text import plural
from ._framework import (Mistake, Report, _CaseFailed, checked_world, mistakes,
                         register, usage)

# -- the lesson's neutral request ---------------------------------------------------------------------------------

_SYSTEM = "You summarise search results for researchers. Answer in two sentences."
_QUESTION = "What do the search results say about retry storms during an outage?"
_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
    "required": ["title", "year"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class _Request:
    """The same fields as the lesson's `Request`, so the learner's code reads it the same way."""

    user: str
    system: str = ""
    max_tokens: int = 400
    schema: dict | None = None


# -- hints: each names one mistake, and is given where the check observes that mistake ----------------------------

HINT_OPENAI_SYSTEM = ("Chat Completions takes the instructions as a message with role 'system' before the user "
                      "message, not folded into the user's text.")
HINT_ANTHROPIC_SYSTEM = ("The Messages API takes the instructions in the top-level system= parameter; a message with "
                         "role 'system' is OpenAI's shape, and the API refuses it with a 400.")
HINT_WORD_FOR_WORD = ("Your template may wrap the instructions in sections or tags of its own, but it must carry "
                      "request.system word for word: those are the product's instructions.")
HINT_NO_SYSTEM = ("When request.system is empty, send no system prompt at all: no system message to OpenAI, no "
                  "system= to Anthropic, not even your template's frame around nothing.")
HINT_USER = "Send request.user, word for word, as the one user message."
HINT_LIMIT = ("Pass request.max_tokens on: max_completion_tokens (or max_tokens) to OpenAI, the required max_tokens "
              "to Anthropic.")
HINT_ONE_ATTEMPT = ("One call of complete makes one request. The world's clients come with max_retries=0: do not "
                    "raise it, and do not retry in the adapter (retries and fallbacks are the chain's job).")
HINT_ANSWER = "Return Answer(text, model) from the setup cell, with the reply's text as a str."
HINT_ALL_BLOCKS = ("A Claude reply can hold several text blocks: join the text of every block whose type is 'text', "
                   "not only content[0].text.")
HINT_SCHEMA = ("OpenAI: response_format={'type': 'json_schema', 'json_schema': {'name': ..., 'schema': ...}}. "
               "Anthropic: output_config={'format': {'type': 'json_schema', 'schema': ...}}, or a forced tool whose "
               "input you return as JSON text.")
HINT_RETRYABLE = ("Unavailable is for the statuses worth another attempt: 408, 409, 429 and every 5xx, the rule both "
                  "SDKs retry by (faultfirst.retryable_status(err.status_code)).")
HINT_CONNECTION = ("A dropped connection or a timeout raises APIConnectionError (APITimeoutError is a subclass), "
                   "which is not an APIStatusError: catch it from both SDKs and raise Unavailable.")
HINT_BOTH_SDKS = ("Catch both SDKs' exceptions (openai.APIStatusError and anthropic.APIStatusError, "
                  "openai.APIConnectionError and anthropic.APIConnectionError) and raise the lesson's exception "
                  "instead.")
HINT_TOO_LONG_OPENAI = ("OpenAI refuses a prompt over the window with a 400 whose err.code is "
                        "'context_length_exceeded': raise TooLong.")
HINT_TOO_LONG_ANTHROPIC = ("Anthropic sends no code for a prompt over the window: its err.api_message says "
                           "'prompt is too long'. Raise TooLong.")
HINT_EXCEED = ("When the prompt fits but prompt plus max_tokens does not, Anthropic's 400 says the input and "
               "max_tokens 'exceed context limit': that is TooLong too, since a larger window fixes it.")
HINT_REJECTED = "Any other 4xx is the request's fault, not the provider's: raise Rejected."
HINT_NOT_FOUND = ("A 404 (a retired or misspelt model) says the configuration is wrong, which no fallback should "
                  "hide: retryable_status(404) is False, so it is Rejected like any other 4xx.")
HINT_CHAINED = ("Raise the lesson's exception with `raise ... from err`, so that the SDK's exception stays readable "
                "as its __cause__.")

HINT_NEXT_MODEL = ("On Unavailable, move on to the next model of the chain; raise AllFailed only when every model "
                   "failed or was skipped.")
HINT_ALL_FAILED = "When no model answers, raise AllFailed (from the setup cell), saying what happened to each model."
HINT_DEGRADED = "degraded is True exactly when the model that answered is not chain[0]."
HINT_OPENS = ("After `failures` consecutive Unavailable from a provider, open its breaker: skip that provider, "
              "without a request, until the cool-down has passed.")
HINT_USE_PARAMS = ("Create each breaker with the failures and cooldown that ask was given: "
                   "CircuitBreaker(world.clock, failures=failures, cooldown=cooldown).")
HINT_OPEN_AT = ("Open the breaker at the `failures`-th consecutive failure (`consecutive >= failures`), not one "
                "failure later: failures=1 opens it at the first.")
HINT_PER_PROVIDER = ("One breaker per provider, keyed by `world.catalog[model].provider`, not one per model: an "
                     "outage takes down every model of the provider, and the next OpenAI model is just as dead.")
HINT_COOLDOWN_EDGE = ("Half-open once `cooldown` seconds have passed: `now - opened_at >= cooldown`; at exactly "
                      "`cooldown` seconds the probe may go.")
HINT_REJECTED_PROBE = ("Call breaker.success() on Rejected before raising it: the provider answered. A half-open "
                       "breaker whose probe got a 400 and never heard back stays half-open and refuses the provider "
                       "for good.")
HINT_ALL_FAILED_SAYS = ("AllFailed's message should say what happened to each model of the chain, by name (its "
                        "error, 'breaker open', 'too long'): that line is all the on-call engineer gets.")
HINT_CONSECUTIVE = ("Count consecutive failures: a success resets the count. Otherwise random overloads add up over "
                    "the day and open the breaker of a healthy provider.")
HINT_WORLD_CLOCK = ("Measure the cool-down on world.clock.now(), not on the wall clock: simulated minutes pass in no "
                    "real time, so a wall-clock cool-down never ends.")
HINT_ONE_PROBE = ("Half-open lets exactly one call through, the probe; every other call skips the provider until the "
                  "probe's outcome closes the breaker or opens it again.")
HINT_CLOSES = "A successful probe closes the breaker: traffic goes back to the chain's first model."
HINT_TOO_LONG_NOT_FAILURE = ("TooLong is not an outage (the provider answered): move on to a model with a larger "
                             "window without counting a failure against the provider.")
HINT_TOO_LONG_MOVES_ON = ("A prompt too long for one model may fit the next: on TooLong (or a count that says it will "
                          "not fit) move on down the chain.")
HINT_REJECTED_AT_ONCE = ("Rejected means the request is wrong, and every other model would refuse it too: raise it "
                         "at once instead of trying the next model.")
HINT_REJECTED_NOT_COUNTED = "A 4xx means the provider is up: Rejected is no failure for its breaker."


# -- helpers ------------------------------------------------------------------------------------------------------

def _is(err: BaseException | None, name: str) -> bool:
    """Whether `err` is the lesson's exception `name` (or a subclass of it), whatever module defined it."""
    return err is not None and any(cls.__name__ == name for cls in type(err).__mro__)


def _from_sdk(err: BaseException | None, name: str = "APIError") -> bool:
    """Whether `err` is one of the SDKs' own exceptions (by default any of them), not the lesson's."""
    return err is not None and any(cls.__name__ == name and cls.__module__.split(".")[0] in ("openai", "anthropic")
                                   for cls in type(err).__mro__)


def _short(err: BaseException | None) -> str:
    if err is None:
        return "nothing"
    text = str(err).replace("\n", " ")
    return f"{type(err).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"


def _answer_problem(value: Any) -> str | None:
    missing = [name for name in ("text", "model", "degraded") if not hasattr(value, name)]
    if missing:
        return (f"returned {type(value).__name__} {str(value)[:60]!r}, which has no {', '.join(missing)} "
                "(return an Answer(text, model, degraded))")
    if not isinstance(value.text, str):
        return f"Answer.text should be a str, got {type(value.text).__name__}"
    return None


def _per_provider(world: World) -> str:
    counts = {p: sum(r.provider == p for r in world.requests) for p in ("openai", "anthropic")}
    return f"{usage(world)}; attempts: OpenAI {counts['openai']}, Anthropic {counts['anthropic']}"


def _answered_detail(world: World, calls: list[Any]) -> str:
    """What a run of traffic came to: requests answered and lost, then attempts, virtual time and cost."""
    answered = sum(c.error is None for c in calls)
    return f"{answered} of {len(calls)} requests answered, {len(calls) - answered} lost (no answer); {_per_provider(world)}"


_CODES = "".join(f"{letter}{i % 10}" for i, letter in enumerate("abcdefghijklmnopqrstuvwxyz" * 2))[:78]
_CODE_LINE = f" Codes: {_CODES}."  # 81 tokens in either encoding: a letter or a digit is a token of its own


def _long(tokens: int) -> str:
    """A prompt of about `tokens` tokens (a list of part codes) that costs little to count.

    About one byte per token, so a chain that bounds the count by the byte length first need not tokenize it for
    a model whose window holds that many bytes; and one sentence repeated, so the simulator, which counts tokens
    sentence by sentence from a cache, counts 200,000 tokens in milliseconds, not in a second.
    """
    return (_CODE_LINE * math.ceil(tokens / 81)).strip()


_SMALL = {"max_attempts": 20, "max_seconds": 4000.0}  # a few requests: a runaway stops at once
_ALWAYS_OVERLOADED = replace(SCENARIOS["overloaded"], name="always-overloaded", overload_rate=1.0,
                             reset_rate=0.0, stream_error_rate=0.0)
_ALWAYS_RESET = replace(SCENARIOS["calm"], name="always-reset", reset_rate=1.0)
_ONE_PER_MINUTE = replace(SCENARIOS["calm"], name="one-per-minute", rate_limits=RateLimits(1, 10_000_000))
# The lesson's outages, shortened: a few minutes down show a breaker opening, probing and closing as well as twenty
# do, at a fifth of the requests (each costs the SDKs milliseconds, and a check answers within a second).
_OUTAGE = replace(SCENARIOS["outage"], outage=Outage("openai", 0.0, 5 * 60.0))
_BAD_DAY = replace(SCENARIOS["bad-day"], outage=Outage("anthropic", 2 * 60.0, 7 * 60.0))


# -- fallbacks-adapter --------------------------------------------------------------------------------------------

@dataclass
class _Wire:
    """One request as it went on the wire, and the reply's text as the API sent it (None: no JSON reply)."""

    provider: str
    body: dict[str, Any]
    reply: str | None = None


def _recording(world: World) -> list[_Wire]:
    """Keep the JSON body of every request the world receives, and the text of its reply: the check reads the wire."""
    seen: list[_Wire] = []
    waiting: dict[int, _Wire] = {}  # by attempt: a request made while another is in flight is answered first

    def arrived(attempt: Attempt) -> None:
        seen.append(_Wire(attempt.provider, attempt.json))
        waiting[id(attempt)] = seen[-1]

    def answered(attempt: Attempt) -> None:
        wire = waiting.pop(id(attempt))
        wire.reply = _reply_text(attempt.provider, attempt.body) if attempt.status == 200 and attempt.body else None

    world.on_attempt(before=arrived, after=answered)
    return seen


def _refusing(world: World, status: int) -> None:
    """Make the world answer every request with `status` and an error body in the provider's shape (a 408, a 409
    or a 404 for a catalogued model, which no scenario produces)."""

    def refuse(attempt: Attempt) -> None:
        message = {408: "Request timed out.", 409: "Conflict: try again.",
                   404: f"The model `{_request_model(attempt.request)}` has been retired."}.get(status, "Refused.")
        kind = "not_found_error" if status == 404 else ("server_error" if attempt.provider == "openai" else "api_error")
        attempt.answer(status, message, error_type=kind)

    world.on_attempt(after=refuse)


def _request_model(request: Any) -> str:
    """The model a request on the wire names (for an error message)."""
    try:
        return str(json.loads(request.content or b"{}").get("model", "?"))
    except (ValueError, AttributeError):
        return "?"


def _reply_text(provider: str, raw: bytes) -> str | None:
    """All the text of a reply as the API sent it: the message content, or every text block joined."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if provider == "openai":
        choices = data.get("choices") or [{}]
        return (choices[0].get("message") or {}).get("content")
    return "".join(b.get("text", "") for b in data.get("content") or [] if b.get("type") == "text")


def _text(content: Any) -> str | None:
    """The text of a message's content or of `system`: a string, or the text blocks of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return None


def _carries(text: str | None, wanted: str) -> bool:
    """Whether `text` contains `wanted` word for word; line breaks and runs of spaces may differ (a template may
    reflow it)."""
    return text is not None and " ".join(wanted.split()) in " ".join(text.split())


def _system_texts(provider: str, body: dict[str, Any]) -> list[str | None]:
    """The instructions a request body carries where its provider reads them: OpenAI's system (or developer)
    messages, Anthropic's top-level system parameter."""
    if provider == "openai":
        return [_text(m.get("content")) for m in body.get("messages") or []
                if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    return [_text(body.get("system"))] if "system" in body else []


def _wire_problem(provider: str, body: dict[str, Any], request: _Request) -> tuple[str, str] | None:
    """What is wrong with the request body this provider received, and the hint for that mistake; or None.

    The adapter owns the wording around the request: it may wrap the instructions in a template of its own
    (Markdown sections for one model family, XML tags for another) and frame the user's text. What must hold is
    the provider's shape, and that nothing the caller asked for is lost: the instructions arrive word for word
    where this provider reads instructions, the user's text arrives in the one user turn, the limit is passed on.
    """
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [m for m in messages if m.get("role") == "user"]
    system = _system_texts(provider, body)
    if provider == "anthropic":
        odd = sorted({str(m.get("role")) for m in messages} - {"user", "assistant"})
        if odd:
            return (f"a message has role {odd[0]!r}; the Messages API takes user and assistant turns only (this "
                    "is OpenAI's shape sent to Anthropic)", HINT_ANTHROPIC_SYSTEM)
    if not request.system and system:
        where = "a system message" if provider == "openai" else "system="
        return (f"the request has no system prompt, yet {where} was sent ({str(system[0])[:60]!r}); leave it out",
                HINT_NO_SYSTEM)
    if request.system and not system:
        if provider == "openai":
            return ("no system message arrived: OpenAI takes the instructions as a message with role 'system'",
                    HINT_OPENAI_SYSTEM)
        return "no system= arrived: Anthropic takes the instructions in the top-level system parameter", \
            HINT_ANTHROPIC_SYSTEM
    if request.system and not any(_carries(text, request.system) for text in system):
        where = "the system message" if provider == "openai" else "system="
        return f"{where} does not carry the request's instructions word for word", HINT_WORD_FOR_WORD
    if len(users) != 1 or not _carries(_text(users[0].get("content")), request.user):
        return (f"expected one user message carrying the request's user text word for word; got "
                f"{plural(len(users), 'user message')}, and the text was not in them", HINT_USER)
    if provider == "openai":
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        limit_name = "max_completion_tokens (or max_tokens)"
    else:
        limit, limit_name = body.get("max_tokens"), "max_tokens"
    if limit != request.max_tokens:
        return f"{limit_name} should be {request.max_tokens}, the request's max_tokens; it was {limit!r}", HINT_LIMIT
    return None


def _expect_one_attempt(report: Report, world: World, before: int = 0) -> None:
    made = len(world.requests) - before
    retried = made > 1 and len({r.model for r in world.requests[before:]}) == 1
    report.expect(made == 1, f"made {made} requests for one call of complete; it should make exactly one"
                  + (" (the same model again: a retry)" if retried else ""),
                  hint=HINT_ONE_ATTEMPT if retried else None)


def _on_the_wire(report: Report, fn: Callable[..., Any], *, seed: int, model: str, request: _Request,
                 world: World | None = None) -> tuple[World, list[_Wire]]:
    """One call of the learner's adapter: one request, in the provider's shape, answered, its text returned whole."""
    world = world or checked_world(seed=seed, max_attempts=10)
    wire = _recording(world)
    got, err = report.outcome(fn, world, model, request)
    report.expect(bool(wire), f"{model}: no request reached the API; the call raised {_short(err)}"
                  if err is not None else f"{model}: no request reached the API")
    found = _wire_problem(wire[0].provider, wire[0].body, request)
    report.expect(found is None, f"{model}: {found[0]}" if found else "", hint=found[1] if found else None)
    _expect_one_attempt(report, world)
    record = world.requests[0]
    report.expect(record.ok, f"{model}: the request failed with HTTP {record.status} ({record.error})")
    report.expect(err is None, f"{model}: the request was answered, yet the call raised {_short(err)}")
    problem = _answer_problem(got)
    report.expect(problem is None, f"{model}: {problem}", hint=HINT_ANSWER)
    report.expect(got.model == model, f"Answer.model should be {model!r}, got {got.model!r}", hint=HINT_ANSWER)
    report.expect(record.output_tokens <= request.max_tokens,
                  f"the reply had {record.output_tokens} output tokens where the request allows {request.max_tokens}",
                  hint=HINT_LIMIT)
    sent = wire[0].reply
    report.expect(sent is None or got.text == sent,
                  f"Answer.text is {str(got.text)[:50]!r}... but the API replied {str(sent)[:50]!r}...: the whole "
                  "reply's text should come back", hint=HINT_ALL_BLOCKS if wire[0].provider == "anthropic" else None)
    return world, wire


def _system_detail(world: World, wire: list[_Wire], request: _Request) -> str:
    """How the adapter framed the instructions on this provider, for the case's report line."""
    sent = "\n".join(text or "" for text in _system_texts(wire[0].provider, wire[0].body))
    return (f"{usage(world)}; {world.requests[0].input_tokens} input tokens; the system prompt on the wire has "
            f"{len(sent)} characters around the request's {len(request.system)}")


def _raises(report: Report, fn: Callable[..., Any], world: World, model: str, request: _Request, expected: str,
            *, what: str, hint: str) -> None:
    """One call that fails at the API: exactly one request, and the lesson's `expected` exception, chained from the
    SDK's. `hint` names the mistake of raising the wrong one of the lesson's exceptions here."""
    before = len(world.requests)
    value, err = report.outcome(fn, world, model, request)
    made = len(world.requests) - before
    status = world.requests[-1].status if made else None
    report.expect(err is not None, f"returned {str(value)[:60]!r} for {what} (HTTP {status}); raise {expected}")
    if _from_sdk(err, "APIConnectionError"):
        report.expect(False, f"{_short(err)} escaped for {what}; raise {expected}", hint=HINT_CONNECTION)
    if _from_sdk(err):
        report.expect(False, f"{_short(err)} escaped for {what}; raise {expected}", hint=HINT_BOTH_SDKS)
    report.expect(_is(err, expected), f"raised {_short(err)} for {what}; raise {expected}", hint=hint)
    _expect_one_attempt(report, world, before)
    report.expect(_from_sdk(err.__cause__), f"{expected} for {what} does not carry the SDK's exception as its "
                                            f"__cause__ (it is {type(err.__cause__).__name__})", hint=HINT_CHAINED)


def _scripted(world: World, reply: tuple[str, ...], **match: str) -> World:
    """`world`, answering a request that matches with `reply`, one text block per string (a Claude reply of several
    blocks), ahead of its own behaviour (which would also read a long prompt sentence by sentence)."""
    world.script_reply(reply, **match)
    return world


_LONG_ASKED = "Which codes repeat?"
_BLOCKS = ("Retry storms turn a short outage into a long one. ", "Jittered backoff halved the retry traffic.")
_BLOCKS_ASKED = "In two blocks: what do the results say about retry storms?"


@register("fallbacks-adapter")
def check_adapter(fn: Callable[..., Any], report: Report) -> None:
    with report.case("OpenAI (gpt-fast): the instructions in a system message, the user text, max_tokens passed on") \
            as notes:
        request = _Request(_QUESTION, _SYSTEM)
        notes.detail = _system_detail(*_on_the_wire(report, fn, seed=31, model="gpt-fast", request=request), request)
    with report.case("Anthropic (claude-strong): the instructions in system=, the user text, max_tokens passed on") \
            as notes:
        request = _Request(_QUESTION, _SYSTEM)
        notes.detail = _system_detail(*_on_the_wire(report, fn, seed=32, model="claude-strong", request=request),
                                      request)
    with report.case("no system prompt (both providers): none is sent, not even a template's frame"):
        _on_the_wire(report, fn, seed=33, model="claude-fast", request=_Request(_QUESTION))
        _on_the_wire(report, fn, seed=33, model="gpt-strong", request=_Request(_QUESTION))
    with report.case("a reply cut at max_tokens=12 (both providers): the limit reaches the API"):
        for model in ("gpt-fast", "claude-fast"):
            world, _ = _on_the_wire(report, fn, seed=34, model=model, request=_Request(_QUESTION, _SYSTEM, max_tokens=12))
            report.expect(world.requests[0].stop_reason in ("length", "max_tokens"),
                          f"{model}: the reply was not cut at max_tokens=12 (stop reason "
                          f"{world.requests[0].stop_reason!r})", hint=HINT_LIMIT)
    with report.case("Japanese and emoji, on both providers"):
        text = "検索結果を二文で要約してください。🔎 再試行の嵐とは何ですか？"
        _on_the_wire(report, fn, seed=35, model="gpt-strong", request=_Request(text, _SYSTEM))
        _on_the_wire(report, fn, seed=35, model="claude-strong", request=_Request(text, _SYSTEM))
    with report.case("a Claude reply in two text blocks (as a reply with citations comes): all of its text") as notes:
        world = _scripted(checked_world(seed=38, max_attempts=10), _BLOCKS, contains=_BLOCKS_ASKED)
        _on_the_wire(report, fn, seed=38, model="claude-fast", request=_Request(_BLOCKS_ASKED, _SYSTEM), world=world)
        notes.detail = f"the reply's content: {len(_BLOCKS)} text blocks"
    with report.case("structured output: JSON that fits the schema from both providers"):
        for seed, model in ((36, "gpt-fast"), (37, "claude-fast")):
            world = checked_world(seed=seed, max_attempts=10)
            got = report.call(fn, world, model, _Request("Extract the title and year: 'Retry storms' (2021).",
                                                         max_tokens=200, schema=_SCHEMA))
            problem = _answer_problem(got)
            report.expect(problem is None, problem or "", hint=HINT_ANSWER)
            try:
                data = json.loads(got.text)
            except ValueError:
                data = None
            report.expect(isinstance(data, dict), f"{model}: the text is not a JSON object: {got.text[:80]!r}",
                          hint=HINT_SCHEMA)
            report.expect(isinstance(data.get("title"), str) and isinstance(data.get("year"), int),
                          f"{model}: the JSON does not fit the schema (title: string, year: integer): {got.text[:80]!r}",
                          hint=HINT_SCHEMA)
    with report.case("an outage, an overload and a reset are Unavailable") as notes:
        world = checked_world(seed=41, scenario="outage", max_attempts=10)
        _raises(report, fn, world, "gpt-fast", _Request(_QUESTION), "Unavailable", what="OpenAI's 503 in `outage`",
                hint=HINT_RETRYABLE)
        world = checked_world(seed=42, scenario="bad-day", max_attempts=10)
        world.clock.sleep(11 * 60)
        _raises(report, fn, world, "claude-fast", _Request(_QUESTION), "Unavailable",
                what="Anthropic's 500 at minute 11 of `bad-day`", hint=HINT_RETRYABLE)
        world = checked_world(seed=43, scenario=_ALWAYS_OVERLOADED, max_attempts=10)
        _raises(report, fn, world, "claude-strong", _Request(_QUESTION), "Unavailable", what="Anthropic's 529",
                hint=HINT_RETRYABLE)
        world = checked_world(seed=44, scenario=_ALWAYS_RESET, max_attempts=10)
        _raises(report, fn, world, "gpt-strong", _Request(_QUESTION), "Unavailable", what="a connection reset",
                hint=HINT_CONNECTION)
        notes.detail = "503, 500, 529, connection reset"
    with report.case("a 429, a 408 and a 409 are Unavailable: the statuses worth another attempt") as notes:
        world = checked_world(seed=45, scenario=_ONE_PER_MINUTE, max_attempts=10)
        _, err = report.outcome(fn, world, "gpt-fast", _Request(_QUESTION))
        report.expect(err is None, f"the first request under a limit of one per minute failed: {_short(err)}")
        _raises(report, fn, world, "gpt-fast", _Request(_QUESTION), "Unavailable", what="a 429 (rate limited)",
                hint=HINT_RETRYABLE)
        for seed, status, model in ((39, 408, "claude-fast"), (40, 409, "gpt-fast")):
            world = checked_world(seed=seed, max_attempts=10)
            _refusing(world, status)
            _raises(report, fn, world, model, _Request(_QUESTION), "Unavailable", what=f"a {status} from {model}",
                    hint=HINT_RETRYABLE)
        notes.detail = "429, 408, 409"
    with report.case("a prompt over the context window is TooLong (both providers)"):
        world = checked_world(seed=46, max_attempts=10)
        _raises(report, fn, world, "gpt-fast", _Request(_long(130_000)), "TooLong",
                what="a 130,000-token prompt to gpt-fast (128,000 window)", hint=HINT_TOO_LONG_OPENAI)
        world = checked_world(seed=47, max_attempts=10)
        _raises(report, fn, world, "claude-fast", _Request(_long(210_000)), "TooLong",
                what="a 210,000-token prompt to claude-fast (200,000 window)", hint=HINT_TOO_LONG_ANTHROPIC)
    with report.case("a prompt that fits, with max_tokens that does not fit beside it, is TooLong (Anthropic)"):
        world = checked_world(seed=50, max_attempts=10)
        _raises(report, fn, world, "claude-fast", _Request(_long(190_000), max_tokens=20_000), "TooLong",
                what="a 190,000-token prompt with max_tokens=20,000 to claude-fast (200,000 window)", hint=HINT_EXCEED)
    with report.case("a malformed request (max_tokens=-200) is Rejected (both providers)"):
        for seed, model in ((48, "gpt-fast"), (49, "claude-fast")):
            world = checked_world(seed=seed, max_attempts=10)
            _raises(report, fn, world, model, _Request(_QUESTION, max_tokens=-200), "Rejected",
                    what=f"max_tokens=-200 to {model} (a 400)", hint=HINT_REJECTED)
    with report.case("a 404 (the model retired) is Rejected: a wrong configuration, not an outage"):
        world = checked_world(seed=51, max_attempts=10)
        _refusing(world, 404)
        _raises(report, fn, world, "claude-fast", _Request(_QUESTION), "Rejected", what="a 404 from claude-fast",
                hint=HINT_NOT_FOUND)


# -- fallbacks-chain ----------------------------------------------------------------------------------------------

@dataclass
class _Call:
    start: float
    value: Any
    error: Exception | None
    attempts: list[RequestRecord] = field(default_factory=list)

    @property
    def model(self) -> str | None:
        return getattr(self.value, "model", None) if self.error is None else None


_QUESTIONS = (
    "What do the search results say about retry storms during an outage?",
    "Which of these papers measured tail latency?",
    "Summarise what the results say about circuit breakers.",
    "Do any results compare jitter strategies?",
    "What do the abstracts say about hedged requests?",
)


def _traffic(*, seed: int, scenario: Any, chain: list[str], minutes: tuple[float, float],
             every: float = 15.0) -> World:
    """A world bounded just above what the traffic can need: every model of the chain once per request."""
    calls = int((minutes[1] - minutes[0]) * 60 // every)
    return checked_world(seed=seed, scenario=scenario, max_attempts=len(chain) * calls + 10, max_seconds=4000.0)


def _drive(report: Report, fn: Callable[..., Any], world: World, *, chain: list[str], minutes: tuple[float, float],
           every: float = 15.0, failures: int = 3, cooldown: float = 60.0) -> list[_Call]:
    """Ask through the learner's chain every `every` simulated seconds from minute a to b, with one breakers dict."""
    breakers: dict[Any, Any] = {}
    calls: list[_Call] = []
    first, last = minutes
    for i in range(int((last - first) * 60 // every)):
        world.clock.advance_to(first * 60 + i * every)
        before, start = len(world.requests), world.clock.now()
        asked = _Request(_QUESTIONS[i % len(_QUESTIONS)], _SYSTEM, max_tokens=200)
        value, err = report.outcome(fn, world, asked, chain=list(chain), breakers=breakers,
                              failures=failures, cooldown=cooldown)
        calls.append(_Call(start, value, err, world.requests[before:]))
    for call in calls:
        problem = _answer_problem(call.value) if call.error is None else None
        if problem:
            raise _CaseFailed(f"at t={call.start:.0f} s ask {problem}")
    return calls


def _raised(calls: list[_Call], allowed: str | None = None) -> list[_Call]:
    return [c for c in calls if c.error is not None and not (allowed and _is(c.error, allowed))]


def _expect_answered(report: Report, calls: list[_Call], *, where: str) -> None:
    failed = _raised(calls)
    report.expect(not failed, f"{len(failed)} of {len(calls)} requests {where} raised instead of answering; the "
                              f"first, at t={failed[0].start:.0f} s: {_short(failed[0].error)}" if failed else "",
                  hint=HINT_NEXT_MODEL)


def _expect_all_failed_only(report: Report, calls: list[_Call]) -> None:
    """A request no model answered raises AllFailed, not something else, and never hides an answer."""
    odd = _raised(calls, allowed="AllFailed")
    report.expect(not odd, f"at t={odd[0].start:.0f} s a request raised {_short(odd[0].error)}; when no model can "
                           "answer, raise AllFailed" if odd else "",
                  hint=HINT_NEXT_MODEL if odd and _is(odd[0].error, "Unavailable") else HINT_ALL_FAILED)
    hidden = [c for c in calls if _is(c.error, "AllFailed") and any(r.ok for r in c.attempts)]
    report.expect(not hidden, f"at t={hidden[0].start:.0f} s a model answered, yet ask raised AllFailed"
                  if hidden else "")


def _expect_degraded_flags(report: Report, calls: list[_Call], primary: str) -> None:
    wrong = [c for c in calls if c.error is None and bool(c.value.degraded) != (c.value.model != primary)]
    if wrong:
        c = wrong[0]
        report.expect(False, f"at t={c.start:.0f} s {c.value.model} answered with degraded={c.value.degraded!r}; "
                             f"degraded means 'not the chain's first model ({primary})'", hint=HINT_DEGRADED)


def _dead_attempts(calls: list[_Call], provider: str, start: float, end: float) -> int:
    return sum(r.provider == provider and start <= r.start < end for c in calls for r in c.attempts)


def _outage_cases(report: Report, fn: Callable[..., Any], *, seed: int, scenario: Any, chain: list[str],
                  minutes: tuple[float, float], strict: bool) -> None:
    """Three cases over one run: answered throughout, the dead provider left alone, the primary back after."""
    failures, cooldown, every = 3, 60.0, 20.0
    world = _traffic(seed=seed, scenario=scenario, chain=chain, minutes=minutes, every=every)
    outage = world.scenario.outage
    assert outage is not None
    primary, dead = chain[0], outage.provider
    window = f"{outage.start / 60:.0f}-{outage.end / 60:.0f} min"
    scenario = world.scenario.name
    calls: list[_Call] | None = None
    with report.case(f"{scenario} (seed {seed}, {dead} down {window}), chain {chain}: requests are answered") as notes:
        calls = _drive(report, fn, world, chain=chain, minutes=minutes, every=every, failures=failures, cooldown=cooldown)
        notes.detail = _answered_detail(world, calls)
        during = [c for c in calls if outage.start <= c.start < outage.end]
        if strict:
            _expect_answered(report, calls, where="in the run")
        else:
            # Both providers also overload and reset at random all day, so a request can find every model failing
            # at once: some losses are the world's, not the chain's. More than one in ten is the chain's.
            _expect_all_failed_only(report, calls)
            answered = sum(c.error is None for c in calls)
            report.expect(answered >= 0.9 * len(calls),
                          f"only {answered} of {len(calls)} requests were answered ({len(calls) - answered} lost; "
                          f"at least {math.ceil(0.9 * len(calls))} should be); the first that raised, at "
                          f"t={_raised(calls)[0].start:.0f} s: {_short(_raised(calls)[0].error)}"
                          if answered < 0.9 * len(calls) else "", hint=HINT_NEXT_MODEL)
        fallbacks = [c for c in during if c.error is None]
        report.expect(all(c.value.model != primary for c in fallbacks),
                      f"{primary} cannot answer during the outage, yet an answer says it came from {primary}")
        _expect_degraded_flags(report, calls, primary)
    with report.case(f"{scenario}: once the breaker opens, {dead} is left alone (one probe per cool-down)") as notes:
        report.expect(calls is not None, "the run in the case above failed before it could be judged")
        assert calls is not None
        during = [c for c in calls if outage.start <= c.start < outage.end]
        made = _dead_attempts(calls, dead, outage.start, outage.end)
        expected = failures + math.ceil((outage.end - outage.start) / cooldown)
        notes.detail = f"{plural(made, 'attempt')} to {dead} while it was down; {plural(len(during), 'request')} arrived in that time"
        report.expect(made <= expected + 2,
                      f"a breaker with failures={failures} and cooldown={cooldown:g} s lets about {expected} through "
                      f"({failures} failures, then one probe per cool-down); {made} got through", hint=HINT_OPENS)
    with report.case(f"{scenario}: after the outage a probe succeeds and traffic returns to {primary}") as notes:
        report.expect(calls is not None, "the run in the case above failed before it could be judged")
        assert calls is not None
        settled = outage.end + cooldown + 2 * every
        after = [c for c in calls if c.start >= settled]
        back = [c for c in after if c.attempts and c.attempts[0].model == primary]
        first_back = next((c.start for c in calls if c.start >= outage.end and c.model == primary), None)
        notes.detail = (f"first answer from {primary} after the outage at t={first_back:.0f} s"
                        if first_back is not None else f"{primary} never answered after the outage")
        probed = sum(r.model == primary for c in calls if c.start >= outage.end for r in c.attempts)
        share = 1.0 if strict else 0.8
        report.expect(probed > 0, f"after the outage ended at t={outage.end:.0f} s, no request tried {primary} "
                                  f"again: the breaker never half-opened", hint=HINT_WORLD_CLOCK)
        report.expect(len(back) >= share * len(after),
                      f"after t={settled:.0f} s only {len(back)} of {len(after)} requests tried {primary} first, "
                      f"though it was tried {plural(probed, 'time')} after the outage", hint=HINT_CLOSES)


def _interleaved(fn: Callable[..., Any], world: World, *, provider: str, arrivals: int,
                 **ask: Any) -> list[_Call]:
    """Send `arrivals` requests through `fn` while the next attempt at `provider` is in flight.

    The check's other traffic is sequential: each call finishes before the next starts, so a half-open breaker
    has heard its probe's outcome before anyone else asks. Here the simulated API, as it plans that attempt,
    calls the learner's chain `arrivals` more times (at the same virtual instant), as concurrent requests would.
    """
    during: list[_Call] = []

    def arrive_meanwhile(attempt: Attempt) -> None:
        if attempt.provider == provider and not during:
            hook.remove()
            for i in range(arrivals):
                before = len(world.requests)
                try:
                    value, err = fn(world, _Request(_QUESTIONS[i % len(_QUESTIONS)], _SYSTEM, max_tokens=200),
                                    **ask), None
                except Exception as caught:  # noqa: BLE001 - learner exceptions are data here (Runaway included)
                    value, err = None, caught
                during.append(_Call(attempt.at, value, err, world.requests[before:]))

    hook = world.on_attempt(before=arrive_meanwhile)
    return during


def _half_open_case(report: Report, fn: Callable[..., Any]) -> None:
    """OpenAI down: open its breaker (failures=2), wait the cool-down, then let requests arrive during the probe."""
    failures, cooldown = 1, 60.0
    world = checked_world(seed=59, scenario=_OUTAGE, max_attempts=40, max_seconds=4000.0)
    chain, breakers = ["gpt-fast", "claude-fast"], {}
    ask = {"chain": chain, "breakers": breakers, "failures": failures, "cooldown": cooldown}

    def one(at: float) -> _Call:
        world.clock.advance_to(at)
        before = len(world.requests)
        value, err = report.outcome(fn, world, _Request(_QUESTION, _SYSTEM, max_tokens=200), **ask)
        return _Call(at, value, err, world.requests[before:])

    failed, tries = 0, failures + 4
    for k in range(tries):  # one request every 5 s into the outage, until one skips OpenAI
        call = one(5.0 * k)
        report.expect(call.error is None, f"at t={call.start:.0f} s, with OpenAI down and claude-fast up, ask "
                                          f"raised {_short(call.error)}", hint=HINT_NEXT_MODEL)
        if not any(r.provider == "openai" for r in call.attempts):
            break
        failed += 1
    report.expect(failed < tries, f"OpenAI failed {plural(failed, 'time')} in a row and its breaker (failures={failures}) "
                                  "never opened", hint=HINT_OPENS)
    report.expect(failed == failures, f"the breaker opened after {failed} consecutive failures, with "
                                      f"failures={failures}",
                  hint=HINT_OPEN_AT if failed == failures + 1 else HINT_USE_PARAMS)
    opened = 5.0 * (failed - 1)
    during = _interleaved(fn, world, provider="openai", arrivals=4, **ask)
    probe = one(opened + cooldown + 1)
    report.expect(any(r.provider == "openai" for r in probe.attempts),
                  f"{cooldown:g} s after the breaker opened, the next request did not probe OpenAI",
                  hint=HINT_WORLD_CLOCK)
    report.expect(len(during) == 4, "the probe was sent, but the requests arriving during it were not made")
    sneaked = sum(r.provider == "openai" for c in during for r in c.attempts)
    report.expect(sneaked == 0, f"while the probe was in flight, {len(during)} more requests arrived and {sneaked} of "
                                "them were sent to OpenAI too", hint=HINT_ONE_PROBE)
    lost = [c for c in during if c.error is not None or c.model != "claude-fast"]
    report.expect(not lost, f"a request that arrived during the probe got {_short(lost[0].error)}, not an answer "
                            "from claude-fast" if lost else "", hint=HINT_NEXT_MODEL)


def _ask_at(report: Report, fn: Callable[..., Any], world: World, at: float, request: _Request,
            **ask: Any) -> _Call:
    world.clock.advance_to(at)
    before = len(world.requests)
    value, err = report.outcome(fn, world, request, **ask)
    return _Call(at, value, err, world.requests[before:])


def _breaker_says(report: Report, breaker: Any, world: World, at: float) -> bool:
    world.clock.advance_to(at)
    return bool(report.call(breaker.allow))


def _shared_breaker_case(report: Report, fn: Callable[..., Any]) -> str:
    """Two OpenAI models fail once each: with failures=2 the one OpenAI breaker opens, and the next request skips
    both. Then the breaker itself, on the world's clock: re-opened by a failed probe at t=100, it half-opens at
    exactly t=130 (cooldown=30), not before, not later."""
    world = checked_world(seed=60, scenario=_OUTAGE, **_SMALL)
    chain, breakers = ["gpt-fast", "gpt-strong", "claude-fast"], {}
    ask = {"chain": chain, "breakers": breakers, "failures": 2, "cooldown": 30.0}
    calls = [_ask_at(report, fn, world, at, _Request(_QUESTION, _SYSTEM, max_tokens=200), **ask) for at in (0.0, 5.0)]
    for call in calls:
        report.expect(call.error is None, f"at t={call.start:.0f} s, with OpenAI down and claude-fast up, ask raised "
                                          f"{_short(call.error)}", hint=HINT_NEXT_MODEL)
    first = [r.model for r in calls[0].attempts]
    report.expect(first == chain, f"the first request tried {first}; expected {chain}: the breaker was still closed")
    again = [r.model for r in calls[1].attempts if r.provider == "openai"]
    report.expect(not again, f"gpt-fast and gpt-strong each failed once, two consecutive OpenAI failures with "
                             f"failures=2, yet the next request tried {', '.join(again)}"
                             + (f" (breakers holds {len(breakers)} breakers for 2 providers)" if len(breakers) > 2
                                else ""),
                  hint=HINT_PER_PROVIDER if len(breakers) > 2 else None)
    breaker = breakers.get("openai")
    report.expect(all(callable(getattr(breaker, name, None)) for name in ("allow", "success", "failure")),
                  f"breakers['openai'] should be OpenAI's CircuitBreaker; it is {breaker!r}", hint=HINT_PER_PROVIDER)
    report.expect(_breaker_says(report, breaker, world, 100.0), "at t=100, 100 s after OpenAI's breaker opened "
                  "with cooldown=30, allow() still said no", hint=HINT_WORLD_CLOCK)
    report.call(breaker.failure)  # the probe failed: open again, at exactly t=100
    report.expect(not _breaker_says(report, breaker, world, 129.5), "the breaker re-opened at t=100 (a failed probe) "
                  "and let a call through at t=129.5, before cooldown=30 had passed")
    if not _breaker_says(report, breaker, world, 130.0):
        late = _breaker_says(report, breaker, world, 130.5)
        report.expect(False, "the breaker re-opened at t=100 with cooldown=30, and allow() said no at t=130"
                      + (" (yes half a second later)" if late else ", and still at t=130.5"),
                      hint=HINT_COOLDOWN_EDGE if late else HINT_USE_PARAMS)
    return f"{_per_provider(world)}; half-open again at t=130, 30 s after a failed probe at t=100"


def _rejected_probe_case(report: Report, fn: Callable[..., Any]) -> str:
    """OpenAI down until t=300 opens its breaker (failures=1); the probe at t=310 is a malformed request (a 400,
    Rejected). The provider answered, so the breaker closes, and the next request goes to gpt-fast."""
    world = checked_world(seed=61, scenario=_OUTAGE, **_SMALL)
    ask = {"chain": ["gpt-fast", "claude-fast"], "breakers": {}, "failures": 1, "cooldown": 30.0}
    good = _Request(_QUESTION, _SYSTEM, max_tokens=200)
    opened = _ask_at(report, fn, world, 0.0, good, **ask)
    report.expect(opened.error is None and opened.model == "claude-fast",
                  f"at t=0, with OpenAI down, ask gave {_short(opened.error) if opened.error else opened.model}; "
                  "expected claude-fast's answer", hint=HINT_NEXT_MODEL)
    probe = _ask_at(report, fn, world, 310.0, _Request(_QUESTION, max_tokens=-200), **ask)
    sent = [r.model for r in probe.attempts]
    report.expect(sent == ["gpt-fast"] and _is(probe.error, "Rejected"),
                  f"at t=310 a malformed request should be sent to gpt-fast (the half-open probe) and raise Rejected; "
                  f"it was sent to {sent} and gave {_short(probe.error)}", hint=HINT_REJECTED_AT_ONCE)
    after = _ask_at(report, fn, world, 315.0, good, **ask)
    if after.error is not None or after.model != "gpt-fast":
        later = _ask_at(report, fn, world, 345.0, good, **ask)
        report.expect(False, f"at t=315, after the probe's 400, a good request got "
                             f"{_short(after.error) if after.error else after.model}, not gpt-fast's answer",
                      hint=HINT_REJECTED_NOT_COUNTED if later.model == "gpt-fast" else HINT_REJECTED_PROBE)
    return f"{_per_provider(world)}; the probe at t=310 was a 400, and gpt-fast answered at t=315"


def _overloaded_case(report: Report, fn: Callable[..., Any]) -> str:
    """Random refusals: the primary answers most requests; its breaker opens only on consecutive failures."""
    chain, failures = ["gpt-fast", "claude-fast", "claude-strong"], 3
    world = _traffic(seed=60, scenario="overloaded", chain=chain, minutes=(0, 6))
    calls = _drive(report, fn, world, chain=chain, minutes=(0, 6), failures=failures)
    streak = 0  # the primary's consecutive failures, as its breaker should count them
    for call in calls:
        tried = [r for r in call.attempts if r.model == chain[0]]
        if not tried and streak < failures:
            report.expect(False, f"at t={call.start:.0f} s the chain skipped {chain[0]}, though its last "
                                 f"{failures} attempts had not all failed (it had failed {streak} in a row)",
                          hint=HINT_CONSECUTIVE)
        for record in tried:
            streak = 0 if record.ok else streak + 1
    answered = [c for c in calls if c.error is None]
    _expect_all_failed_only(report, calls)
    report.expect(len(answered) >= 0.95 * len(calls),
                  f"only {len(answered)} of {len(calls)} requests were answered ({len(calls) - len(answered)} "
                  "lost) with three models to try", hint=HINT_NEXT_MODEL)
    primary = sum(c.value.model == chain[0] for c in answered)
    report.expect(primary >= 0.7 * len(calls),
                  f"the primary answered only {primary} of {len(calls)} requests; it refuses about one attempt in "
                  "six, so it should answer most of them")
    _expect_degraded_flags(report, calls, chain[0])
    return _answered_detail(world, calls)


@register("fallbacks-chain")
def check_chain(fn: Callable[..., Any], report: Report) -> None:
    with report.case("calm (seed 51): the primary answers every request, one attempt each") as notes:
        chain = ["claude-strong", "gpt-fast"]
        world = _traffic(seed=51, scenario="calm", chain=chain, minutes=(0, 1))
        calls = _drive(report, fn, world, chain=chain, minutes=(0, 1))
        notes.detail = _answered_detail(world, calls)
        _expect_answered(report, calls, where="in a calm world")
        elsewhere = [c for c in calls if c.value.model != "claude-strong"]
        report.expect(not elsewhere, f"at t={elsewhere[0].start:.0f} s {elsewhere[0].value.model} answered; in a calm "
                                     "world the first model should answer" if elsewhere else "")
        report.expect(len(world.requests) == len(calls),
                      f"{len(world.requests)} attempts for {len(calls)} requests; a healthy primary needs one each")
        _expect_degraded_flags(report, calls, "claude-strong")
    _outage_cases(report, fn, seed=52, scenario=_OUTAGE, chain=["gpt-fast", "claude-fast"], minutes=(0, 8), strict=True)
    _outage_cases(report, fn, seed=55, scenario=_BAD_DAY, chain=["claude-fast", "gpt-fast"], minutes=(1, 11),
                  strict=False)
    with report.case("OpenAI down, chain gpt-fast, gpt-strong, claude-fast (failures=2, cooldown=30): one breaker for "
                     "both OpenAI models, half-open exactly 30 s after it opened") as notes:
        notes.detail = _shared_breaker_case(report, fn)
    with report.case("a half-open probe refused with a 400 (Rejected) still closes the breaker: the provider is up") \
            as notes:
        notes.detail = _rejected_probe_case(report, fn)
    with report.case("half-open (outage, failures=1): requests that arrive while the probe is in flight skip OpenAI"):
        _half_open_case(report, fn)
    with report.case("overloaded (seed 60, about one attempt in six refused): a refusal moves to the next model") \
            as notes:
        notes.detail = _overloaded_case(report, fn)
    with report.case("a prompt too long for gpt-fast goes to claude-fast, and does not open OpenAI's breaker") as notes:
        world = _scripted(checked_world(seed=55, **_SMALL), ("Every code repeats.",), system_contains=_LONG_ASKED)
        chain, breakers = ["gpt-fast", "claude-fast"], {}
        long = _Request(_long(130_000), _LONG_ASKED, max_tokens=400)
        value, err = report.outcome(fn, world, long, chain=chain, breakers=breakers, failures=1, cooldown=60.0)
        report.expect(err is None, f"a 130,000-token prompt raised {_short(err)}; claude-fast (200,000 tokens) "
                                   "could have answered it", hint=HINT_TOO_LONG_MOVES_ON)
        problem = _answer_problem(value)
        report.expect(problem is None, problem or "")
        report.expect(value.model == "claude-fast", f"the long prompt was answered by {value.model!r}, expected "
                                                    "claude-fast", hint=HINT_TOO_LONG_MOVES_ON)
        report.expect(bool(value.degraded), "an answer from claude-fast, the chain's second model, is degraded=True",
                      hint=HINT_DEGRADED)
        report.expect(sum(r.model == "gpt-fast" for r in world.requests) <= 1,
                      "sent the long prompt to gpt-fast more than once", hint=HINT_TOO_LONG_MOVES_ON)
        world.clock.sleep(5)
        value, err = report.outcome(fn, world, _Request(_QUESTION, _SYSTEM), chain=chain, breakers=breakers,
                              failures=1, cooldown=60.0)
        notes.detail = _per_provider(world)
        report.expect(err is None, f"a short request after the long one raised {_short(err)}")
        problem = _answer_problem(value)
        report.expect(problem is None, problem or "")
        report.expect(value.model == "gpt-fast",
                      f"with failures=1, a short request after the long one went to {value.model}: the "
                      "context-window 400 was counted as an outage and opened OpenAI's breaker",
                      hint=HINT_TOO_LONG_NOT_FAILURE)
    with report.case("a malformed request (max_tokens=-200) raises Rejected after one attempt, and opens no breaker") \
            as notes:
        world = checked_world(seed=56, **_SMALL)
        chain, breakers = ["gpt-fast", "gpt-strong", "claude-fast"], {}
        for _ in range(2):
            before = len(world.requests)
            value, err = report.outcome(fn, world, _Request(_QUESTION, max_tokens=-200), chain=chain, breakers=breakers,
                                  failures=2, cooldown=60.0)
            made = len(world.requests) - before
            report.expect(made == 1, f"the malformed request was sent {made} times, down the chain; a 400 for a "
                                     "malformed request is the same on every model", hint=HINT_REJECTED_AT_ONCE)
            report.expect(_is(err, "Rejected"), f"a malformed request should raise Rejected; got {_short(err)}"
                          if err is not None else f"a malformed request returned {str(value)[:60]!r}; raise Rejected",
                          hint=HINT_REJECTED_AT_ONCE)
        value, err = report.outcome(fn, world, _Request(_QUESTION, _SYSTEM), chain=chain, breakers=breakers,
                              failures=2, cooldown=60.0)
        notes.detail = _per_provider(world)
        report.expect(err is None and getattr(value, "model", None) == "gpt-fast",
                      f"a good request after two malformed ones should be answered by gpt-fast; got "
                      f"{_short(err) if err else getattr(value, 'model', value)}: the 400s opened OpenAI's breaker",
                      hint=HINT_REJECTED_NOT_COUNTED)
    with report.case("every model refusing: one attempt each, then a clear AllFailed") as notes:
        world = checked_world(seed=57, scenario=_ALWAYS_OVERLOADED, **_SMALL)
        chain = ["gpt-fast", "claude-fast", "claude-strong"]
        value, err = report.outcome(fn, world, _Request(_QUESTION, _SYSTEM), chain=chain, breakers={})
        notes.detail = f"{_per_provider(world)}; raised {_short(err)}"
        report.expect(err is not None, f"returned {str(value)[:60]!r} although every model refused",
                      hint=HINT_ALL_FAILED)
        report.expect(_is(err, "AllFailed"), f"raised {_short(err)}; raise AllFailed when no model answers",
                      hint=HINT_NEXT_MODEL if _is(err, "Unavailable") else HINT_ALL_FAILED)
        tried = [r.model for r in world.requests]
        report.expect(tried == chain, f"tried {tried}; expected each model of the chain once, in order: {chain}")
        unsaid = [m for m in chain if m not in str(err)]
        report.expect(not unsaid, f"AllFailed says {str(err)[:120]!r}, nothing about {', '.join(unsaid)}",
                      hint=HINT_ALL_FAILED_SAYS)


# -- the mistakes each check must catch, as changes to the book's solutions ---------------------------------------

mistakes(
    "fallbacks-adapter",
    Mistake("the instructions sent to Anthropic as a 'system' message, OpenAI's shape",
            changes=(('message = world.anthropic().messages.create(\n'
                      '            model=model, max_tokens=request.max_tokens, messages=[{"role": "user", "content": '
                      'request.user}], **extra)',
                      'turns = [{"role": "system", "content": extra.pop("system")}] if "system" in extra else []\n'
                      '        message = world.anthropic().messages.create(\n'
                      '            model=model, max_tokens=request.max_tokens,\n'
                      '            messages=turns + [{"role": "user", "content": request.user}], **extra)'),),
            hint=HINT_ANTHROPIC_SYSTEM),
    Mistake("the instructions folded into OpenAI's user message",
            changes=(('messages.insert(0, {"role": "system", "content": system})',
                      'messages[0]["content"] = system + "\\n\\n" + request.user'),),
            hint=HINT_OPENAI_SYSTEM),
    Mistake("always sends Claude a system prompt, the template's frame around nothing when the request has none",
            changes=(("if request.system:  # Claude", "if True:  # Claude"),),
            hint=HINT_NO_SYSTEM),
    Mistake("reads only the first of Claude's content blocks",
            changes=(('Answer("".join(block.text for block in message.content if block.type == "text"), model)',
                      "Answer(message.content[0].text, model)"),),
            hint=HINT_ALL_BLOCKS),
    Mistake("misses Anthropic's 'exceed context limit' (prompt plus max_tokens over the window)",
            changes=((' or "exceed context limit" in said', ""),),
            hint=HINT_EXCEED),
    Mistake("misses OpenAI's context_length_exceeded code (only Anthropic's message is matched)",
            changes=(('isinstance(err, openai.BadRequestError) and err.code == "context_length_exceeded"', "False"),),
            hint=HINT_TOO_LONG_OPENAI),
    Mistake("Unavailable for 429 and 5xx only, the lesson's old list: a 408 or 409 becomes Rejected",
            changes=(("retryable_status(err.status_code)", "err.status_code == 429 or err.status_code >= 500"),),
            hint=HINT_RETRYABLE),
    Mistake("catches timeouts only, so a dropped connection escapes as the SDK's APIConnectionError",
            changes=(("except (openai.APIConnectionError, anthropic.APIConnectionError) as err:",
                      "except (openai.APITimeoutError, anthropic.APITimeoutError) as err:"),),
            hint=HINT_CONNECTION),
    Mistake("leaves the SDK's own retries on (max_retries=2, the SDK's default)",
            changes=(("world.openai().chat", "world.openai(max_retries=2).chat"),),
            hint=HINT_ONE_ATTEMPT),
    Mistake("a 404 treated as an outage (Unavailable), so a retired model is hidden by the fallback",
            changes=(("if retryable_status(err.status_code):  # 408",
                      "if retryable_status(err.status_code) or err.status_code == 404:  # 408"),),
            hint=HINT_NOT_FOUND),
    Mistake("raises Unavailable without `from err`",
            changes=(('raise Unavailable(f"{model}: HTTP {err.status_code}") from err',
                      'raise Unavailable(f"{model}: HTTP {err.status_code}")'),),
            hint=HINT_CHAINED),
)

mistakes(
    "fallbacks-chain",
    Mistake("a half-open breaker that admits every call, not one probe",
            changes=(('return self.state == "closed"', 'return self.state != "open"'),),
            hint=HINT_ONE_PROBE),
    Mistake("a breaker that never opens (only a failed probe re-opens it)",
            changes=(('if self.state == "half-open" or self.consecutive >= self.failures:',
                      'if self.state == "half-open":'),),
            hint=HINT_OPENS),
    Mistake("the cool-down measured on the wall clock",
            changes=(("class CircuitBreaker:", "import time\n\n\nclass CircuitBreaker:"),
                     ("self.clock.now() - self.opened_at", "time.monotonic() - self.opened_at"),
                     ('self.state, self.opened_at = "open", self.clock.now()',
                      'self.state, self.opened_at = "open", time.monotonic()')),
            hint=HINT_WORLD_CLOCK),
    Mistake("counts every failure, not consecutive ones (a success does not reset the count)",
            changes=(('self.state, self.consecutive = "closed", 0', 'self.state = "closed"'),),
            hint=HINT_CONSECUTIVE),
    Mistake("breakers made with the default settings, not ask's failures and cooldown",
            changes=(("CircuitBreaker(world.clock, failures=failures, cooldown=cooldown)", "CircuitBreaker(world.clock)"),),
            hint=HINT_USE_PARAMS),
    Mistake("no count first, and TooLong counted as a breaker failure",
            changes=(("if not fits(model):", "if False:"),
                     ("except TooLong as err:\n            breaker.success()",
                      "except TooLong as err:\n            breaker.failure()")),
            hint=HINT_TOO_LONG_NOT_FAILURE),
    Mistake("Rejected tried down the chain like an outage",
            changes=(("except Rejected:\n            breaker.success()\n            raise",
                      "except Rejected as err:\n            breaker.success()\n            what.append(str(err))\n"
                      "            continue"),),
            hint=HINT_REJECTED_AT_ONCE),
    Mistake("Rejected raised at once but counted as a breaker failure",
            changes=(("except Rejected:\n            breaker.success()", "except Rejected:\n            breaker.failure()"),),
            hint=HINT_REJECTED_NOT_COUNTED),
    Mistake("breakers keyed by model, not by provider",
            changes=(("breaker = breakers.setdefault(provider,", "breaker = breakers.setdefault(model,"),),
            hint=HINT_PER_PROVIDER),
    Mistake("Rejected raised without telling the breaker, so a half-open probe refused with a 400 never closes it",
            changes=(("except Rejected:\n            breaker.success()\n            raise",
                      "except Rejected:\n            raise"),),
            hint=HINT_REJECTED_PROBE),
    Mistake("breakers made with a fixed 60 s cool-down, not ask's cooldown",
            changes=(("failures=failures, cooldown=cooldown)", "failures=failures, cooldown=60.0)"),),
            hint=HINT_USE_PARAMS),
    Mistake("AllFailed that does not say what happened to each model",
            changes=(('raise AllFailed("no model answered: " + "; ".join(what))', 'raise AllFailed("no model answered")'),),
            hint=HINT_ALL_FAILED_SAYS),
    Mistake("half-opens only after more than `cooldown` seconds",
            changes=(("self.clock.now() - self.opened_at >= self.cooldown", "self.clock.now() - self.opened_at > self.cooldown"),),
            hint=HINT_COOLDOWN_EDGE),
    Mistake("opens one failure late (consecutive > failures)",
            changes=(("self.consecutive >= self.failures", "self.consecutive > self.failures"),),
            hint=HINT_OPEN_AT),
    Mistake("degraded never set",
            changes=(("degraded=model != chain[0]", "degraded=False"),),
            hint=HINT_DEGRADED),
    Mistake("returns None instead of raising AllFailed",
            changes=(('raise AllFailed("no model answered: " + "; ".join(what))', "return None"),),
            hint=HINT_ALL_FAILED),
)
