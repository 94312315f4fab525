"""Checks for the lesson "Fallbacks" (book/tier2/fallbacks.md).

`fallbacks-adapter` sends one neutral request through the learner's adapter and
reads what reached the API: one attempt, in the provider's shape (a system
message for OpenAI, `system=` for Anthropic, no system role among Anthropic's
messages), the request's instructions and user text carried word for word
somewhere in the right place, the output limit passed on, and the reply's text
returned whole. The adapter may wrap the instructions in its own per-provider
template (the lesson's point: different models need different prompts), so the
check never compares the prompt, the reply or the token count with a reference
adapter's. Then it makes each failure shape happen (an outage, an overload, a
reset, a 429, a prompt over the window, a malformed request) and checks which
of the lesson's neutral exceptions comes out.

`fallbacks-chain` drives traffic through the learner's chain, one request every
15 simulated seconds, under `outage`, `bad-day`, `overloaded` and `calm`, and
judges it by what the world saw: attempts per provider inside and outside the
outage window, which model answered when, how many requests were answered and
how many lost, and what was raised.

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

from .._guard import Runaway
from .._records import RequestRecord
from .._scenarios import SCENARIOS, RateLimits
from .._world import World
from ._framework import Report, _CaseFailed, _NotAttempted, checked_world, register, usage

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


# -- helpers ------------------------------------------------------------------------------------------------------

def _is(err: BaseException | None, name: str) -> bool:
    """Whether `err` is the lesson's exception `name` (or a subclass of it), whatever module defined it."""
    return err is not None and any(cls.__name__ == name for cls in type(err).__mro__)


def _outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
    """Call learner code and keep what it raised: a stub means not attempted, a runaway fails the case."""
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError as err:
        raise _NotAttempted from err
    except Runaway as err:
        raise _CaseFailed(f"did not finish: it {err} (a loop with no limit?)") from None
    except Exception as err:  # noqa: BLE001 - learner exceptions are data here
        return None, err


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


def _clauses(n: int) -> str:
    """A long contract: n distinct numbered clauses (about 20 tokens each in either encoding)."""
    return " ".join(f"Clause {i}. The supplier shall deliver item {i * 7 % 1000} within {i % 30 + 1} days "
                    f"of order {i}." for i in range(n))


_SMALL = {"max_attempts": 20, "max_seconds": 4000.0}  # a few requests: a runaway stops at once
_ALWAYS_OVERLOADED = replace(SCENARIOS["overloaded"], name="always-overloaded", overload_rate=1.0,
                             reset_rate=0.0, stream_error_rate=0.0)
_ALWAYS_RESET = replace(SCENARIOS["calm"], name="always-reset", reset_rate=1.0)
_ONE_PER_MINUTE = replace(SCENARIOS["calm"], name="one-per-minute", rate_limits=RateLimits(1, 10_000_000))


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
    plan = world._api.plan

    def recording_plan(provider: str, request: Any, now: float) -> Any:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = None
        wire = _Wire(provider, body if isinstance(body, dict) else {})
        seen.append(wire)
        outcome = plan(provider, request, now)
        wire.reply = _reply_text(provider, outcome.body) if outcome.status == 200 and outcome.body else None
        return outcome

    world._api.plan = recording_plan  # type: ignore[method-assign]
    return seen


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


def _wire_problem(provider: str, body: dict[str, Any], request: _Request) -> str | None:
    """What is wrong with the request body this provider received, or None.

    The adapter owns the wording around the request: it may wrap the instructions in a template of its own
    (Markdown sections for one model family, XML tags for another) and frame the user's text. What must hold is
    the provider's shape, and that nothing the caller asked for is lost: the instructions arrive word for word
    where this provider reads instructions, the user's text arrives in the one user turn, the limit is passed on.
    """
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [m for m in messages if m.get("role") == "user"]
    system = _system_texts(provider, body)
    if provider == "openai":
        if request.system and not system:
            return "no system message arrived: OpenAI takes the system prompt as a message with role 'system'"
        if request.system and not any(_carries(text, request.system) for text in system):
            return ("the system message does not carry the request's instructions word for word: wrap them in "
                    "your template if you like, but do not drop or rewrite them")
        if any(not (text or "").strip() for text in system):
            return "an empty system message was sent: leave the system prompt out when there is none"
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        limit_name = "max_completion_tokens (or max_tokens)"
    else:
        odd = sorted({str(m.get("role")) for m in messages} - {"user", "assistant"})
        if odd:
            return (f"a message has role {odd[0]!r}; the Messages API takes user and assistant turns only (this "
                    "is OpenAI's shape sent to Anthropic)")
        if request.system and not any(_carries(text, request.system) for text in system):
            return ("system= did not carry the request's instructions word for word: Anthropic takes them in the "
                    "top-level system parameter, not inside the user's message (a template around them is fine)")
        if any(not (text or "").strip() for text in system):
            return "an empty system= was sent: leave the system prompt out when there is none"
        limit, limit_name = body.get("max_tokens"), "max_tokens"
    if len(users) != 1 or not _carries(_text(users[0].get("content")), request.user):
        return (f"expected one user message carrying the request's user text word for word; got {len(users)} user "
                "message(s), and the text was not in them (the instructions have a place of their own)")
    if limit != request.max_tokens:
        return f"{limit_name} should be {request.max_tokens}, the request's max_tokens; it was {limit!r}"
    return None


def _on_the_wire(report: Report, fn: Callable[..., Any], *, seed: int, model: str,
                 request: _Request) -> tuple[World, list[_Wire]]:
    """One call of the learner's adapter: one request, in the provider's shape, answered, its text returned whole."""
    world = checked_world(seed=seed, max_attempts=10)
    wire = _recording(world)
    got = report.call(fn, world, model, request)
    problem = _answer_problem(got)
    report.expect(problem is None, problem or "")
    report.expect(len(world.requests) == 1,
                  f"made {len(world.requests)} requests; one call of complete should make exactly one")
    problem = _wire_problem(wire[0].provider, wire[0].body, request)
    report.expect(problem is None, f"{model}: {problem}")
    record = world.requests[0]
    report.expect(record.ok, f"the request failed with HTTP {record.status} ({record.error})")
    report.expect(got.model == model, f"Answer.model should be {model!r}, got {got.model!r}")
    report.expect(record.output_tokens <= request.max_tokens,
                  f"the reply had {record.output_tokens} output tokens where the request allows {request.max_tokens}")
    sent = wire[0].reply
    report.expect(sent is None or got.text == sent,
                  f"Answer.text is {str(got.text)[:50]!r}... but the API replied {str(sent)[:50]!r}...: return all "
                  "of the reply's text (every text block, joined)")
    return world, wire


def _system_detail(world: World, wire: list[_Wire], request: _Request) -> str:
    """How the adapter framed the instructions on this provider, for the case's report line."""
    sent = "\n".join(text or "" for text in _system_texts(wire[0].provider, wire[0].body))
    return (f"{usage(world)}; {world.requests[0].input_tokens} input tokens; the system prompt on the wire has "
            f"{len(sent)} characters around the request's {len(request.system)}")


def _raises(report: Report, fn: Callable[..., Any], world: World, model: str, request: _Request, expected: str,
            *, what: str) -> None:
    before = len(world.requests)
    value, err = _outcome(fn, world, model, request)
    made = len(world.requests) - before
    status = world.requests[-1].status if made else None
    report.expect(err is not None, f"returned {str(value)[:60]!r} for {what} (HTTP {status}); raise {expected}")
    report.expect(_is(err, expected), f"raised {_short(err)} for {what}; raise {expected} (from the SDK's exception)")
    report.expect(made == 1, f"made {made} requests for one call; leave retries and fallbacks to the chain")


@register("fallbacks-adapter")
def check_adapter(fn: Callable[..., Any], report: Report) -> None:
    with report.case("OpenAI (gpt-fast): the instructions in a system message, the user text, max_tokens passed on",
                     hint="Chat Completions takes the system prompt as a message with role 'system' before the user "
                          "message. Your template may wrap the instructions; it must carry them word for word.") as notes:
        request = _Request(_QUESTION, _SYSTEM)
        notes.detail = _system_detail(*_on_the_wire(report, fn, seed=31, model="gpt-fast", request=request), request)
    with report.case("Anthropic (claude-strong): the instructions in system=, the user text, max_tokens passed on",
                     hint="The Messages API takes the system prompt as system=..., not as a message with "
                          "role 'system' (that gets a 400), and it needs max_tokens.") as notes:
        request = _Request(_QUESTION, _SYSTEM)
        notes.detail = _system_detail(*_on_the_wire(report, fn, seed=32, model="claude-strong", request=request),
                                      request)
    with report.case("no system prompt, on both providers",
                     hint="Leave the system prompt out when it is empty."):
        _on_the_wire(report, fn, seed=33, model="claude-fast", request=_Request(_QUESTION))
        _on_the_wire(report, fn, seed=33, model="gpt-strong", request=_Request(_QUESTION))
    with report.case("a reply cut at max_tokens=12 (both providers): the limit reaches the API"):
        for model in ("gpt-fast", "claude-fast"):
            world, _ = _on_the_wire(report, fn, seed=34, model=model, request=_Request(_QUESTION, _SYSTEM, max_tokens=12))
            report.expect(world.requests[0].stop_reason in ("length", "max_tokens"),
                          f"{model}: the reply was not cut at max_tokens=12 (stop reason "
                          f"{world.requests[0].stop_reason!r}): pass max_tokens on")
    with report.case("Japanese and emoji, on both providers"):
        text = "検索結果を二文で要約してください。🔎 再試行の嵐とは何ですか？"
        _on_the_wire(report, fn, seed=35, model="gpt-strong", request=_Request(text, _SYSTEM))
        _on_the_wire(report, fn, seed=35, model="claude-strong", request=_Request(text, _SYSTEM))
    with report.case("structured output: JSON that fits the schema from both providers",
                     hint="OpenAI: response_format={'type': 'json_schema', 'json_schema': {'name': ..., 'schema': ...}}. "
                          "Anthropic: output_config={'format': {'type': 'json_schema', 'schema': ...}}, or a forced "
                          "tool whose input you return as JSON text."):
        for seed, model in ((36, "gpt-fast"), (37, "claude-fast")):
            world = checked_world(seed=seed, max_attempts=10)
            got = report.call(fn, world, model, _Request("Extract the title and year: 'Retry storms' (2021).",
                                                         max_tokens=200, schema=_SCHEMA))
            problem = _answer_problem(got)
            report.expect(problem is None, problem or "")
            try:
                data = json.loads(got.text)
            except ValueError:
                data = None
            report.expect(isinstance(data, dict), f"{model}: the text is not a JSON object: {got.text[:80]!r}")
            report.expect(isinstance(data.get("title"), str) and isinstance(data.get("year"), int),
                          f"{model}: the JSON does not fit the schema (title: string, year: integer): {got.text[:80]!r}")
    with report.case("an outage, an overload, a reset and a 429 are Unavailable",
                     hint="5xx and 529 (APIStatusError), 408/409/429, and APIConnectionError (timeouts included) "
                          "mean 'not now': raise Unavailable.") as notes:
        world = checked_world(seed=41, scenario="outage", max_attempts=10)
        _raises(report, fn, world, "gpt-fast", _Request(_QUESTION), "Unavailable", what="OpenAI's 503 in `outage`")
        world = checked_world(seed=42, scenario="bad-day", max_attempts=10)
        world.clock.sleep(11 * 60)
        _raises(report, fn, world, "claude-fast", _Request(_QUESTION), "Unavailable",
                what="Anthropic's 500 at minute 11 of `bad-day`")
        world = checked_world(seed=43, scenario=_ALWAYS_OVERLOADED, max_attempts=10)
        _raises(report, fn, world, "claude-strong", _Request(_QUESTION), "Unavailable", what="Anthropic's 529")
        world = checked_world(seed=44, scenario=_ALWAYS_RESET, max_attempts=10)
        _raises(report, fn, world, "gpt-strong", _Request(_QUESTION), "Unavailable", what="a connection reset")
        world = checked_world(seed=45, scenario=_ONE_PER_MINUTE, max_attempts=10)
        _, err = _outcome(fn, world, "gpt-fast", _Request(_QUESTION))
        report.expect(err is None, f"the first request under a limit of one per minute failed: {_short(err)}")
        _raises(report, fn, world, "gpt-fast", _Request(_QUESTION), "Unavailable", what="a 429 (rate limited)")
        notes.detail = "503, 500, 529, connection reset, 429"
    with report.case("a prompt over the context window is TooLong (both providers)",
                     hint="OpenAI: BadRequestError with err.code == 'context_length_exceeded'. Anthropic sends no "
                          "code: its api_message says 'prompt is too long' (or that input and max_tokens "
                          "'exceed context limit')."):
        world = checked_world(seed=46, max_attempts=10)
        _raises(report, fn, world, "gpt-fast", _Request(_clauses(6000)), "TooLong",
                what="a 130,000-token prompt to gpt-fast (128,000 window)")
        world = checked_world(seed=47, max_attempts=10)
        _raises(report, fn, world, "claude-fast", _Request(_clauses(10000)), "TooLong",
                what="a 218,000-token prompt to claude-fast (200,000 window)")
    with report.case("a malformed request (max_tokens=-200) is Rejected (both providers)",
                     hint="Any other 4xx is the request's fault, not the provider's: raise Rejected."):
        for seed, model in ((48, "gpt-fast"), (49, "claude-fast")):
            world = checked_world(seed=seed, max_attempts=10)
            _raises(report, fn, world, model, _Request(_QUESTION, max_tokens=-200), "Rejected",
                    what=f"max_tokens=-200 to {model} (a 400)")


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


def _drive(fn: Callable[..., Any], world: World, *, chain: list[str], minutes: tuple[float, float],
           every: float = 15.0, failures: int = 3, cooldown: float = 60.0) -> list[_Call]:
    """Ask through the learner's chain every `every` simulated seconds from minute a to b, with one breakers dict."""
    breakers: dict[Any, Any] = {}
    calls: list[_Call] = []
    first, last = minutes
    try:
        for i in range(int((last - first) * 60 // every)):
            world.clock.advance_to(first * 60 + i * every)
            before, start = len(world.requests), world.clock.now()
            asked = _Request(_QUESTIONS[i % len(_QUESTIONS)], _SYSTEM, max_tokens=200)
            value, err = _outcome(fn, world, asked, chain=list(chain), breakers=breakers,
                                  failures=failures, cooldown=cooldown)
            calls.append(_Call(start, value, err, world.requests[before:]))
    except Runaway as err:
        raise _CaseFailed(f"did not finish: it {err} (a loop with no limit?)") from None
    for call in calls:
        if call.error is None:
            problem = _answer_problem(call.value)
            report_line = f"at t={call.start:.0f} s ask {problem}" if problem else None
            if report_line:
                raise _CaseFailed(report_line)
    return calls


def _raised(calls: list[_Call], allowed: str | None = None) -> list[_Call]:
    return [c for c in calls if c.error is not None and not (allowed and _is(c.error, allowed))]


def _expect_answered(report: Report, calls: list[_Call], *, where: str) -> None:
    failed = _raised(calls)
    report.expect(not failed, f"{len(failed)} of {len(calls)} requests {where} raised instead of answering; the "
                              f"first, at t={failed[0].start:.0f} s: {_short(failed[0].error)}" if failed else "")


def _expect_degraded_flags(report: Report, calls: list[_Call], primary: str) -> None:
    wrong = [c for c in calls if c.error is None and bool(c.value.degraded) != (c.value.model != primary)]
    if wrong:
        c = wrong[0]
        report.expect(False, f"at t={c.start:.0f} s {c.value.model} answered with degraded={c.value.degraded!r}; "
                             f"degraded means 'not the chain's first model ({primary})'")


def _dead_attempts(calls: list[_Call], provider: str, start: float, end: float) -> int:
    return sum(r.provider == provider and start <= r.start < end for c in calls for r in c.attempts)


def _outage_cases(report: Report, fn: Callable[..., Any], *, seed: int, scenario: str, chain: list[str],
                  minutes: tuple[float, float], strict: bool) -> None:
    """Three cases over one run: answered throughout, the dead provider left alone, the primary back after."""
    failures, cooldown, every = 3, 60.0, 15.0
    world = _traffic(seed=seed, scenario=scenario, chain=chain, minutes=minutes, every=every)
    outage = world.scenario.outage
    assert outage is not None
    primary, dead = chain[0], outage.provider
    window = f"{outage.start / 60:.0f}-{outage.end / 60:.0f} min"
    calls: list[_Call] | None = None
    with report.case(f"{scenario} (seed {seed}, {dead} down {window}), chain {chain}: requests are answered",
                     hint="On Unavailable, move to the next model in the chain; only when every model has failed "
                          "or was skipped, raise AllFailed.") as notes:
        calls = _drive(fn, world, chain=chain, minutes=minutes, every=every, failures=failures, cooldown=cooldown)
        notes.detail = _answered_detail(world, calls)
        during = [c for c in calls if outage.start <= c.start < outage.end]
        if strict:
            _expect_answered(report, calls, where="in the run")
        else:
            # Both providers also overload and reset at random all day, so a request can find every model failing
            # at once: some losses are the world's, not the chain's. More than one in ten is the chain's.
            answered = sum(c.error is None for c in calls)
            report.expect(answered >= 0.9 * len(calls),
                          f"only {answered} of {len(calls)} requests were answered ({len(calls) - answered} lost; "
                          f"at least {math.ceil(0.9 * len(calls))} should be); the first that raised, at "
                          f"t={_raised(calls)[0].start:.0f} s: {_short(_raised(calls)[0].error)}"
                          if answered < 0.9 * len(calls) else "")
            odd = _raised(calls, allowed="AllFailed")
            report.expect(not odd, f"at t={odd[0].start:.0f} s a request raised {_short(odd[0].error)}; when no "
                                   "model can answer, raise AllFailed" if odd else "")
            hidden = [c for c in calls if _is(c.error, "AllFailed") and any(r.ok for r in c.attempts)]
            report.expect(not hidden, f"at t={hidden[0].start:.0f} s a model answered, yet ask raised AllFailed"
                          if hidden else "")
        fallbacks = [c for c in during if c.error is None]
        report.expect(all(c.value.model != primary for c in fallbacks),
                      f"{primary} cannot answer during the outage, yet an answer says it came from {primary}")
        _expect_degraded_flags(report, calls, primary)
    with report.case(f"{scenario}: once the breaker opens, {dead} is left alone (one probe per cool-down)",
                     hint="After `failures` consecutive Unavailable from a provider, skip it without calling; after "
                          "`cooldown` seconds of world.clock, let one request through as a probe.") as notes:
        report.expect(calls is not None, "the run in the case above failed before it could be judged")
        assert calls is not None
        during = [c for c in calls if outage.start <= c.start < outage.end]
        made = _dead_attempts(calls, dead, outage.start, outage.end)
        expected = failures + math.ceil((outage.end - outage.start) / cooldown)
        notes.detail = f"{made} attempts to {dead} while it was down; {len(during)} requests arrived in that time"
        report.expect(made <= expected + 5,
                      f"a breaker with failures={failures} and cooldown={cooldown:g} s lets about {expected} through: "
                      f"{failures} failures, then one probe per cool-down. Is it opening, and does half-open let "
                      "exactly one probe through?")
    with report.case(f"{scenario}: after the outage a probe succeeds and traffic returns to {primary}",
                     hint="Measure the cool-down on world.clock.now(), not on the wall clock; a successful probe "
                          "closes the breaker.") as notes:
        report.expect(calls is not None, "the run in the case above failed before it could be judged")
        assert calls is not None
        settled = outage.end + cooldown + 2 * every
        after = [c for c in calls if c.start >= settled]
        back = [c for c in after if c.error is None and c.value.model == primary]
        first_back = next((c.start for c in calls if c.start >= outage.end and c.model == primary), None)
        notes.detail = (f"first answer from {primary} after the outage at t={first_back:.0f} s"
                        if first_back is not None else f"{primary} never answered after the outage")
        share = 1.0 if strict else 0.8
        report.expect(len(back) >= share * len(after),
                      f"after t={settled:.0f} s only {len(back)} of {len(after)} answers came from {primary}; the "
                      "breaker should half-open after the cool-down, and close when its probe succeeds")


@register("fallbacks-chain")
def check_chain(fn: Callable[..., Any], report: Report) -> None:
    with report.case("calm (seed 51): the primary answers every request, one attempt each") as notes:
        chain = ["claude-strong", "gpt-fast"]
        world = _traffic(seed=51, scenario="calm", chain=chain, minutes=(0, 3))
        calls = _drive(fn, world, chain=chain, minutes=(0, 3))
        notes.detail = _answered_detail(world, calls)
        _expect_answered(report, calls, where="in a calm world")
        elsewhere = [c for c in calls if c.value.model != "claude-strong"]
        report.expect(not elsewhere, f"at t={elsewhere[0].start:.0f} s {elsewhere[0].value.model} answered; in a calm "
                                     "world the first model should answer" if elsewhere else "")
        report.expect(len(world.requests) == len(calls),
                      f"{len(world.requests)} attempts for {len(calls)} requests; a healthy primary needs one each")
        _expect_degraded_flags(report, calls, "claude-strong")
    _outage_cases(report, fn, seed=52, scenario="outage", chain=["gpt-fast", "claude-fast"], minutes=(0, 24), strict=True)
    _outage_cases(report, fn, seed=53, scenario="bad-day", chain=["claude-fast", "gpt-fast"], minutes=(8, 29),
                  strict=False)
    with report.case("overloaded (seed 54, 15% of attempts refused): a refusal moves to the next model",
                     hint="Unavailable from one model is a reason to try the next one in the same call.") as notes:
        chain = ["gpt-fast", "claude-fast", "claude-strong"]
        world = _traffic(seed=54, scenario="overloaded", chain=chain, minutes=(0, 12))
        calls = _drive(fn, world, chain=chain, minutes=(0, 12))
        notes.detail = _answered_detail(world, calls)
        answered = [c for c in calls if c.error is None]
        odd = _raised(calls, allowed="AllFailed")
        report.expect(not odd, f"at t={odd[0].start:.0f} s a request raised {_short(odd[0].error)}; when no model "
                               "can answer, raise AllFailed" if odd else "")
        report.expect(len(answered) >= 0.95 * len(calls),
                      f"only {len(answered)} of {len(calls)} requests were answered ({len(calls) - len(answered)} "
                      "lost) with three models to try")
        primary = sum(c.value.model == chain[0] for c in answered)
        report.expect(primary >= 0.7 * len(calls),
                      f"the primary answered only {primary} of {len(calls)} requests; it refuses 15% of attempts, so "
                      "it should answer most of them")
        _expect_degraded_flags(report, calls, chain[0])
    with report.case("a prompt too long for gpt-fast goes to claude-fast, and does not open OpenAI's breaker",
                     hint="A TooLong is not an outage: move on to a model with a larger window without counting a "
                          "failure. Counting tokens first (world.catalog[m].encoding, context_window) saves the "
                          "doomed request.") as notes:
        world = checked_world(seed=55, **_SMALL)
        chain, breakers = ["gpt-fast", "claude-fast"], {}
        long = _Request(_clauses(6000), "Find the clauses about late delivery.", max_tokens=400)
        value, err = _outcome(fn, world, long, chain=chain, breakers=breakers, failures=1, cooldown=60.0)
        report.expect(err is None, f"a 130,000-token prompt raised {_short(err)}; claude-fast (200,000 tokens) "
                                   "could have answered it")
        problem = _answer_problem(value)
        report.expect(problem is None, problem or "")
        report.expect(value.model == "claude-fast", f"the long prompt was answered by {value.model!r}, expected claude-fast")
        report.expect(bool(value.degraded), "an answer from claude-fast, the chain's second model, is degraded=True")
        report.expect(sum(r.model == "gpt-fast" for r in world.requests) <= 1,
                      "sent the long prompt to gpt-fast more than once")
        world.clock.sleep(5)
        value, err = _outcome(fn, world, _Request(_QUESTION, _SYSTEM), chain=chain, breakers=breakers,
                              failures=1, cooldown=60.0)
        notes.detail = _per_provider(world)
        report.expect(err is None, f"a short request after the long one raised {_short(err)}")
        problem = _answer_problem(value)
        report.expect(problem is None, problem or "")
        report.expect(value.model == "gpt-fast",
                      f"with failures=1, a short request after the long one went to {value.model}: the "
                      "context-window 400 was counted as an outage and opened OpenAI's breaker")
    with report.case("a malformed request (max_tokens=-200) raises Rejected after one attempt, and opens no breaker",
                     hint="Rejected means the request is wrong: every other model would refuse it too. Raise it at "
                          "once, and do not count it against the provider.") as notes:
        world = checked_world(seed=56, **_SMALL)
        chain, breakers = ["gpt-fast", "gpt-strong", "claude-fast"], {}
        for round_ in range(2):
            before = len(world.requests)
            value, err = _outcome(fn, world, _Request(_QUESTION, max_tokens=-200), chain=chain, breakers=breakers,
                                  failures=2, cooldown=60.0)
            made = len(world.requests) - before
            report.expect(_is(err, "Rejected"), f"a malformed request should raise Rejected; got {_short(err)}"
                          if err is not None else f"a malformed request returned {str(value)[:60]!r}; raise Rejected")
            report.expect(made == 1, f"the malformed request was sent {made} times, down the chain; a 400 for a "
                                     "malformed request is the same on every model")
        value, err = _outcome(fn, world, _Request(_QUESTION, _SYSTEM), chain=chain, breakers=breakers,
                              failures=2, cooldown=60.0)
        notes.detail = _per_provider(world)
        report.expect(err is None and getattr(value, "model", None) == "gpt-fast",
                      f"a good request after two malformed ones should be answered by gpt-fast; got "
                      f"{_short(err) if err else getattr(value, 'model', value)}: a 400 opened a breaker")
    with report.case("every model refusing: one attempt each, then a clear AllFailed",
                     hint="Raise AllFailed (from the setup cell) with what happened to each model.") as notes:
        world = checked_world(seed=57, scenario=_ALWAYS_OVERLOADED, **_SMALL)
        chain = ["gpt-fast", "claude-fast", "claude-strong"]
        value, err = _outcome(fn, world, _Request(_QUESTION, _SYSTEM), chain=chain, breakers={})
        notes.detail = f"{_per_provider(world)}; raised {_short(err)}"
        report.expect(err is not None, f"returned {str(value)[:60]!r} although every model refused")
        report.expect(_is(err, "AllFailed"), f"raised {_short(err)}; raise AllFailed when no model answers")
        tried = [r.model for r in world.requests]
        report.expect(tried == chain, f"tried {tried}; expected each model of the chain once, in order: {chain}")
