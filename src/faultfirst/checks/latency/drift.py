"""The check of latency-drift, and the mistakes it is tested against."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ...service.latency import LatencyModel
from ...service.records import RequestRecord
from .._framework import Mistake, Report, mistakes, register
from .._helpers import as_number, copies, nearest_rank
from .logs import by_window, failed_record, ok_record, probe_log, reference_drift, steady_records, wobble


def _median_of(records: list[RequestRecord], k: int, window: float) -> tuple[float, int]:
    values = sorted(by_window(records, window).get(k, []))
    return (nearest_rank(values, 50) if values else math.nan), len(values)


def _describe(records: list[RequestRecord], starts: list[float], window: float, factor: float,
              min_samples: int) -> str:
    windows = by_window(records, window)
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
    starts = [t for t in numbers if t is not None]  # all of them: expect() ended the case otherwise
    window = options.get("window", 300.0)
    factor, min_samples = options.get("factor", 3.0), options.get("min_samples", 10)
    if want and starts:
        report.expect(not all(math.isclose(t, w / window, abs_tol=1e-6) for t, w in zip(starts, want, strict=False)),
                      f"{what}: reported {_short(starts)}, the window numbers; expected their start times "
                      f"{_short(want)}", hint=START_TIMES)
    extra = [t for t in starts if not any(math.isclose(t, w, abs_tol=1e-6) for w in want)]
    missed = [w for w in want if not any(math.isclose(t, w, abs_tol=1e-6) for t in starts)]
    if extra:
        report.expect(False, f"{what}: reported {extra[0]:g} s, which is not a drifted window "
                             f"(expected {_short(want)}; {_describe(records, extra, window, factor, min_samples)})",
                      hint=hint)
    if missed:
        report.expect(False, f"{what}: missed the window at {missed[0]:g} s (expected {_short(want)}, got "
                             f"{_short(starts)}; {_describe(records, missed, window, factor, min_samples)})",
                      hint=hint)
    report.expect(len(starts) == len(want) and starts == sorted(starts),
                  f"{what}: expected each window once, in order: {_short(want)}, got {_short(starts)}")
    return want


def _short(starts: list[float]) -> str:
    shown = ", ".join(f"{t:g}" for t in starts[:8])
    return f"[{shown}{', ...' if len(starts) > 8 else ''}]"


@register("latency-drift")
def check_drift(fn: Callable[..., Any], report: Report) -> None:
    with report.case("a drift is caught while latency is still rising (latency-drift, three seeds and models)"):
        for seed, model, max_tokens in ((51, "gpt-fast", 8), (52, "claude-fast", 300), (53, "claude-strong", 300)):
            what = f"latency-drift, seed {seed}, {model}"
            probed = probe_log(seed, "latency-drift", model, max_tokens=max_tokens)
            rise = LatencyModel(seed, drift=True).rise_seconds
            got = report.call(fn, copies(probed))
            report.expect(isinstance(got, (list, tuple)) and len(got) > 0,
                          f"{what}: latency rose {LatencyModel(seed, drift=True).peak:.1f}x over "
                          f"{rise / 60:.0f} minutes and the detector reported {got!r:.60}", hint=RELATIVE)
            first = as_number(got[0])
            report.expect(first is not None and first < rise,
                          f"{what}: the first window reported, {got[0]!r}, is not within the rise "
                          f"(the first {rise:.0f} s)", hint=RELATIVE)
            _compare_drift(report, fn, probed, what, hint=RELATIVE)
    with report.case("no false alarm on a calm day, heavy tail included (calm, three seeds and models)"):
        for seed, model, max_tokens in ((54, "claude-strong", 300), (55, "gpt-fast", 8), (56, "claude-fast", 300)):
            _compare_drift(report, fn, probe_log(seed, "calm", model, max_tokens=max_tokens),
                           f"calm, seed {seed}, {model}", hint=TAIL)
    with report.case("a few very slow calls in every window do not raise an alarm (the median holds, the mean moves)"):
        log = steady_records(0, 300, 15, wobble)
        log += [ok_record(t, 20.0 if i % 20 in (3, 9, 15) else wobble(i)) for i, t in
                enumerate(range(300, 1800, 15))]
        _compare_drift(report, fn, log, "3 of every 20 calls at 20 s after the first window", hint=MEDIAN_NOT_MEAN)
    with report.case("windows with too few successful attempts are skipped, for the baseline too"):
        log = [ok_record(10.0 * i, 0.2) for i in range(4)]  # a quiet first window: 4 fast calls
        log += steady_records(300, 1800, 20, wobble) + [ok_record(1800.0, 9.0), ok_record(1850.0, 9.5)]
        _compare_drift(report, fn, log, "4 calls in the first window, 2 slow ones in the last", hint=MIN_SAMPLES)
    with report.case("min_samples is honoured, and a window with exactly min_samples attempts is full"):
        log = [ok_record(30.0 * i, 0.5) for i in range(9)] + [ok_record(300.0 + 30.0 * i, 2.0) for i in range(9)]
        _compare_drift(report, fn, log, "min_samples=8, 9 fast calls then 9 slow ones", hint=OWN_MIN_SAMPLES,
                       min_samples=8)
        log = [ok_record(20.0 * i, 0.5) for i in range(10)] + [ok_record(300.0 + 20.0 * i, 2.0) for i in range(10)]
        _compare_drift(report, fn, log, "10 fast calls then 10 slow ones (min_samples 10)", hint=AT_LEAST)
    with report.case("a record counts in the window it started in; windows in time order; 'more than' is strict"):
        log = [ok_record(20.0 * i, 0.5) for i in range(10)] + [ok_record(300.0 + 20.0 * i, 0.5) for i in range(10)]
        log += [ok_record(590.0 + 0.5 * i, 20.0) for i in range(11)] + [ok_record(600.0 + 20.0 * i,
                                                                                  0.5) for i in range(10)]
        _compare_drift(report, fn, log, "11 slow calls starting in the last 10 s before 600 s", hint=BY_START)
        log = [ok_record(20.0 * i, 0.5) for i in range(10)] + [ok_record(300.0 + 20.0 * i, 2.0) for i in range(10)]
        _compare_drift(report, fn, log[::-1], "a log in reverse start order", hint=IN_ORDER)
        log = [ok_record(20.0 * i, 1.0) for i in range(10)] + [ok_record(300.0 + 20.0 * i, 3.0) for i in range(10)]
        _compare_drift(report, fn, log, "a window whose median is exactly 3 x the baseline's", hint=STRICTLY_MORE)
    with report.case("logs with idle stretches: empty windows are skipped, windows stay aligned to multiples of "
                     "window, drift after the gap is caught"):
        _compare_drift(report, fn, probe_log(57, "latency-drift", "gpt-fast", idle=((0, 3.5), (8, 22)), minutes=40),
                       "latency-drift, seed 57, first call at 210 s, idle from minute 8 to 22", hint=ALIGNED)
        _compare_drift(report, fn, probe_log(58, "calm", "claude-fast", idle=((10, 55),), minutes=70),
                       "calm, seed 58, idle from minute 10 to 55", hint=ALIGNED)
    with report.case("failed attempts are left out: 429s in the baseline window, timeouts later"):
        log = steady_records(0, 1800, 15, wobble)
        log += [failed_record(2.0 + 10 * i, 0.02, status=429, error="rate_limit_exceeded") for i in range(25)]
        log += [failed_record(902.0 + 10 * i, 30.0, status=None, error="timeout") for i in range(25)]
        log += [failed_record(1202.0 + 10 * i, 30.0, status=200,
                              error="timeout") for i in range(25)]  # streams that stalled
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
        _compare_drift(report, fn, [failed_record(10.0 * i, 30.0, status=None, error="timeout") for i in range(30)],
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
            (("baseline = percentile_report(windows[full[0]])[50]",
              "baseline = percentile_report(windows[min(windows)])[50]"),),
            MIN_SAMPLES),
    Mistake("counts windows from the first record", (("int(record.start // window)",
                                                      "int((record.start - records[0].start) // window)"),), ALIGNED),
    Mistake("groups failed attempts too",
            (("        if record.ok:\n            windows", "        if True:\n            windows"),),
            ONLY_OK),
    Mistake("uses five-minute windows whatever window says",
            (("int(record.start // window)", "int(record.start // 300)"),),
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
    Mistake("returns window numbers, not start times",
            (("return [k * window for k in full", "return [float(k) for k in full"),),
            START_TIMES),
    Mistake("alarms at any window slower than the baseline", (("> factor * baseline", "> baseline"),), TAIL),
)
