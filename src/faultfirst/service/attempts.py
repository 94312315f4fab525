"""Attempt hooks: the public way to watch, or deterministically answer, each attempt a world receives.

Checks and tests need to see the wire (which body went to which provider, what came back) and, at times, to
script it (refuse an attempt with a status no scenario produces; let more traffic arrive while one attempt is
in flight). Without hooks they would replace the engine's methods on one world, which ties every check to
the engine's private shape. A hook is a pair of plain functions the engine calls around its decision:

    before(attempt)   before the world decides: the request is known, the reply is not (the hook may make
                      more requests through the same world: they arrive, and are decided, first)
    after(attempt)    once the world has decided: `attempt.status`, `attempt.headers`, `attempt.body` and
                      `attempt.record` are set; `attempt.answer(status, message)` replaces the reply

The engine's own decision (its random draws, its rate-limit buckets, the record it logs) is the same with or
without hooks, so watching a world never changes what it does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from ..wire.dialects import DIALECTS
from ..wire.framing import dumps, error_name
from .outcome import Outcome
from .records import RequestRecord


class HookFailed(BaseException):
    """An attempt hook raised: a bug in the hook, not a fault of the simulated API.

    A BaseException, like `Runaway`, so that neither the SDKs' retry loops (which turn any Exception raised
    in their transport into a connection error and try again) nor a learner's `except Exception:` hide it:
    it stops the call that was being made, and its `__cause__` is what the hook raised.
    """


@dataclass
class Attempt:
    """One attempt as the world receives it: the request on the wire and, after the decision, its reply.

    `provider` is "openai" or "anthropic", `at` the virtual time it arrived, `request` the `httpx2.Request`
    exactly as the SDK sent it (headers such as `x-stainless-retry-count` included). After the world has
    decided: `record` (the entry in `world.requests`), `status` (None for a timeout or a reset), `headers`,
    `body` (bytes of a JSON reply; b"" for a stream or a failure) and `failure` ("timeout" or "reset").
    """

    provider: str
    request: httpx2.Request
    at: float
    record: RequestRecord | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    failure: str | None = None
    _outcome: Outcome | None = field(default=None, repr=False)

    @property
    def json(self) -> dict[str, Any]:
        """The request's JSON body ({} when it has none or is not a JSON object)."""
        try:
            value = json.loads(self.request.content or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def model(self) -> str:
        """The model the request names, as sent ("" when none)."""
        return str(self.json.get("model", ""))

    def answer(self, status: int, message: str, *, error_type: str | None = None,
               headers: dict[str, str] | None = None, delay: float | None = None) -> None:
        """Replace the world's reply with an error `status` whose body is in this provider's shape.

        For a status no scenario produces (a 408, a 409, a 404 for a catalogued model) or a scripted 429.
        `error_type` is the body's error type (default: the provider's usual one for that status, which
        `world.requests` logs as the record's `error`); `headers` are added (e.g. `{"retry-after": "2"}`);
        `delay` is the virtual seconds the answer takes (default: what the world's own reply would have taken).
        The record in `world.requests` is rewritten to match: the status and error, no tokens, no cost, since
        an error is not billed, and no fault labels, since the world's reply (and whatever it injected) was
        replaced.
        Only in an `after` hook: before the decision there is nothing to replace.
        """
        outcome = self._outcome
        if outcome is None:
            raise RuntimeError("attempt.answer() replaces the world's reply, so it works in an after hook only: "
                               "world.on_attempt(after=...)")
        if not 400 <= status < 600:
            raise ValueError(f"answer() sends an error reply; give a status from 400 to 599, not {status!r}")
        dialect = DIALECTS[self.provider]
        rid = outcome.headers.get(dialect.request_id_header, "req_hook").removeprefix("req_")
        data = dialect.error(status, message, rid, error_type)
        outcome.delay = outcome.delay if delay is None else delay
        outcome.status, outcome.body, outcome.events, outcome.failure = status, dumps(data), None, None
        outcome.stream_failure = None
        outcome.headers = {"content-type": "application/json", **dialect.request_id(rid), **(headers or {})}
        record = outcome.record
        record.status, record.error, record.latency, record.stop_reason = status, error_name(data), outcome.delay, None
        record.output_tokens, record.cost_usd, record.faults = 0, 0.0, ()  # a scripted reply: none of the world's
        self._decided(outcome)

    def _decided(self, outcome: Outcome) -> None:
        self._outcome, self.record, self.status = outcome, outcome.record, None if outcome.failure else outcome.status
        self.headers, self.body, self.failure = dict(outcome.headers), outcome.body, outcome.failure


Hook = Callable[[Attempt], object]


class AttemptHooks:
    """The hooks of one world, in the order they were added; the engine runs them around each decision."""

    def __init__(self) -> None:
        self._hooks: list[tuple[Hook | None, Hook | None]] = []

    def add(self, before: Hook | None, after: Hook | None) -> HookHandle:
        for name, fn in (("before", before), ("after", after)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be a function taking one Attempt, got {type(fn).__name__} {fn!r}")
        if before is None and after is None:
            raise TypeError("on_attempt() needs before=, after= or both: functions that take one Attempt")
        entry = (before, after)
        self._hooks.append(entry)
        return HookHandle(self._hooks, entry)

    def __bool__(self) -> bool:
        return bool(self._hooks)

    def around(self, provider: str, request: httpx2.Request, now: float,
               decide: Callable[[str, httpx2.Request, float], Outcome]) -> Outcome:
        """Run the before hooks, let `decide` answer, run the after hooks; return the (possibly replaced) outcome."""
        attempt = Attempt(provider, request, now)
        hooks = list(self._hooks)  # a hook that adds or removes hooks changes the next attempt, not this one
        for before, _ in hooks:
            if before is not None:
                _call(before, attempt)
        outcome = decide(provider, request, now)
        attempt._decided(outcome)
        for _, after in hooks:
            if after is not None:
                _call(after, attempt)
        return outcome


def _call(hook: Hook, attempt: Attempt) -> None:
    try:
        hook(attempt)
    except Exception as err:  # re-raised as what it is: the hook's bug, not the API's fault
        name = getattr(hook, "__qualname__", repr(hook))
        raise HookFailed(f"the attempt hook {name} raised {type(err).__name__}: {err}") from err


class HookHandle:
    """What `world.on_attempt` returns: `.remove()` it, or use it as a context manager to remove it on exit."""

    def __init__(self, hooks: list[tuple[Hook | None, Hook | None]], entry: tuple[Hook | None, Hook | None]) -> None:
        self._hooks, self._entry = hooks, entry

    def remove(self) -> None:
        """Stop calling these hooks (idempotent)."""
        for i, entry in enumerate(self._hooks):
            if entry is self._entry:
                del self._hooks[i]
                return

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()
