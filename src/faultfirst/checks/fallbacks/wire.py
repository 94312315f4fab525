"""What reached the API through the learner's adapter: the request bodies and reply texts, and what is wrong
with a body for its provider.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...service.attempts import Attempt
from ...text import plural
from ...world import World
from .._framework import Report, checked_world, usage
from .._helpers import reply_text
from .common import NeutralRequest, answer_problem, from_sdk, is_lesson_error, short_error
from .hints import (
    HINT_ALL_BLOCKS,
    HINT_ANSWER,
    HINT_ANTHROPIC_SYSTEM,
    HINT_BOTH_SDKS,
    HINT_CHAINED,
    HINT_CONNECTION,
    HINT_LIMIT,
    HINT_NO_SYSTEM,
    HINT_ONE_ATTEMPT,
    HINT_OPENAI_SYSTEM,
    HINT_USER,
    HINT_WORD_FOR_WORD,
)


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
        wire.reply = reply_text(attempt.body) if attempt.status == 200 and attempt.body else None

    world.on_attempt(before=arrived, after=answered)
    return seen


def refuse_every_attempt(world: World, status: int) -> None:
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


def _wire_problem(provider: str, body: dict[str, Any], request: NeutralRequest) -> tuple[str, str] | None:
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


def on_the_wire(report: Report, fn: Callable[..., Any], *, seed: int, model: str, request: NeutralRequest,
                world: World | None = None) -> tuple[World, list[_Wire]]:
    """One call of the learner's adapter: one request, in the provider's shape, answered, its text returned whole."""
    world = world or checked_world(seed=seed, max_attempts=10)
    wire = _recording(world)
    got, err = report.outcome(fn, world, model, request)
    report.expect(bool(wire), f"{model}: no request reached the API; the call raised {short_error(err)}"
                  if err is not None else f"{model}: no request reached the API")
    found = _wire_problem(wire[0].provider, wire[0].body, request)
    report.expect(found is None, f"{model}: {found[0]}" if found else "", hint=found[1] if found else None)
    _expect_one_attempt(report, world)
    record = world.requests[0]
    report.expect(record.ok, f"{model}: the request failed with HTTP {record.status} ({record.error})")
    report.expect(err is None, f"{model}: the request was answered, yet the call raised {short_error(err)}")
    problem = answer_problem(got)
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


def system_detail(world: World, wire: list[_Wire], request: NeutralRequest) -> str:
    """How the adapter framed the instructions on this provider, for the case's report line."""
    sent = "\n".join(text or "" for text in _system_texts(wire[0].provider, wire[0].body))
    return (f"{usage(world)}; {world.requests[0].input_tokens} input tokens; the system prompt on the wire has "
            f"{len(sent)} characters around the request's {len(request.system)}")


def expect_raises(report: Report, fn: Callable[..., Any], world: World, model: str, request: NeutralRequest,
                  expected: str,
                  *, what: str, hint: str) -> None:
    """One call that fails at the API: exactly one request, and the lesson's `expected` exception, chained from the
    SDK's. `hint` names the mistake of raising the wrong one of the lesson's exceptions here."""
    before = len(world.requests)
    value, err = report.outcome(fn, world, model, request)
    made = len(world.requests) - before
    status = world.requests[-1].status if made else None
    report.expect(err is not None, f"returned {str(value)[:60]!r} for {what} (HTTP {status}); raise {expected}")
    if from_sdk(err, "APIConnectionError"):
        report.expect(False, f"{short_error(err)} escaped for {what}; raise {expected}", hint=HINT_CONNECTION)
    if from_sdk(err):
        report.expect(False, f"{short_error(err)} escaped for {what}; raise {expected}", hint=HINT_BOTH_SDKS)
    report.expect(is_lesson_error(err, expected), f"raised {short_error(err)} for {what}; raise {expected}", hint=hint)
    _expect_one_attempt(report, world, before)
    assert err is not None  # expect() ended the case otherwise
    report.expect(from_sdk(err.__cause__), f"{expected} for {what} does not carry the SDK's exception as its "
                                            f"__cause__ (it is {type(err.__cause__).__name__})", hint=HINT_CHAINED)


def scripted(world: World, reply: tuple[str, ...], **match: str) -> World:
    """`world`, answering a request that matches with `reply`, one text block per string (a Claude reply of several
    blocks), ahead of its own behaviour (which would also read a long prompt sentence by sentence)."""
    world.script_reply(reply, **match)
    return world


LONG_ASKED = "Which codes repeat?"
BLOCKS = ("Retry storms turn a short outage into a long one. ", "Jittered backoff halved the retry traffic.")
BLOCKS_ASKED = "In two blocks: what do the results say about retry storms?"


