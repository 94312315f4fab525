"""Checks for the lesson "Timeouts and deadlines" (book/tier2/timeouts.md).

`timeouts-deadline` runs the learner's call in fresh seeded worlds: calm, at
the peak of latency drift, overloaded, during an outage, and with a request
the API refuses. Every case measures the world's clock around the call, so
"never spends more than the deadline" is a measurement, not a promise.

`timeouts-choose` is a pure function over a request log. The logs are built
here from seeded worlds (and by hand where an exact shape is needed), the
expected answer comes from `reference_timeout`, and a wrong answer is matched
against the usual mistakes so the report can say which one it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from numbers import Real
from typing import Any

import anthropic
import openai

from .._records import RequestRecord
from .._tokens import count_tokens
from .._world import World
from ._framework import Report, bounded, checked_world, register

_PROMPT = "What does the research say about sleep deprivation and working memory?"
_TOLERANCE = 1e-6  # seconds: floating-point slack on "never later than the deadline"
_CUT = ("timeout", "cancelled")  # attempts the client stopped waiting for


# -- timeouts-deadline -----------------------------------------------------------------------------------------

def _is_deadline_exceeded(err: BaseException | None) -> bool:
    return err is not None and any(cls.__name__ == "DeadlineExceeded" for cls in type(err).__mro__)


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if len(text) > 100:
        text = text[:100].rsplit(" ", 1)[0] + " ..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _run(report: Report, fn: Callable[..., Any], world: World, model: str, *, deadline_s: float,
         **options: Any) -> tuple[Any, BaseException | None, float]:
    """Call the learner's function once; return what it returned, what it raised, and the virtual seconds spent."""
    start = world.clock.now()

    def attempt() -> tuple[Any, BaseException | None]:
        try:
            return fn(world, model, _PROMPT, deadline_s=deadline_s, **options), None
        except NotImplementedError:
            raise
        except Exception as err:  # noqa: BLE001 - what the learner raised is what the case judges
            return None, err

    value, err = report.call(attempt)
    return value, err, world.clock.now() - start


def _world(seed: int, scenario: str, *, at_peak: bool = False, deadline_s: float) -> World:
    """A bounded world, moved to the slowest moment of its drift first when `at_peak`."""
    peak = World(seed=seed, scenario=scenario)._api.latency.rise_seconds if at_peak else 0.0
    world = checked_world(seed=seed, scenario=scenario, max_attempts=40, max_seconds=peak + deadline_s + 300)
    if at_peak:
        world.clock.sleep(peak)  # the multiplier is at its peak one rise after minute 0
    return world


def _detail(world: World, elapsed: float, *, peak: bool = False) -> str:
    """What one call cost: attempts, the virtual seconds it spent, its bill (and where the clock started)."""
    cost = sum(r.cost_usd for r in world.requests)
    line = f"{len(world.requests):,} attempts, {elapsed:,.1f} s simulated, ${cost:.6f}"
    return f"{line}, starting at the drift's peak (minute {(world.clock.now() - elapsed) / 60:.1f})" if peak else line


def _within(report: Report, elapsed: float, deadline_s: float) -> None:
    report.expect(elapsed <= deadline_s + _TOLERANCE,
                  f"spent {elapsed:.2f} s of simulated time with a deadline of {deadline_s:g} s; each attempt's "
                  "timeout must be what is left of the budget, and no wait may run past it")


def _expect_answer(report: Report, world: World, model: str, value: Any, err: BaseException | None,
                   elapsed: float, deadline_s: float) -> None:
    report.expect(err is None, f"raised {_describe(err)}" if err is not None else "")
    _within(report, elapsed, deadline_s)
    report.expect(isinstance(value, str), f"should return the reply's text (a str), got {type(value).__name__}")
    answered = [r for r in world.requests if r.ok]
    report.expect(bool(answered), "returned without any attempt being answered")
    report.expect(count_tokens(value, world.catalog[model].encoding) == answered[-1].output_tokens,
                  "the text returned is not the text of the answered attempt")


def _expect_deadline(report: Report, value: Any, err: BaseException | None, elapsed: float, deadline_s: float) -> None:
    _within(report, elapsed, deadline_s)
    if err is None:
        report.expect(False, f"returned {value!r:.60} although no attempt was answered in time; "
                             "raise DeadlineExceeded when the budget is gone")
    if not _is_deadline_exceeded(err) and isinstance(err, (openai.APIError, anthropic.APIError)):
        report.expect(False, f"raised {_describe(err)}; when the budget is gone, raise DeadlineExceeded (the caller "
                             "should not have to know every SDK's exceptions)")
    report.expect(_is_deadline_exceeded(err), f"raised {_describe(err)}" if err is not None else "")


@register("timeouts-deadline")
def check_deadline(fn: Callable[..., Any], report: Report) -> None:
    for seed, model in ((61, "gpt-fast"), (62, "claude-fast")):
        with report.case(f"calm: {model} answers at once, well within a 10 s deadline") as notes:
            world = _world(seed, "calm", deadline_s=10)
            value, err, elapsed = _run(report, fn, world, model, deadline_s=10)
            notes.detail = _detail(world, elapsed)
            _expect_answer(report, world, model, value, err, elapsed, 10)
            report.expect(len(world.requests) == 1, f"made {len(world.requests)} requests; one was enough")

    with report.case("latency drift at its peak: claude-strong cannot answer in 8 s, so DeadlineExceeded after "
                     "no more than 8 s",
                     hint="The first attempt's timeout is the whole budget. When it times out, nothing is left: "
                          "do not retry with a fresh timeout (and do not let the SDK retry: max_retries=0).") as notes:
        world = _world(64, "latency-drift", at_peak=True, deadline_s=8)
        value, err, elapsed = _run(report, fn, world, "claude-strong", deadline_s=8)
        notes.detail = _detail(world, elapsed, peak=True)
        _expect_deadline(report, value, err, elapsed, 8)

    with report.case("calm, the slow path: attempt_timeout_s=4 cuts a 17 s first attempt at 4 s, and a retry "
                     "answers within the 10 s deadline",
                     hint="Each attempt's timeout is min(what is left, attempt_timeout_s); a timeout is transient, "
                          "so it is retried while the budget lasts.") as notes:
        world = _world(60, "calm", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "claude-fast", deadline_s=10, attempt_timeout_s=4)
        notes.detail = _detail(world, elapsed)
        _expect_answer(report, world, "claude-fast", value, err, elapsed, 10)
        first = world.requests[0]
        report.expect(first.error != "timeout" or abs(first.latency - 4) < 1e-6,
                      f"the first attempt was cut at {first.latency:.2f} s; with attempt_timeout_s=4 it should be "
                      "cut at 4 s")

    with report.case("latency drift at its peak: gpt-fast needs most of a 30 s budget, and gets it",
                     hint="Give the first attempt the whole remaining budget as its timeout, not a fixed "
                          "slice of it.") as notes:
        world = _world(73, "latency-drift", at_peak=True, deadline_s=30)
        value, err, elapsed = _run(report, fn, world, "gpt-fast", deadline_s=30)
        notes.detail = _detail(world, elapsed, peak=True)
        _expect_answer(report, world, "gpt-fast", value, err, elapsed, 30)

    with report.case("overloaded: three 529s in a row from claude-fast are retried, and the fourth attempt answers "
                     "within 10 s",
                     hint="529 (anthropic.OverloadedError) and 503 are subclasses of InternalServerError; "
                          "retry those, rate limits and connection errors.") as notes:
        world = _world(125, "overloaded", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "claude-fast", deadline_s=10)
        notes.detail = _detail(world, elapsed)
        _expect_answer(report, world, "claude-fast", value, err, elapsed, 10)

    with report.case("overloaded: a connection reset from gpt-fast is retried, and the retry answers",
                     hint="A reset arrives as openai.APIConnectionError (the parent of APITimeoutError).") as notes:
        world = _world(61, "overloaded", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "gpt-fast", deadline_s=10)
        notes.detail = _detail(world, elapsed)
        _expect_answer(report, world, "gpt-fast", value, err, elapsed, 10)

    with report.case("outage: every gpt-fast attempt gets 503; DeadlineExceeded within 10 s, waiting between "
                     "attempts",
                     hint="Sleep between attempts with world.clock.sleep (or tenacity's sleep=world.clock.sleep), "
                          "never past the deadline.") as notes:
        world = _world(66, "outage", deadline_s=10)
        value, err, elapsed = _run(report, fn, world, "gpt-fast", deadline_s=10)
        notes.detail = _detail(world, elapsed)
        _expect_deadline(report, value, err, elapsed, 10)
        report.expect(len(world.requests) <= 12,
                      f"made {len(world.requests)} attempts in {elapsed:.1f} s against a provider that is down; "
                      "wait between attempts (0.5 s, then 1 s, 2 s, ...)")

    with report.case("a request the API refuses (400) is not retried: the SDK's BadRequestError comes back at once",
                     hint="Retry only transient failures; let a BadRequestError through unchanged.") as notes:
        for seed, model, max_tokens in ((68, "gpt-fast", 50_000), (69, "claude-strong", 40_000)):
            world = _world(seed, "calm", deadline_s=10)
            value, err, elapsed = _run(report, fn, world, model, deadline_s=10, max_tokens=max_tokens)
            notes.detail = _detail(world, elapsed)
            report.expect(isinstance(err, (openai.BadRequestError, anthropic.BadRequestError)),
                          f"{model} with max_tokens={max_tokens:,}: expected the SDK's BadRequestError, "
                          + (f"got {_describe(err)}" if err is not None else f"got a return value {value!r:.60}"))
            report.expect(len(world.requests) == 1,
                          f"{model}: made {len(world.requests)} requests; a 400 will fail the same way every time")


# -- timeouts-choose -------------------------------------------------------------------------------------------

def reference_timeout(records: list[RequestRecord], *, percentile: float = 99, margin: float = 1.5) -> float:
    """What a correct `choose_timeout` returns."""
    answered = sorted(r.latency for r in records if r.ok)
    cut = sum(r.error in _CUT for r in records)
    n = len(answered) + cut
    if n == 0:
        raise ValueError("no latency samples in the log")
    rank = math.ceil(percentile * n / 100)
    if rank > len(answered):
        raise ValueError(f"the p{percentile:g} lands on an attempt that was cut short; the log cannot tell")
    return answered[rank - 1] * margin


@lru_cache(maxsize=None)
def _canary(seed: int, scenario: str, model: str, *, calls: int, timeout: float | None = None,
            start: float = 0.0) -> tuple[RequestRecord, ...]:
    """A canary's log: `calls` requests to `model`, one every 10 s from `start`, failures caught."""
    world = World(seed=seed, scenario=scenario)
    world.clock.sleep(start)
    options = {} if timeout is None else {"timeout": timeout}
    on_openai = world.catalog[model].provider == "openai"
    client: Any = world.openai(**options) if on_openai else world.anthropic(**options)
    messages = [{"role": "user", "content": _PROMPT}]
    for _ in range(calls):
        began = world.clock.now()
        try:
            if on_openai:
                client.chat.completions.create(model=model, max_tokens=300, messages=messages)
            else:
                client.messages.create(model=model, max_tokens=300, messages=messages)
        except (openai.APIError, anthropic.APIError):
            pass
        world.clock.sleep(max(0.0, began + 10 - world.clock.now()))
    return tuple(world.requests)


def _ok(latency: float) -> RequestRecord:
    return RequestRecord("anthropic", "claude-fast", "messages", 0.0, status=200, latency=latency,
                         input_tokens=20, output_tokens=80, stop_reason="end_turn")


def _cut(latency: float, error: str = "timeout") -> RequestRecord:
    return RequestRecord("anthropic", "claude-fast", "messages", 0.0, error=error, latency=latency,
                         input_tokens=20, output_tokens=80)


def _failed(latency: float, status: int | None, error: str) -> RequestRecord:
    return RequestRecord("anthropic", "claude-fast", "messages", 0.0, status=status, error=error, latency=latency)


def _spread(n: int, low: float = 0.8, high: float = 3.0) -> list[float]:
    """n distinct latencies between low and high, in a fixed shuffled order."""
    step = (high - low) / max(1, n - 1)
    return [low + step * ((i * 37) % n) for i in range(n)]


def _deadline_log() -> list[RequestRecord]:
    """Calls made under a deadline: some attempts were cut at what was left of the budget, sooner than others answered."""
    log = [_ok(x) for x in _spread(198)]
    log[10:10] = [_cut(1.2), _cut(0.9)]  # retries that had only a second left
    return log


def _cancelled_log() -> list[RequestRecord]:
    """An asyncio.timeout cancelled two attempts; the rest answered."""
    log = [_ok(x) for x in _spread(198)]
    log[50:50] = [_cut(2.0, "cancelled"), _cut(2.5, "cancelled")]
    return log


def _copies(log: tuple[RequestRecord, ...] | list[RequestRecord]) -> list[RequestRecord]:
    return [replace(record) for record in log]




def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    return float(value)


def _nearest(values: list[float], p: float) -> float | None:
    return values[math.ceil(p * len(values) / 100) - 1] if values else None


def _explain(records: list[RequestRecord], p: float, margin: float, got: float) -> str:
    """Name the likely mistake behind a wrong timeout, when one matches."""
    answered = sorted(r.latency for r in records if r.ok)
    every = sorted(r.latency for r in records)
    as_values = sorted(r.latency for r in records if r.ok or r.error in _CUT)
    only_timeout = sorted([r.latency for r in records if r.ok] + [math.inf] * sum(r.error == "timeout" for r in records))
    guesses = [
        (_nearest(answered, p), margin, "answered attempts only: a timed-out attempt is a sample too, one that "
                                        "took longer than its timeout"),
        (_nearest(every, p), margin, "every attempt's latency, failures included: a 429, a 5xx or a reset says "
                                     "nothing about how long an answer takes"),
        (_nearest(as_values, p), margin, "cut attempts counted at their latency: that is only a lower bound; count "
                                         "them as slower than every answer"),
        (_nearest(only_timeout, p), margin, "attempts with error 'cancelled' left out: an asyncio.timeout cut them "
                                            "short, which makes them timeouts too"),
        (reference_or_none(records, p, 1.0), 1.0, "the percentile without the margin"),
    ]
    for value, factor, meaning in guesses:
        if value is not None and math.isfinite(value) and math.isclose(got, value * factor, rel_tol=1e-9):
            return f"; that is the value from {meaning}"
    return ""


def reference_or_none(records: list[RequestRecord], p: float, margin: float) -> float | None:
    try:
        return reference_timeout(records, percentile=p, margin=margin)
    except ValueError:
        return None


def _compare(report: Report, fn: Callable[..., Any], log: tuple[RequestRecord, ...] | list[RequestRecord], what: str,
             **options: float) -> None:
    records = _copies(log)
    want = reference_timeout(records, **options)
    got = report.call(bounded(fn), _copies(log), **options)
    number = _number(got)
    report.expect(number is not None, f"{what}: should return a number of seconds, got {type(got).__name__} {got!r:.60}")
    p, margin = options.get("percentile", 99), options.get("margin", 1.5)
    report.expect(math.isclose(number, want, rel_tol=1e-9),
                  f"{what}: expected {want:.4f} s (p{p:g} by nearest rank x {margin:g}), got {number:.4f}"
                  f"{_explain(records, p, margin, number)}")


def _refuses(report: Report, fn: Callable[..., Any], log: tuple[RequestRecord, ...] | list[RequestRecord],
             what: str, why: str, **options: float) -> None:
    def attempt() -> tuple[str, Any]:
        try:
            return "returned", fn(_copies(log), **options)
        except ValueError as err:
            return "raised", err

    outcome, value = report.call(bounded(attempt))
    report.expect(outcome == "raised", f"{what}: should raise ValueError ({why}), but returned {value!r:.60}")


def _summary(log: tuple[RequestRecord, ...] | list[RequestRecord]) -> str:
    answered = sum(r.ok for r in log)
    cut = sum(r.error in _CUT for r in log)
    return f"log: {len(log)} attempts, {answered} answered, {cut} cut short, {len(log) - answered - cut} failed"


@register("timeouts-choose")
def check_choose(fn: Callable[..., Any], report: Report) -> None:
    with report.case("calm logs (claude-fast and gpt-fast): p99 by nearest rank, times 1.5",
                     hint="Sort the latencies of the answered attempts; the p-th percentile of n samples is the one "
                          "at rank ceil(p * n / 100), counting from 1.") as notes:
        for seed, model in ((71, "claude-fast"), (72, "gpt-fast")):
            log = _canary(seed, "calm", model, calls=100)
            notes.detail = _summary(log)
            _compare(report, fn, log, f"calm, seed {seed}, {model}")

    with report.case("the percentile and margin asked for are the ones used (p90 x 2, p50 x 3)") as notes:
        log = _canary(71, "calm", "claude-fast", calls=100)
        _compare(report, fn, log, "p90 x 2", percentile=90, margin=2.0)
        _compare(report, fn, log, "p50 x 3", percentile=50, margin=3.0)

    with report.case("failed attempts (529s, 503s, connection resets) are not latency samples",
                     hint="`record.ok` is True for an answered attempt; a failure that came back fast says nothing "
                          "about how long an answer takes.") as notes:
        for seed, model in ((73, "claude-fast"), (74, "gpt-fast")):
            log = _canary(seed, "overloaded", model, calls=100)
            notes.detail = _summary(log)
            _compare(report, fn, log, f"overloaded, seed {seed}, {model}", percentile=90)

    with report.case("timed-out attempts count, as slower than every answer (calm, 12 s timeout)",
                     hint="A timed-out attempt took at least its timeout; leaving it out makes the tail look "
                          "shorter than it is.") as notes:
        log = _canary(76, "calm", "claude-fast", calls=200, timeout=12.0)
        notes.detail = _summary(log)
        _compare(report, fn, log, "calm, seed 76, claude-fast, timeout 12 s")

    with report.case("an attempt cut at what was left of a deadline is a lower bound, not a sample",
                     hint="Its latency is when the client stopped waiting, not when the answer would have come: "
                          "count it as slower than every answered attempt.") as notes:
        notes.detail = _summary(_deadline_log())
        _compare(report, fn, _deadline_log(), "198 answers and 2 attempts cut at about 1 s")

    with report.case("an attempt cancelled by asyncio.timeout ('cancelled') is cut short too") as notes:
        notes.detail = _summary(_cancelled_log())
        _compare(report, fn, _cancelled_log(), "198 answers and 2 cancelled attempts")

    with report.case("when the percentile lands on attempts that were cut short, the log cannot tell: ValueError",
                     hint="If the rank is beyond the answered attempts, the p-th percentile is only known to be "
                          "longer than some timeout; raise ValueError instead of guessing.") as notes:
        peak = World(seed=79, scenario="latency-drift")._api.latency.rise_seconds
        log = _canary(79, "latency-drift", "claude-fast", calls=30, timeout=10.0, start=peak - 150)
        notes.detail = _summary(log)
        _refuses(report, fn, log, "latency drift at its peak with a 10 s timeout",
                 "most attempts timed out, so the p99 is somewhere above 10 s")

    with report.case("an empty log, and a log of failures only, raise ValueError") as notes:
        _refuses(report, fn, [], "an empty log", "there are no samples")
        _refuses(report, fn, [_failed(0.05, 529, "overloaded_error"), _failed(0.3, None, "connection reset")],
                 "a 529 and a reset", "there are no samples")
