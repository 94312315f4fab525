"""Checks for the lesson "Latency and randomness" (book/tier1/latency.md).

Both exercises are pure functions over a request log, so the logs are built
here, once, by running seeded worlds in virtual time (and by writing a few
`RequestRecord` lists by hand for the edge cases), and each expected answer
comes from the reference implementations below. The learner's function gets
copies, runs under a step budget (a pure function cannot be stopped by a
world's limits), and is compared field by field with a reason for every miss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import httpx2

from ..service.latency import LatencyModel
from ..service.records import RequestRecord
from ..world import World
from ._helpers import as_number, copies, nearest_rank
from ._framework import Mistake, Report, mistakes, register

PERCENTILES = (50, 90, 99)
_QUESTION = "How should I paginate through 10,000 invoices?"


# -- reference implementations -------------------------------------------------------------------------------

def reference_percentiles(records: list[RequestRecord]) -> dict[int, float]:
    """What a correct `percentile_report` returns."""
    values = sorted(r.latency for r in records if r.ok)
    if not values:
        raise ValueError("no successful attempts in the log")
    return {p: nearest_rank(values, p) for p in PERCENTILES}


def _windows(records: list[RequestRecord], window: float) -> dict[int, list[float]]:
    found: dict[int, list[float]] = {}
    for record in records:
        if record.ok:
            found.setdefault(int(record.start // window), []).append(record.latency)
    return found


def reference_drift(records: list[RequestRecord], *, window: float = 300.0, factor: float = 3.0,
                    min_samples: int = 10) -> list[float]:
    """What a correct `detect_drift` returns."""
    windows = _windows(records, window)
    full = sorted(k for k, values in windows.items() if len(values) >= min_samples)
    if not full:
        return []
    baseline = nearest_rank(sorted(windows[full[0]]), 50)
    return [k * window for k in full if nearest_rank(sorted(windows[k]), 50) > factor * baseline]


# -- logs ---------------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def probe_log(seed: int, scenario: str, model: str, *, minutes: float = 40.0, every: float = 20.0,
              max_tokens: int = 300, timeout: float | None = None,
              idle: tuple[tuple[float, float], ...] = ()) -> tuple[RequestRecord, ...]:
    """A canary's log: a request to `model` every `every` seconds (or as soon as the last one ends), for `minutes`.

    `idle=((a, b), ...)` leaves minutes a to b without traffic. Failures are caught and logged, as a canary's are.
    """
    world = World(seed=seed, scenario=scenario)
    # The canary posts each API's JSON through the client's own HTTP layer, skipping the SDK's request building
    # and response parsing (a tenth of the time): the world logs exactly the records an SDK canary gets
    # (tests/test_mistakes.py runs these checks; the logs were compared record for record when this changed).
    on_openai = world.catalog[model].provider == "openai"
    sdk: Any = world.openai() if on_openai else world.anthropic()
    url = str(sdk.base_url).rstrip("/") + ("/chat/completions" if on_openai else "/v1/messages")
    body = {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": _QUESTION}]}
    headers = {"authorization": "Bearer x"} if on_openai else {"x-api-key": "x", "anthropic-version": "2023-06-01"}
    limit = httpx2.Timeout(600.0, connect=5.0) if timeout is None else httpx2.Timeout(timeout)  # as the SDKs send it
    while world.clock.now() < minutes * 60:
        quiet = [b for a, b in idle if a * 60 <= world.clock.now() < b * 60]
        if quiet:
            world.clock.sleep(quiet[0] * 60 - world.clock.now())
            continue
        start = world.clock.now()
        try:
            sdk._client.post(url, json=body, headers=headers, timeout=limit)
        except httpx2.HTTPError:
            pass  # a reset or a timeout: the world logged it, as a canary's log does
        world.clock.sleep(max(0.0, start + every - world.clock.now()))
    return tuple(world.requests)


def _ok(start: float, latency: float, model: str = "gpt-fast") -> RequestRecord:
    return RequestRecord("openai", model, "chat.completions", start, status=200, latency=latency,
                         input_tokens=14, output_tokens=97, stop_reason="stop")


def _failed(start: float, latency: float, *, status: int | None, error: str) -> RequestRecord:
    return RequestRecord("openai", "gpt-fast", "chat.completions", start, status=status, error=error, latency=latency)


def _steady(start: float, end: float, every: float, latency: Callable[[int], float]) -> list[RequestRecord]:
    """Successful attempts every `every` seconds in [start, end), the i-th taking latency(i) seconds."""
    count = int(round((end - start) / every))
    return [_ok(start + i * every, latency(i)) for i in range(count)]


def _wobble(i: int) -> float:
    """A calm, deterministic spread of latencies around 1 s."""
    return 0.8 + 0.05 * ((i * 7) % 9)


# -- running learner code -------------------------------------------------------------------------------------

def _close(value: Any, expected: float) -> bool:
    number = as_number(value)
    return number is not None and math.isclose(number, expected, rel_tol=1e-9, abs_tol=1e-12)


# -- exercise 1: the percentile report ----------------------------------------------------------------------------

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
        (ok[rank] if rank < len(ok) else None, f"the value one rank too high (rank {rank + 1} of {len(ok)})", OFF_BY_ONE),
        (ok[rank - 2] if rank >= 2 else None, f"the value one rank too low (rank {rank - 1} of {len(ok)})", OFF_BY_ONE),
        (sum(ok) / len(ok), "the mean", NOT_THE_MEAN),
        (_interpolated(ok, p), "an interpolated percentile (numpy's default)", NEAREST_RANK),
    ]
    for value, meaning, hint in guesses:
        if value is not None and _close(got, value):
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
        if not _close(value, want[p]):
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
        log = _steady(0, 600, 10, _wobble)
        log += [_failed(600 + 10 * i, 40.0 + i, status=200, error="stream error") for i in range(5)]
        log += [_failed(650 + 10 * i, 30.0, status=200, error="timeout") for i in range(3)]
        _compare_report(report, fn, log, "60 successes, 8 broken streams")
    with report.case("a log with long idle stretches gives the percentiles of its calls, gaps and all"):
        _compare_report(report, fn, probe_log(58, "calm", "claude-fast", idle=((10, 55),), minutes=70),
                        "calm, seed 58, idle from minute 10 to 55")
    with report.case("tiny logs: one record, and two (where p50 is the faster, with no interpolation)"):
        _compare_report(report, fn, [_ok(0.0, 1.25)], "one record")
        two = [_ok(0.0, 2.0), _ok(5.0, 0.5), _failed(9.0, 0.01, status=429, error="rate_limit_exceeded")]
        _compare_report(report, fn, two, "two successes and a 429")
    with report.case("an empty log, and a log of failures only, raise ValueError"):
        _raises_value_error(report, fn, [], "an empty log")
        _raises_value_error(report, fn, [_failed(0.0, 0.02, status=429, error="rate_limit_exceeded"),
                                         _failed(1.0, 30.0, status=None, error="timeout"),
                                         _failed(40.0, 0.05, status=None, error="connection reset")],
                            "a 429, a timeout and a reset")


mistakes(
    "latency-percentiles",
    Mistake("counts failed attempts too", (("for record in records if record.ok)", "for record in records)"),),
            FAILED_COUNTED),
    Mistake("takes status 200 for success", (("if record.ok)", "if record.status == 200)"),), BROKEN_STREAM),
    Mistake("indexes the rank from 0", (("latencies[math.ceil(p * n / 100) - 1]", "latencies[math.ceil(p * n / 100)]"),),
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
    Mistake("does not check for an empty log", (("    if not latencies:\n        raise ValueError(", "    if False:\n        raise ValueError("),),
            RAISE_WHEN_EMPTY),
)


# -- exercise 2: the drift detector -------------------------------------------------------------------------------

def _median_of(records: list[RequestRecord], k: int, window: float) -> tuple[float, int]:
    values = sorted(_windows(records, window).get(k, []))
    return (nearest_rank(values, 50) if values else math.nan), len(values)


def _describe(records: list[RequestRecord], starts: list[float], window: float, factor: float,
              min_samples: int) -> str:
    windows = _windows(records, window)
    full = sorted(k for k, values in windows.items() if len(values) >= min_samples)
    baseline = nearest_rank(sorted(windows[full[0]]), 50) if full else math.nan
    parts = [f"baseline {baseline:.3f} s (window at {full[0] * window:g} s), threshold {factor * baseline:.3f} s"
             if full else "no window has enough samples"]
    for start in starts[:2]:
        median, n = _median_of(records, int(start // window), window)
        parts.append(f"window at {start:g} s: median {median:.3f} s of {n} successful attempts")
    return "; ".join(parts)


RELATIVE = ("Compare each window's median with the baseline window's median times factor, not with a fixed "
            "number of seconds: a slow model's normal is a fast model's alarm.")
TAIL = "Only a window's median counts; a few very slow calls are the normal tail."
MEDIAN_NOT_MEAN = "Use the median (your percentile_report's p50), not the mean: the mean follows the tail."
MIN_SAMPLES = "The baseline is the first window with at least min_samples successful attempts; skip the others."
ALIGNED = ("Group records by int(record.start // window): window k starts at k * window, whenever the first record "
           "came, and windows with no records never appear.")
ONLY_OK = ("Filter on record.ok before grouping: a 429 answers in milliseconds, a timeout takes as long as the "
           "timeout, and neither is a latency the model delivered.")
OPTIONS = "Use the window, factor and min_samples the caller passes, not the defaults."
AT_LEAST = "A window with exactly min_samples successful attempts is full: len(...) >= min_samples, not >."
OWN_MIN_SAMPLES = "Use the min_samples the caller passes to decide which windows are full, not the default of 10."
BY_START = ("A record belongs to the window its start falls in, int(record.start // window), not the window it "
            "ended in: a slow call started before a boundary is that window's latency.")
IN_ORDER = ("Take the windows in time order (sorted window numbers): the log need not be in start order, and the "
            "baseline is the earliest full window.")
STRICTLY_MORE = "'More than factor times the baseline' is strict: a median exactly factor x baseline has not drifted."
START_TIMES = "Return each drifted window's start time in seconds, k * window, not its number k."
NOTHING = "With no successful attempts there is no baseline: return an empty list."


def _compare_drift(report: Report, fn: Callable[..., Any], log: list[RequestRecord] | tuple[RequestRecord, ...],
                   what: str, *, hint: str, **options: Any) -> list[float]:
    """`hint` is the mistake a wrong answer most likely comes from in this case."""
    records = copies(log)
    want = reference_drift(records, **options)

    def attempt() -> tuple[bool, Any]:
        try:
            return True, fn(copies(log), **options)
        except (ValueError, IndexError, KeyError, ZeroDivisionError) as err:
            return False, err

    returned, got = report.call(attempt)
    report.expect(returned, f"{what}: raised {type(got).__name__}: {got}", hint=hint)
    report.expect(isinstance(got, (list, tuple)), f"{what}: should return a list of window start times, "
                                                  f"got {type(got).__name__} {got!r:.80}")
    numbers = [as_number(t) for t in got]
    report.expect(None not in numbers,
                  f"{what}: every item should be a window's start time in seconds, got {got!r:.120}")
    window = options.get("window", 300.0)
    factor, min_samples = options.get("factor", 3.0), options.get("min_samples", 10)
    if want and numbers and None not in numbers:
        report.expect(not all(math.isclose(t, w / window, abs_tol=1e-6) for t, w in zip(numbers, want)),
                      f"{what}: reported {_short(numbers)}, the window numbers; expected their start times "
                      f"{_short(want)}", hint=START_TIMES)
    extra = [t for t in numbers if not any(math.isclose(t, w, abs_tol=1e-6) for w in want)]
    missed = [w for w in want if not any(math.isclose(t, w, abs_tol=1e-6) for t in numbers)]
    if extra:
        report.expect(False, f"{what}: reported {extra[0]:g} s, which is not a drifted window "
                             f"(expected {_short(want)}; {_describe(records, extra, window, factor, min_samples)})",
                      hint=hint)
    if missed:
        report.expect(False, f"{what}: missed the window at {missed[0]:g} s (expected {_short(want)}, got "
                             f"{_short(numbers)}; {_describe(records, missed, window, factor, min_samples)})",
                      hint=hint)
    report.expect(len(numbers) == len(want) and numbers == sorted(numbers),
                  f"{what}: expected each window once, in order: {_short(want)}, got {_short(numbers)}")
    return want


def _short(starts: list[float]) -> str:
    shown = ", ".join(f"{t:g}" for t in starts[:8])
    return f"[{shown}{', ...' if len(starts) > 8 else ''}]"


@register("latency-drift")
def check_drift(fn: Callable[..., Any], report: Report) -> None:
    with report.case("a drift is caught while latency is still rising (latency-drift, three seeds and models)"):
        for seed, model, max_tokens in ((51, "gpt-fast", 8), (52, "claude-fast", 300), (53, "claude-strong", 300)):
            what = f"latency-drift, seed {seed}, {model}"
            log = probe_log(seed, "latency-drift", model, max_tokens=max_tokens)
            rise = LatencyModel(seed, drift=True).rise_seconds
            got = report.call(fn, copies(log))
            report.expect(isinstance(got, (list, tuple)) and len(got) > 0,
                          f"{what}: latency rose {LatencyModel(seed, drift=True).peak:.1f}x over "
                          f"{rise / 60:.0f} minutes and the detector reported {got!r:.60}", hint=RELATIVE)
            first = as_number(got[0])
            report.expect(first is not None and first < rise,
                          f"{what}: the first window reported, {got[0]!r}, is not within the rise "
                          f"(the first {rise:.0f} s)", hint=RELATIVE)
            _compare_drift(report, fn, log, what, hint=RELATIVE)
    with report.case("no false alarm on a calm day, heavy tail included (calm, three seeds and models)"):
        for seed, model, max_tokens in ((54, "claude-strong", 300), (55, "gpt-fast", 8), (56, "claude-fast", 300)):
            _compare_drift(report, fn, probe_log(seed, "calm", model, max_tokens=max_tokens),
                           f"calm, seed {seed}, {model}", hint=TAIL)
    with report.case("a few very slow calls in every window do not raise an alarm (the median holds, the mean moves)"):
        log = _steady(0, 300, 15, _wobble)
        log += [_ok(t, 20.0 if i % 20 in (3, 9, 15) else _wobble(i)) for i, t in
                enumerate(range(300, 1800, 15))]
        _compare_drift(report, fn, log, "3 of every 20 calls at 20 s after the first window", hint=MEDIAN_NOT_MEAN)
    with report.case("windows with too few successful attempts are skipped, for the baseline too"):
        log = [_ok(10.0 * i, 0.2) for i in range(4)]  # a quiet first window: 4 fast calls
        log += _steady(300, 1800, 20, _wobble) + [_ok(1800.0, 9.0), _ok(1850.0, 9.5)]
        _compare_drift(report, fn, log, "4 calls in the first window, 2 slow ones in the last", hint=MIN_SAMPLES)
    with report.case("min_samples is honoured, and a window with exactly min_samples attempts is full"):
        log = [_ok(30.0 * i, 0.5) for i in range(9)] + [_ok(300.0 + 30.0 * i, 2.0) for i in range(9)]
        _compare_drift(report, fn, log, "min_samples=8, 9 fast calls then 9 slow ones", hint=OWN_MIN_SAMPLES,
                       min_samples=8)
        log = [_ok(20.0 * i, 0.5) for i in range(10)] + [_ok(300.0 + 20.0 * i, 2.0) for i in range(10)]
        _compare_drift(report, fn, log, "10 fast calls then 10 slow ones (min_samples 10)", hint=AT_LEAST)
    with report.case("a record counts in the window it started in; windows in time order; 'more than' is strict"):
        log = [_ok(20.0 * i, 0.5) for i in range(10)] + [_ok(300.0 + 20.0 * i, 0.5) for i in range(10)]
        log += [_ok(590.0 + 0.5 * i, 20.0) for i in range(11)] + [_ok(600.0 + 20.0 * i, 0.5) for i in range(10)]
        _compare_drift(report, fn, log, "11 slow calls starting in the last 10 s before 600 s", hint=BY_START)
        log = [_ok(20.0 * i, 0.5) for i in range(10)] + [_ok(300.0 + 20.0 * i, 2.0) for i in range(10)]
        _compare_drift(report, fn, log[::-1], "a log in reverse start order", hint=IN_ORDER)
        log = [_ok(20.0 * i, 1.0) for i in range(10)] + [_ok(300.0 + 20.0 * i, 3.0) for i in range(10)]
        _compare_drift(report, fn, log, "a window whose median is exactly 3 x the baseline's", hint=STRICTLY_MORE)
    with report.case("logs with idle stretches: empty windows are skipped, windows stay aligned to multiples of "
                     "window, drift after the gap is caught"):
        _compare_drift(report, fn, probe_log(57, "latency-drift", "gpt-fast", idle=((0, 3.5), (8, 22)), minutes=40),
                       "latency-drift, seed 57, first call at 210 s, idle from minute 8 to 22", hint=ALIGNED)
        _compare_drift(report, fn, probe_log(58, "calm", "claude-fast", idle=((10, 55),), minutes=70),
                       "calm, seed 58, idle from minute 10 to 55", hint=ALIGNED)
    with report.case("failed attempts are left out: 429s in the baseline window, timeouts later"):
        log = _steady(0, 1800, 15, _wobble)
        log += [_failed(2.0 + 10 * i, 0.02, status=429, error="rate_limit_exceeded") for i in range(25)]
        log += [_failed(902.0 + 10 * i, 30.0, status=None, error="timeout") for i in range(25)]
        log += [_failed(1202.0 + 10 * i, 30.0, status=200, error="timeout") for i in range(25)]  # streams that stalled
        log.sort(key=lambda r: r.start)
        _compare_drift(report, fn, log, "steady successes, 25 quick 429s, 25 timeouts, 25 stalled streams (status 200)",
                       hint=ONLY_OK)
        _compare_drift(report, fn, probe_log(59, "bad-day", "gpt-fast"),
                       "bad-day, seed 59, gpt-fast (drift, overloads and resets)", hint=ONLY_OK)
    with report.case("window, factor and min_samples are honoured (window=600, factor=2, min_samples=5)"):
        _compare_drift(report, fn, probe_log(51, "latency-drift", "gpt-fast", max_tokens=8),
                       "latency-drift, seed 51, 10-minute windows", hint=OPTIONS, window=600.0, factor=2.0,
                       min_samples=5)
    with report.case("an empty log, and a log of failures only, report nothing"):
        _compare_drift(report, fn, [], "an empty log", hint=NOTHING)
        _compare_drift(report, fn, [_failed(10.0 * i, 30.0, status=None, error="timeout") for i in range(30)],
                       "30 timeouts", hint=ONLY_OK)


mistakes(
    "latency-drift",
    Mistake("compares with a fixed number of seconds", (("> factor * baseline", "> factor"),), RELATIVE),
    Mistake("compares window means", (("baseline = percentile_report(windows[full[0]])[50]",
                                       "baseline = sum(r.latency for r in windows[full[0]]) / len(windows[full[0]])"),
                                      ("if percentile_report(windows[k])[50] > factor",
                                       "if sum(r.latency for r in windows[k]) / len(windows[k]) > factor")),
            MEDIAN_NOT_MEAN),
    Mistake("takes the first window as the baseline, however few its samples",
            (("baseline = percentile_report(windows[full[0]])[50]", "baseline = percentile_report(windows[min(windows)])[50]"),),
            MIN_SAMPLES),
    Mistake("counts windows from the first record", (("int(record.start // window)",
                                                      "int((record.start - records[0].start) // window)"),), ALIGNED),
    Mistake("groups failed attempts too", (("        if record.ok:\n            windows", "        if True:\n            windows"),),
            ONLY_OK),
    Mistake("uses five-minute windows whatever window says", (("int(record.start // window)", "int(record.start // 300)"),),
            OPTIONS),
    Mistake("ignores min_samples (always 10)", (("len(windows[k]) >= min_samples", "len(windows[k]) >= 10"),),
            OWN_MIN_SAMPLES),
    Mistake("needs more than min_samples", (("len(windows[k]) >= min_samples", "len(windows[k]) > min_samples"),),
            AT_LEAST),
    Mistake("groups records by when they ended", (("int(record.start // window)",
                                                   "int((record.start + record.latency) // window)"),), BY_START),
    Mistake("takes the windows in log order", (("full = [k for k in sorted(windows)", "full = [k for k in windows"),),
            IN_ORDER),
    Mistake("alarms at exactly factor times the baseline", (("> factor * baseline", ">= factor * baseline"),),
            STRICTLY_MORE),
    Mistake("returns window numbers, not start times", (("return [k * window for k in full", "return [float(k) for k in full"),),
            START_TIMES),
    Mistake("alarms at any window slower than the baseline", (("> factor * baseline", "> baseline"),), TAIL),
)
