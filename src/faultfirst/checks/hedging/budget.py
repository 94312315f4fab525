"""The check of hedging-budget, and the mistakes it is tested against.

It drives the learner's `HedgePolicy` with scripted latencies (pure cases) and with steady traffic whose
attempt times come from the latency model, calm and drifting, through a reference hedged call.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from .._async import quiet_world, run_in_world
from .._framework import Mistake, Report, mistakes, register
from .._helpers import as_number, nearest_rank, spread
from .hints import (
    BUDGET_REFILLS,
    BUDGET_SHARE,
    BUDGET_SPENT,
    MIN_SAMPLES,
    NEAREST_RANK,
    OWN_BUDGET,
    OWN_MIN_SAMPLES,
    OWN_WINDOW,
    USE_PERCENTILE,
    WINDOW_LATENCIES,
)
from .scripted import Script, reference_hedged
from .traffic import modelled_plans, sequential


def _delay_value(value: Any) -> float | None:
    number = as_number(value)
    return None if number is None or math.isnan(number) or number < 0 else number


def _new_policy(report: Report, cls: Callable[..., Any], **options: Any) -> Any:
    policy = report.call(cls, **options)
    for name in ("delay", "record"):
        report.expect(callable(getattr(policy, name, None)), f"a HedgePolicy needs a `{name}` method")
    return policy


def _ask(report: Report, policy: Any, *, hint: str | None = None) -> float:
    """policy.delay(); an exception it raises fails the case with `hint` (a policy that cannot answer yet)."""
    value, err = report.outcome(policy.delay)
    report.expect(err is None, f"delay() raised {type(err).__name__}: {err}", hint=hint)
    delay = _delay_value(value)
    report.expect(delay is not None, f"delay() should return a number of seconds >= 0 (or math.inf), got {value!r}")
    return delay  # type: ignore[return-value]


def _feed(report: Report, policy: Any, latencies: list[float], hedged: bool | list[bool] = False) -> None:
    flags = hedged if isinstance(hedged, list) else [hedged] * len(latencies)
    record = policy.record
    for latency, flag in zip(latencies, flags, strict=False):
        report.call(record, latency, hedged=flag)


_spread = partial(spread, low=1.0,
                  step=0.01)  # n distinct latencies from 1 s up, 10 ms apart, in a fixed shuffled order


class _BadDelay(TypeError):
    """The policy gave something that is not a delay."""


@dataclass
class _Traffic:
    latencies: list[float]
    unhedged: list[float]
    hedged: list[bool]
    bad_delays: list[Any]


def _traffic(report: Report, cls: Callable[..., Any], *, seed: int, drift: bool, every: float,
             calls: int) -> _Traffic:
    """One call every `every` seconds, each hedged after the delay the policy gives when it starts.

    Attempts are timed by the world's latency model (first attempts and hedges from separate streams), so
    each call's unhedged latency is its first attempt's.
    """
    policy = _new_policy(report, cls)
    world = quiet_world(seed=seed, max_attempts=10, max_seconds=every * calls + 3600)
    draw = modelled_plans(seed, drift=drift)
    latencies, unhedged, hedged = [0.0] * calls, [0.0] * calls, [False] * calls
    bad: list[Any] = []
    delay_of, record = policy.delay, policy.record

    async def one(i: int) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(i * every)
        value = delay_of()
        delay = _delay_value(value)
        if delay is None:
            bad.append(value)
            raise _BadDelay(f"delay() returned {value!r}; return a number of seconds >= 0, or math.inf")
        script = Script([], draw=draw)
        began = loop.time()
        await reference_hedged(script, delay=delay)
        latencies[i], hedged[i] = loop.time() - began, len(script.attempts) > 1
        unhedged[i] = script.attempts[0].planned
        record(latencies[i], hedged=hedged[i])

    async def main() -> None:
        with contextlib.suppress(_BadDelay):  # reported below; run_in_world cancels the calls still running
            await asyncio.gather(*(one(i) for i in range(calls)))

    run_in_world(report, world, main)
    report.expect(not bad, f"delay() returned {bad[0]!r}; return a number of seconds >= 0, or math.inf" if bad else "")
    return _Traffic(latencies, unhedged, hedged, bad)


def _worst_window(flags: list[bool], width: int) -> int:
    if len(flags) <= width:
        return sum(flags)
    count = best = sum(flags[:width])
    for i in range(width, len(flags)):
        count += flags[i] - flags[i - width]
        best = max(best, count)
    return best


def _near_rank(values: list[float], p: float, got: float) -> bool:
    """Whether `got` is the value one rank above or below the nearest rank (an off-by-one rank)."""
    ordered = sorted(values)
    i = max(0, math.ceil(p * len(ordered) / 100) - 1)
    return any(0 <= j < len(ordered) and abs(ordered[j] - got) <= 1e-9 for j in (i - 1, i + 1))


def _percentile_hint(values: list[float], p: float, got: float) -> str:
    return NEAREST_RANK if _near_rank(values, p, got) else USE_PERCENTILE


@register("hedging-budget")
def check_budget(cls: Callable[..., Any], report: Report) -> None:
    with report.case("no hedge until min_samples calls are recorded (math.inf)") as notes:
        policy = _new_policy(report, cls, min_samples=20)
        report.expect(_ask(report, policy, hint=MIN_SAMPLES) == math.inf,
                      "a new policy should not hedge: delay() should be math.inf", hint=MIN_SAMPLES)
        _feed(report, policy, _spread(19))
        report.expect(_ask(report, policy, hint=MIN_SAMPLES) == math.inf,
                      "after 19 of 20 samples delay() should still be math.inf", hint=MIN_SAMPLES)
        _feed(report, policy, [1.05])
        got = _ask(report, policy)
        notes.detail = f"after 20 samples between 1.00 and 1.19 s: delay() = {got:g}"
        report.expect(math.isfinite(got), "after min_samples latencies, delay() should return a finite delay",
                      hint=MIN_SAMPLES)

    with report.case("the delay is the percentile (nearest rank) of the last `window` latencies") as notes:
        policy = _new_policy(report, cls, percentile=95.0, window=200)
        _feed(report, policy, _spread(200))  # 1.00 .. 2.99 s
        first = _ask(report, policy)
        want = nearest_rank(_spread(200), 95)
        _feed(report, policy, _spread(200, low=5.0))  # the window now holds only these
        second = _ask(report, policy)
        want_second = nearest_rank(_spread(200, low=5.0), 95)
        notes.detail = f"delay {first:g} (want {want:g}), then after 200 slower calls {second:g} (want {want_second:g})"
        report.expect(abs(first - want) <= 1e-9,
                      f"over latencies 1.00 .. 2.99 s, p95 (nearest rank) is {want:g}; delay() gave {first:g}",
                      hint=_percentile_hint(_spread(200), 95, first))
        report.expect(abs(second - want_second) <= 1e-9 or (second >= 5 and _near_rank(_spread(200, low=5.0), 95,
                                                                                       second)),
                      f"after 200 calls of 5.00 .. 6.99 s the window holds only those, so p95 is {want_second:g}; "
                      f"delay() gave {second:g}" + (" (older latencies are still counted)" if second < 5 else ""),
                      hint=WINDOW_LATENCIES)
        other = _new_policy(report, cls, percentile=90.0, window=200)
        _feed(report, other, _spread(200))
        got = _ask(report, other)
        report.expect(abs(got - nearest_rank(_spread(200), 90)) <= 1e-9,
                      f"with percentile=90 the delay should be p90 ({nearest_rank(_spread(200), 90):g}); got {got:g}",
                      hint=_percentile_hint(_spread(200), 90, got))

    with report.case("a policy built with min_samples=5, window=50, budget=0.2, percentile=80 uses those, not the "
                     "defaults") as notes:
        options = {"percentile": 80.0, "budget": 0.2, "window": 50, "min_samples": 5}
        policy = _new_policy(report, cls, **options)
        _feed(report, policy, _spread(4))
        early = _ask(report, policy, hint=MIN_SAMPLES)
        _feed(report, policy, [1.02])
        ready = _ask(report, policy, hint=OWN_MIN_SAMPLES)
        sliding = _new_policy(report, cls, **options)
        old, recent = _spread(50, low=5.0), _spread(50)
        _feed(report, sliding, old + recent)  # the last 50 are the fast ones
        slid = _ask(report, sliding)
        want = nearest_rank(recent, 80)
        spending = _new_policy(report, cls, **options)
        _feed(report, spending, _spread(50))
        _feed(report, spending, [1.5] * 9, hedged=True)
        nine = _ask(report, spending)
        _feed(report, spending, [1.5], hedged=True)
        ten = _ask(report, spending)
        _feed(report, spending, _spread(50))
        aged = _ask(report, spending)
        notes.detail = (f"after 4 and 5 calls: {early:g}, {ready:g}; p80 after 50 slow then 50 fast calls: {slid:g} "
                        f"(want {want:g}); 9, 10 and then no hedged calls in the last 50: {nine:g}, {ten:g}, {aged:g}")
        report.expect(early == math.inf, "after 4 of min_samples=5 calls delay() should still be math.inf",
                      hint=MIN_SAMPLES)
        report.expect(math.isfinite(ready), "with min_samples=5, delay() should be finite from the fifth recorded "
                                            "call on", hint=OWN_MIN_SAMPLES)
        report.expect(slid < 5, f"with window=50, after 50 slow calls (5.00 .. 5.49 s) and then 50 fast ones, only the "
                                f"fast ones count: p80 is {want:g}; delay() gave {slid:g}", hint=OWN_WINDOW)
        report.expect(abs(slid - want) <= 1e-9, f"p80 of the last 50 latencies is {want:g}; delay() gave {slid:g}",
                      hint=_percentile_hint(recent, 80, slid))
        report.expect(math.isfinite(nine), "9 hedged calls among the last 50 is under budget=0.2 (10 of 50): "
                                           "still hedge", hint=OWN_BUDGET)
        report.expect(ten == math.inf, "10 hedged calls among the last 50 is the whole budget=0.2 of window=50: "
                                       "delay() should be math.inf", hint=OWN_WINDOW)
        report.expect(math.isfinite(aged), "with window=50, once 50 unhedged calls have followed the hedged ones, "
                                           "the budget has refilled: delay() should be finite", hint=OWN_WINDOW)

    with report.case("the budget: once `budget` of the last `window` calls were hedged, no more hedges; "
                     "it refills as they age out") as notes:
        warming = _new_policy(report, cls, budget=0.10, window=200, min_samples=20)
        _feed(report, warming, _spread(20), hedged=[i % 4 == 0 for i in range(20)])
        warm = _ask(report, warming)
        policy = _new_policy(report, cls, budget=0.10, window=200)
        _feed(report, policy, _spread(200))
        _feed(report, policy, [3.5] * 19, hedged=True)
        open_ = _ask(report, policy)
        _feed(report, policy, [3.5], hedged=True)
        closed = _ask(report, policy)
        _feed(report, policy, _spread(200))  # every hedged call is now more than 200 calls back
        reopened = _ask(report, policy)
        notes.detail = (f"5 hedged of the first 20: {warm:g}; 19 hedged of the last 200: {open_:g}; 20 hedged: "
                        f"{closed:g}; all aged out: {reopened:g}")
        report.expect(math.isfinite(warm), "5 hedged calls among the first 20 recorded is far under 10% of a "
                                           "200-call window (20 hedges): still hedge", hint=BUDGET_SHARE)
        report.expect(math.isfinite(open_), "19 hedged calls in the last 200 is under a 10% budget: still hedge",
                      hint=BUDGET_SHARE)
        report.expect(closed == math.inf, "20 hedged calls in the last 200 is the whole 10% budget: "
                                          "delay() should be math.inf", hint=BUDGET_SPENT)
        report.expect(math.isfinite(reopened), "once the hedged calls are more than `window` calls old they no "
                                               "longer count: delay() should be finite again", hint=BUDGET_REFILLS)

    with report.case("calm, 400 calls timed by the world's latency model: hedges about 5% of calls and cuts the "
                     "tail") as notes:
        traffic = _traffic(report, cls, seed=21, drift=False, every=3.0, calls=400)
        extra = sum(traffic.hedged) / len(traffic.hedged)
        p99, u99 = nearest_rank(traffic.latencies, 99), nearest_rank(traffic.unhedged, 99)
        p999, u999 = nearest_rank(traffic.latencies, 99.9), nearest_rank(traffic.unhedged, 99.9)
        notes.detail = (f"{extra:.1%} of calls hedged; p99 {p99:.2f} s (unhedged {u99:.2f} s), "
                        f"p99.9 {p999:.2f} s (unhedged {u999:.2f} s)")
        report.expect(extra <= 0.08, f"{extra:.1%} of calls were hedged; after the p95 delay it should be about 5%",
                      hint=USE_PERCENTILE)
        report.expect(extra > 0.01, f"only {extra:.1%} of calls were hedged: hedge when the budget allows",
                      hint=BUDGET_SHARE)
        report.expect(p99 <= u99 / 2 and p999 < u999, f"p99 {p99:.2f} s and p99.9 {p999:.2f} s against {u99:.2f} s "
                                                       f"and {u999:.2f} s unhedged: hedging should cut the tail")

    for seed in (31,):
        with report.case(f"latency drift (seed {seed}), 360 calls over an hour: hedges stay within the 10% "
                         "budget") as notes:
            traffic = _traffic(report, cls, seed=seed, drift=True, every=10.0, calls=360)
            fixed = nearest_rank(sequential(seed, 200), 95)
            flood = sum(b > fixed for b in traffic.unhedged) / len(traffic.unhedged)
            extra = sum(traffic.hedged) / len(traffic.hedged)
            worst = _worst_window(traffic.hedged, 200)
            notes.detail = (f"{extra:.1%} of calls hedged, at most {worst} in any 200 calls (a fixed delay of "
                            f"{fixed:.2f} s, the calm p95, would have hedged {flood:.0%} of calls)")
            report.expect(worst <= 24, f"{worst} of 200 consecutive calls were hedged; the budget allows 20 (a few "
                                       "more can slip through while calls are in flight)", hint=BUDGET_SPENT)
            report.expect(extra > 0.01, f"only {extra:.1%} of calls were hedged: hedge when the budget allows",
                          hint=BUDGET_SHARE)


mistakes(
    "hedging-budget",
    Mistake("hedges from the first call, with no minimum of samples",
            (("if len(self.latencies) < self.min_samples:", "if not self.latencies:"),), MIN_SAMPLES),
    Mistake("a percentile over no latencies (the min_samples test left out)",
            (("if len(self.latencies) < self.min_samples:", "if False:"),), MIN_SAMPLES),
    Mistake("keeps every latency ever recorded",
            (("self.latencies: deque[float] = deque(maxlen=window)", "self.latencies: list[float] = []"),),
            WINDOW_LATENCIES),
    Mistake("always the 95th percentile, whatever `percentile` says",
            (("return nearest_rank(self.latencies, self.percentile)", "return nearest_rank(self.latencies, 95)"),),
            USE_PERCENTILE),
    Mistake("the mean latency instead of the percentile",
            (("return nearest_rank(self.latencies, self.percentile)",
              "return sum(self.latencies) / len(self.latencies)"),), USE_PERCENTILE),
    Mistake("a budget that is never spent (no budget test)",
            (("if sum(self.hedged) >= self.budget * self.window:", "if False:"),), BUDGET_SPENT),
    Mistake("the budget compared with the calls recorded so far, not the window",
            (("if sum(self.hedged) >= self.budget * self.window:",
              "if sum(self.hedged) >= self.budget * len(self.hedged):"),), BUDGET_SHARE),
    Mistake("the budget share compared with a count of hedges",
            (("if sum(self.hedged) >= self.budget * self.window:", "if sum(self.hedged) >= self.budget:"),),
            BUDGET_SHARE),
    Mistake("a budget that is never refilled (every hedge ever counted)",
            (("self.hedged: deque[bool] = deque(maxlen=window)", "self.hedged: list[bool] = []"),), BUDGET_REFILLS),
    Mistake("a rank one too high: int(p * n / 100) as the index instead of the nearest rank",
            (("return nearest_rank(self.latencies, self.percentile)",
              "return sorted(self.latencies)[min(int(self.percentile * len(self.latencies) / 100), "
              "len(self.latencies) - 1)]"),), NEAREST_RANK),
    Mistake("a fixed 20 samples, whatever `min_samples` says",
            (("if len(self.latencies) < self.min_samples:", "if len(self.latencies) < 20:"),), OWN_MIN_SAMPLES),
    Mistake("deques of a fixed 200, whatever `window` says",
            (("self.latencies: deque[float] = deque(maxlen=window)",
              "self.latencies: deque[float] = deque(maxlen=200)"),
             ("self.hedged: deque[bool] = deque(maxlen=window)", "self.hedged: deque[bool] = deque(maxlen=200)")),
            OWN_WINDOW),
    Mistake("a fixed 10% budget, whatever `budget` says",
            (("if sum(self.hedged) >= self.budget * self.window:", "if sum(self.hedged) >= 0.1 * self.window:"),),
            OWN_BUDGET),
    Mistake("the budget counted against a fixed 200-call window",
            (("if sum(self.hedged) >= self.budget * self.window:", "if sum(self.hedged) >= self.budget * 200:"),),
            OWN_WINDOW),
    Mistake("records only the hedged calls, so the window of flags never ages",
            (("self.hedged.append(hedged)", "if hedged:\n            self.hedged.append(True)"),), BUDGET_REFILLS),
)
