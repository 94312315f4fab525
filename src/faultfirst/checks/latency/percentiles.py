"""The check of latency-percentiles, and the mistakes it is tested against."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ...service.records import RequestRecord
from .._framework import Mistake, Report, mistakes, register
from .._helpers import as_number, copies, nearest_rank
from .logs import PERCENTILES, close, failed_record, ok_record, probe_log, reference_percentiles, steady_records, wobble


def _interpolated(values: list[float], p: float) -> float:
    """numpy's default ("linear") percentile, for telling the learner what they computed."""
    h = (len(values) - 1) * p / 100
    low = math.floor(h)
    high = min(low + 1, len(values) - 1)
    return values[low] + (h - low) * (values[high] - values[low])


FAILED_COUNTED = "`record.ok` is True only for a 2xx status with no error; filter on it before sorting."
BROKEN_STREAM = ("`record.ok` checks `record.error` as well as the status: a 200 whose stream broke (or stalled) is "
                 "a failure, not a latency.")
NEAREST_RANK = ("Nearest rank: sort the latencies; the p-th percentile of n values is the one at rank "
                "ceil(p * n / 100), counting from 1, a latency that was actually observed (no interpolation).")
OFF_BY_ONE = "The rank ceil(p * n / 100) counts from 1: the value is latencies[math.ceil(p * n / 100) - 1]."
NOT_THE_MEAN = "A percentile is a rank in the sorted latencies, not the mean."
LEFT_AS_IT_WAS = "sorted(...) builds a new list; list.sort() reorders the log the caller gave you."
RAISE_WHEN_EMPTY = "Check for an empty list of latencies before indexing, and raise ValueError with a message."


def _explain(records: list[RequestRecord], p: int, got: float) -> tuple[str, str]:
    """The likely mistake behind a wrong percentile: what the value is, and the hint for it."""
    ok = sorted(r.latency for r in records if r.ok)
    every = sorted(r.latency for r in records)
    with_200 = sorted(r.latency for r in records if r.status == 200)
    rank = math.ceil(p * len(ok) / 100)
    guesses = [
        (nearest_rank(with_200, p) if with_200 and with_200 != ok else None,
         "the value with every status-200 attempt counted, including ones whose stream broke (error set)",
         BROKEN_STREAM),
        (nearest_rank(every, p) if every != ok else None, "the value with failed attempts counted", FAILED_COUNTED),
        (ok[rank] if rank < len(ok) else None, f"the value one rank too high (rank {rank + 1} of {len(ok)})",
         OFF_BY_ONE),
        (ok[rank - 2] if rank >= 2 else None, f"the value one rank too low (rank {rank - 1} of {len(ok)})", OFF_BY_ONE),
        (sum(ok) / len(ok), "the mean", NOT_THE_MEAN),
        (_interpolated(ok, p), "an interpolated percentile (numpy's default)", NEAREST_RANK),
    ]
    for value, meaning, hint in guesses:
        if value is not None and close(got, value):
            return f"; that is {meaning}", hint
    return "", NEAREST_RANK


def _compare_report(report: Report, fn: Callable[..., Any], log: list[RequestRecord] | tuple[RequestRecord, ...],
                    what: str) -> None:
    records = copies(log)
    want = reference_percentiles(records)
    given = copies(log)
    got = report.call(fn, given)
    report.expect(given == records, f"{what}: the log was changed (sorted or filtered in place); "
                                    "a report must leave the log it reads as it was", hint=LEFT_AS_IT_WAS)
    report.expect(isinstance(got, Mapping), f"{what}: should return a dict {{50: ..., 90: ..., 99: ...}}, "
                                            f"got {type(got).__name__}")
    missing = [p for p in PERCENTILES if p not in got]
    report.expect(not missing, f"{what}: the dict has no key {', '.join(map(str, missing))} "
                               f"(keys are the ints 50, 90 and 99; got keys {list(got)[:5]!r})")
    n = sum(r.ok for r in records)
    for p in PERCENTILES:
        value = got[p]
        if as_number(value) is None:
            report.expect(False, f"{what}: p{p} should be a number of seconds, got {type(value).__name__} {value!r}")
        if not close(value, want[p]):
            meaning, hint = _explain(records, p, float(value))
            report.expect(False, f"{what}: p{p} should be {want[p]:.4f} s (nearest rank among {n} successful "
                                 f"attempts), got {float(value):.4f}{meaning}", hint=hint)


def _raises_value_error(report: Report, fn: Callable[..., Any], records: list[RequestRecord], what: str) -> None:
    def attempt() -> tuple[str, Any]:
        try:
            return "returned", fn(records)
        except ValueError as err:
            return "raised", err
        except (IndexError, ZeroDivisionError, KeyError) as err:  # indexing an empty list: the check was left out
            return "crashed", err

    outcome, value = report.call(attempt)
    report.expect(outcome == "raised", f"{what}: should raise ValueError (there is no latency to report), but "
                                       + (f"raised {type(value).__name__}: {value}" if outcome == "crashed"
                                          else f"returned {value!r}"), hint=RAISE_WHEN_EMPTY)


@register("latency-percentiles")
def check_percentiles(fn: Callable[..., Any], report: Report) -> None:
    with report.case("a calm log (claude-strong, a call every 20 s for 40 minutes): p50, p90 and p99 by nearest rank"):
        _compare_report(report, fn, probe_log(54, "calm", "claude-strong"), "calm, seed 54, claude-strong")
    with report.case("logs from other seeds, models and scenarios (calm and latency-drift)"):
        for seed, scenario, model, max_tokens in ((55, "calm", "gpt-fast", 8), (51, "latency-drift", "gpt-fast", 8),
                                                  (52, "latency-drift", "claude-fast", 300)):
            _compare_report(report, fn, probe_log(seed, scenario, model, max_tokens=max_tokens),
                            f"{scenario}, seed {seed}, {model}")
    with report.case("failed attempts are left out: 503 and 529 overloads, connection resets, timeouts (status None)"):
        for seed, model in ((45, "gpt-fast"), (46, "claude-fast")):
            _compare_report(report, fn, probe_log(seed, "overloaded", model, timeout=2.5),
                            f"overloaded, seed {seed}, {model}, timeout 2.5 s")
    with report.case("a 200 whose stream broke midway (status 200, error set) is a failure too"):
        log = steady_records(0, 600, 10, wobble)
        log += [failed_record(600 + 10 * i, 40.0 + i, status=200, error="stream error") for i in range(5)]
        log += [failed_record(650 + 10 * i, 30.0, status=200, error="timeout") for i in range(3)]
        _compare_report(report, fn, log, "60 successes, 8 broken streams")
    with report.case("a log with long idle stretches gives the percentiles of its calls, gaps and all"):
        _compare_report(report, fn, probe_log(58, "calm", "claude-fast", idle=((10, 55),), minutes=70),
                        "calm, seed 58, idle from minute 10 to 55")
    with report.case("tiny logs: one record, and two (where p50 is the faster, with no interpolation)"):
        _compare_report(report, fn, [ok_record(0.0, 1.25)], "one record")
        two = [ok_record(0.0, 2.0), ok_record(5.0, 0.5),
               failed_record(9.0, 0.01, status=429, error="rate_limit_exceeded")]
        _compare_report(report, fn, two, "two successes and a 429")
    with report.case("an empty log, and a log of failures only, raise ValueError"):
        _raises_value_error(report, fn, [], "an empty log")
        _raises_value_error(report, fn, [failed_record(0.0, 0.02, status=429, error="rate_limit_exceeded"),
                                         failed_record(1.0, 30.0, status=None, error="timeout"),
                                         failed_record(40.0, 0.05, status=None, error="connection reset")],
                            "a 429, a timeout and a reset")


mistakes(
    "latency-percentiles",
    Mistake("counts failed attempts too", (("for record in records if record.ok)", "for record in records)"),),
            FAILED_COUNTED),
    Mistake("takes status 200 for success", (("if record.ok)", "if record.status == 200)"),), BROKEN_STREAM),
    Mistake("indexes the rank from 0",
            (("latencies[math.ceil(p * n / 100) - 1]", "latencies[math.ceil(p * n / 100)]"),),
            OFF_BY_ONE),
    Mistake("rounds the rank down", (("latencies[math.ceil(p * n / 100) - 1]", "latencies[int(p * n / 100)]"),),
            OFF_BY_ONE),
    Mistake("interpolates between ranks", (("latencies[math.ceil(p * n / 100) - 1]",
                                            "latencies[int((n - 1) * p / 100)] + ((n - 1) * p / 100 % 1) * "
                                            "(latencies[min(int((n - 1) * p / 100) + 1, n - 1)] "
                                            "- latencies[int((n - 1) * p / 100)])"),), NEAREST_RANK),
    Mistake("reports the mean", (("latencies[math.ceil(p * n / 100) - 1]", "sum(latencies) / n"),), NOT_THE_MEAN),
    Mistake("sorts the log in place", (("    latencies = sorted(record.latency for record in records if record.ok)",
                                        "    records.sort(key=lambda r: r.latency)\n"
                                        "    latencies = [record.latency for record in records if record.ok]"),),
            LEFT_AS_IT_WAS),
    Mistake("does not check for an empty log",
            (("    if not latencies:\n        raise ValueError(", "    if False:\n        raise ValueError("),),
            RAISE_WHEN_EMPTY),
)

