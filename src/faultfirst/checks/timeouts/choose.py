"""The check of timeouts-choose, and the mistakes it is tested against."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx2

from ...service.records import RequestRecord
from ...text import plural
from ...world import World
from .._framework import Mistake, Report, mistakes, register
from .._helpers import as_number, copies, spread
from .runs import CUT, PROMPT, rise_seconds

NEAREST_RANK = ("The p-th percentile of n sorted samples is the one at rank ceil(p * n / 100), counting from 1: "
                "index rank - 1 in a Python list.")
FLOAT_RANK = ("Compute the rank as math.ceil(percentile * n / 100), in that order: percentile / 100 * n rounds "
              "99.9 / 100 * 1000 to 999.0000000000001, and ceil makes that rank 1000, one too high.")
USE_ARGUMENTS = "Use the percentile and margin the caller passes, not 99 and 1.5 every time."
MARGIN = "Multiply the percentile by margin: the timeout sits a little above the p99, not on it."
FAILURES_NOT_SAMPLES = ("Only answered attempts (record.ok) and attempts cut short are samples: a 429, a 5xx or a "
                        "reset that came back fast says nothing about how long an answer takes.")
CUT_ARE_SAMPLES = ("A timed-out attempt is a sample too, one slower than its timeout: count the cut attempts in n, "
                   "after every answered one; leaving them out makes the tail look shorter than it is.")
CUT_ARE_LOWER_BOUNDS = ("An attempt cut short has as its latency the moment the client stopped waiting, a lower "
                        "bound: count it as slower than every answered attempt, not at its latency.")
CANCELLED_ARE_CUT = ("An attempt with error 'cancelled' was cut short by asyncio.timeout: it is a timeout too, "
                     "counted like error 'timeout'.")
UNKNOWN_PERCENTILE = ("When the rank lands beyond the answered attempts, the percentile is only known to be above "
                      "some timeout: raise ValueError instead of returning the slowest answer or failing with "
                      "another error.")
NO_SAMPLES = ("With no answered and no cut attempts there is nothing to measure: check for that first and raise "
              "ValueError (an empty list has no element to index).")


def reference_timeout(records: list[RequestRecord], *, percentile: float = 99, margin: float = 1.5) -> float:
    """What a correct `choose_timeout` returns."""
    answered = sorted(r.latency for r in records if r.ok)
    cut = sum(r.error in CUT for r in records)
    n = len(answered) + cut
    if n == 0:
        raise ValueError("no latency samples in the log")
    rank = math.ceil(percentile * n / 100)
    if rank > len(answered):
        raise ValueError(f"the p{percentile:g} lands on an attempt that was cut short; the log cannot tell")
    return answered[rank - 1] * margin


@cache
def _canary(seed: int, scenario: str, model: str, *, calls: int, timeout: float | None = None,
            start: float = 0.0) -> tuple[RequestRecord, ...]:
    """A canary's log: `calls` requests to `model`, one every 10 s from `start`, failures caught.

    The requests go through the world's HTTP layer, as the SDK would send them (`max_retries=0`, the read
    timeout in `extensions["timeout"]`), without the SDK's response parsing: the log is the world's, and a
    check answers in a fraction of the time.
    """
    world = World(seed=seed, scenario=scenario)
    world.clock.sleep(start)
    on_openai = world.catalog[model].provider == "openai"
    client: Any = world.openai() if on_openai else world.anthropic()
    url = f"{client.base_url}".rstrip("/") + ("/chat/completions" if on_openai else "/v1/messages")
    body = {"model": model, "max_tokens": 300, "messages": [{"role": "user", "content": PROMPT}]}
    limit = 600.0 if timeout is None else timeout
    extensions = {"timeout": {"connect": 5.0, "read": limit, "write": limit, "pool": limit}}
    for _ in range(calls):
        began = world.clock.now()
        with contextlib.suppress(httpx2.TransportError):
            client._client.post(url, json=body, extensions=extensions)
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
    return spread(n, low=low, step=(high - low) / max(1, n - 1))


def _deadline_log() -> list[RequestRecord]:
    """Calls made under a deadline: some attempts were cut at what was left of the budget, sooner than others
    answered."""
    log = [_ok(x) for x in _spread(198)]
    log[10:10] = [_cut(1.2), _cut(0.9)]  # retries that had only a second left
    return log


def _cancelled_log() -> list[RequestRecord]:
    """An asyncio.timeout cancelled two attempts; the rest answered."""
    log = [_ok(x) for x in _spread(198)]
    log[50:50] = [_cut(2.0, "cancelled"), _cut(2.5, "cancelled")]
    return log


def _nearest(values: list[float], p: float, *, off_by_one: bool = False) -> float | None:
    """Nearest rank (or the element after it, as `values[rank]` would give); None where there is none."""
    if not values:
        return None
    index = math.ceil(p * len(values) / 100) - (0 if off_by_one else 1)
    return values[index] if 0 <= index < len(values) else None


def _mistaken_values(records: list[RequestRecord], p: float, margin: float) -> list[tuple[float | None, str, str]]:
    """What each listed mistake returns for this log: (value, what it did, its hint).

    Where two mistakes give the same value on a log, the first listed names it: a log without failures
    cannot tell "every attempt" from "cut attempts at their latency", so the latter comes first, and a log
    whose only cut attempts were cancelled cannot tell "cancelled left out" from "answered only".
    """
    answered = sorted(r.latency for r in records if r.ok)
    timeouts = sum(r.error == "timeout" for r in records)
    cut = sum(r.error in CUT for r in records)
    with_cut = answered + [math.inf] * cut

    def times(value: float | None, factor: float = margin) -> float | None:
        return None if value is None else value * factor

    n = len(with_cut)
    float_rank = math.ceil(p / 100 * n)
    return [
        (times(with_cut[float_rank - 1] if 0 < float_rank <= n else None), "a rank computed as percentile / 100 * n",
         FLOAT_RANK),
        (times(_nearest(with_cut, p, off_by_one=True)), "the sample one rank above the nearest rank", NEAREST_RANK),
        (times(reference_or_none(records, 99, margin), 1.0), "p99 instead of the percentile asked for",
         USE_ARGUMENTS),
        (reference_or_none(records, p, 1.5), "a margin of 1.5 instead of the margin asked for", USE_ARGUMENTS),
        (reference_or_none(records, 99, 1.5), "p99 x 1.5 whatever was asked for", USE_ARGUMENTS),
        (reference_or_none(records, p, 1.0), "the percentile without the margin", MARGIN),
        (times(_nearest(sorted(r.latency for r in records if r.ok or r.error in CUT), p)),
         "cut attempts counted at their latency", CUT_ARE_LOWER_BOUNDS),
        (times(_nearest(answered + [math.inf] * timeouts, p)), "cancelled attempts left out", CANCELLED_ARE_CUT),
        (times(_nearest(sorted(r.latency for r in records), p)), "every attempt's latency, failures included",
         FAILURES_NOT_SAMPLES),
        (times(_nearest(answered, p)), "the answered attempts only", CUT_ARE_SAMPLES),
    ]


def reference_or_none(records: list[RequestRecord], p: float, margin: float) -> float | None:
    try:
        return reference_timeout(records, percentile=p, margin=margin)
    except ValueError:
        return None


def _compare(report: Report, fn: Callable[..., Any], log: tuple[RequestRecord, ...] | list[RequestRecord], what: str,
             **options: float) -> None:
    records = copies(log)
    want = reference_timeout(records, **options)
    got = report.call(fn, copies(log), **options)
    number = as_number(got)
    report.expect(number is not None,
                  f"{what}: should return a number of seconds, got {type(got).__name__} {got!r:.60}")
    assert number is not None
    p, margin = options.get("percentile", 99), options.get("margin", 1.5)
    if math.isclose(number, want, rel_tol=1e-9):
        return
    for value, meaning, hint in _mistaken_values(records, p, margin):
        if value is not None and math.isfinite(value) and not math.isclose(value, want, rel_tol=1e-9):
            report.expect(not math.isclose(number, value, rel_tol=1e-9),
                          f"{what}: expected {want:.4f} s (p{p:g} by nearest rank x {margin:g}), got {number:.4f}: "
                          f"the value from {meaning}", hint=hint)
    report.expect(False, f"{what}: expected {want:.4f} s (p{p:g} by nearest rank x {margin:g}), got {number:.4f}")


def _refuses(report: Report, fn: Callable[..., Any], log: tuple[RequestRecord, ...] | list[RequestRecord],
             what: str, why: str, hint: str, **options: float) -> None:
    def attempt() -> tuple[str, Any]:
        try:
            return "returned", fn(copies(log), **options)
        except ValueError as err:
            return "raised", err
        except Exception as err:
            return "failed", err

    outcome, value = report.call(attempt)
    report.expect(outcome == "raised",
                  f"{what}: should raise ValueError ({why}), but "
                  + (f"returned {value!r:.60}" if outcome == "returned" else f"raised {type(value).__name__}: {value}"),
                  hint=hint)


def _summary(log: tuple[RequestRecord, ...] | list[RequestRecord]) -> str:
    answered = sum(r.ok for r in log)
    cut = sum(r.error in CUT for r in log)
    return (f"log: {plural(len(log), 'attempt')}, {answered} answered, {cut} cut short, "
            f"{len(log) - answered - cut} failed")


@register("timeouts-choose")
def check_choose(fn: Callable[..., Any], report: Report) -> None:
    calm = _canary(71, "calm", "claude-fast", calls=100)
    with report.case("a calm log (claude-fast): p99 by nearest rank, times 1.5") as notes:
        notes.detail = _summary(calm)
        _compare(report, fn, calm, "calm, seed 71, claude-fast")

    with report.case("the percentile and margin asked for are the ones used (p90 x 2, p50 x 3)"):
        _compare(report, fn, calm, "p90 x 2", percentile=90, margin=2.0)
        _compare(report, fn, calm, "p50 x 3", percentile=50, margin=3.0)

    with report.case("p99.9 of 1,000 answers is the 999th: the rank computed exactly"):
        log: list[RequestRecord] | tuple[RequestRecord, ...] = [_ok(x) for x in _spread(1000)]
        _compare(report, fn, log, "1,000 answers, p99.9", percentile=99.9)

    with report.case("failed attempts (529s, a connection reset) are not latency samples") as notes:
        log = _canary(73, "overloaded", "claude-fast", calls=60)
        notes.detail = _summary(log)
        _compare(report, fn, log, "overloaded, seed 73, claude-fast", percentile=90)

    with report.case("timed-out attempts count, as slower than every answer (calm, 6 s timeout)") as notes:
        log = _canary(76, "calm", "claude-fast", calls=100, timeout=6.0)
        notes.detail = _summary(log)
        _compare(report, fn, log, "calm, seed 76, claude-fast, timeout 6 s", percentile=90)

    with report.case("an attempt cut at what was left of a deadline is a lower bound, not a sample") as notes:
        notes.detail = _summary(_deadline_log())
        _compare(report, fn, _deadline_log(), "198 answers and 2 attempts cut at about 1 s")

    with report.case("an attempt cancelled by asyncio.timeout ('cancelled') is cut short too") as notes:
        notes.detail = _summary(_cancelled_log())
        _compare(report, fn, _cancelled_log(), "198 answers and 2 cancelled attempts")

    with report.case("when the percentile lands on attempts that were cut short, the log cannot tell: "
                     "ValueError") as notes:
        log = _canary(79, "latency-drift", "claude-fast", calls=20, timeout=10.0, start=rise_seconds(79) - 100)
        notes.detail = _summary(log)
        _refuses(report, fn, log, "latency drift at its peak with a 10 s timeout",
                 "most attempts timed out, so the p99 is somewhere above 10 s", UNKNOWN_PERCENTILE)

    with report.case("an empty log, and a log of failures only, raise ValueError"):
        _refuses(report, fn, [], "an empty log", "there are no samples", NO_SAMPLES)
        _refuses(report, fn, [_failed(0.05, 529, "overloaded_error"), _failed(0.3, None, "connection reset")],
                 "a 529 and a reset", "there are no samples", NO_SAMPLES)


_SOLUTION_ANSWERED = "answered = sorted(record.latency for record in records if record.ok)"
_SOLUTION_RETURN = "return answered[rank - 1] * margin"

mistakes(
    "timeouts-choose",
    Mistake("index rank instead of rank - 1", ((_SOLUTION_RETURN, "return answered[rank] * margin"),), NEAREST_RANK),
    Mistake("rank computed as percentile / 100 * n (floating point)",
            (("rank = math.ceil(percentile * n / 100)", "rank = math.ceil(percentile / 100 * n)"),), FLOAT_RANK),
    Mistake("the percentile argument ignored (always p99)",
            (("rank = math.ceil(percentile * n / 100)", "rank = math.ceil(99 * n / 100)"),), USE_ARGUMENTS),
    Mistake("no margin", ((_SOLUTION_RETURN, "return answered[rank - 1]"),), MARGIN),
    Mistake("every attempt's latency, failures included",
            ((_SOLUTION_ANSWERED, "answered = sorted(record.latency for record in records)"),
             ('cut = sum(record.error in ("timeout", "cancelled") for record in records)', "cut = 0")),
            FAILURES_NOT_SAMPLES),
    Mistake("answered attempts only: cut attempts left out of n", (("n = len(answered) + cut", "n = len(answered)"),),
            CUT_ARE_SAMPLES),
    Mistake("cut attempts counted at their latency",
            ((_SOLUTION_ANSWERED, "answered = sorted(record.latency for record in records "
                                  "if record.ok or record.error in ('timeout', 'cancelled'))"),
             ("n = len(answered) + cut", "n = len(answered)")), CUT_ARE_LOWER_BOUNDS),
    Mistake("only error 'timeout' counted as cut short, not 'cancelled'",
            (('record.error in ("timeout", "cancelled")', 'record.error == "timeout"'),), CANCELLED_ARE_CUT),
    Mistake("the slowest answer returned when the rank lands on cut attempts",
            (("if rank > len(answered):", "rank = min(rank, len(answered))\n    if rank > len(answered):"),),
            UNKNOWN_PERCENTILE),
    Mistake("no check for a log without samples",
            (("if n == 0:", "if n < 0:"),), NO_SAMPLES),
)
