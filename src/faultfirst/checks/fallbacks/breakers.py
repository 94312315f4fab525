"""The short cases of fallbacks-chain that pin what long traffic cannot see of a circuit breaker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...text import plural
from ...world import World
from .._framework import Report, checked_world
from .common import (
    OUTAGE,
    QUESTION,
    SMALL,
    SYSTEM,
    NeutralRequest,
    answered_detail,
    is_lesson_error,
    per_provider,
    short_error,
)
from .hints import (
    HINT_CONSECUTIVE,
    HINT_COOLDOWN_EDGE,
    HINT_NEXT_MODEL,
    HINT_ONE_PROBE,
    HINT_OPEN_AT,
    HINT_OPENS,
    HINT_PER_PROVIDER,
    HINT_REJECTED_AT_ONCE,
    HINT_REJECTED_NOT_COUNTED,
    HINT_REJECTED_PROBE,
    HINT_USE_PARAMS,
    HINT_WORLD_CLOCK,
)
from .traffic import ChainCall, drive, expect_all_failed_only, expect_degraded_flags, interleaved, traffic_world


def half_open_case(report: Report, fn: Callable[..., Any]) -> None:
    """OpenAI down: open its breaker (failures=2), wait the cool-down, then let requests arrive during the probe."""
    failures, cooldown = 1, 60.0
    world = checked_world(seed=59, scenario=OUTAGE, max_attempts=40, max_seconds=4000.0)
    chain, breakers = ["gpt-fast", "claude-fast"], dict[str, Any]()
    ask = {"chain": chain, "breakers": breakers, "failures": failures, "cooldown": cooldown}

    def one(at: float) -> ChainCall:
        world.clock.advance_to(at)
        before = len(world.requests)
        value, err = report.outcome(fn, world, NeutralRequest(QUESTION, SYSTEM, max_tokens=200), **ask)
        return ChainCall(at, value, err, world.requests[before:])

    failed, tries = 0, failures + 4
    for k in range(tries):  # one request every 5 s into the outage, until one skips OpenAI
        call = one(5.0 * k)
        report.expect(call.error is None, f"at t={call.start:.0f} s, with OpenAI down and claude-fast up, ask "
                                          f"raised {short_error(call.error)}", hint=HINT_NEXT_MODEL)
        if not any(r.provider == "openai" for r in call.attempts):
            break
        failed += 1
    report.expect(failed < tries,
                  f"OpenAI failed {plural(failed, 'time')} in a row and its breaker (failures={failures}) "
                                  "never opened", hint=HINT_OPENS)
    report.expect(failed == failures, f"the breaker opened after {failed} consecutive failures, with "
                                      f"failures={failures}",
                  hint=HINT_OPEN_AT if failed == failures + 1 else HINT_USE_PARAMS)
    opened = 5.0 * (failed - 1)
    during = interleaved(fn, world, provider="openai", arrivals=4, **ask)
    probe = one(opened + cooldown + 1)
    report.expect(any(r.provider == "openai" for r in probe.attempts),
                  f"{cooldown:g} s after the breaker opened, the next request did not probe OpenAI",
                  hint=HINT_WORLD_CLOCK)
    report.expect(len(during) == 4, "the probe was sent, but the requests arriving during it were not made")
    sneaked = sum(r.provider == "openai" for c in during for r in c.attempts)
    report.expect(sneaked == 0, f"while the probe was in flight, {len(during)} more requests arrived and {sneaked} of "
                                "them were sent to OpenAI too", hint=HINT_ONE_PROBE)
    lost = [c for c in during if c.error is not None or c.model != "claude-fast"]
    report.expect(not lost, f"a request that arrived during the probe got {short_error(lost[0].error)}, not an answer "
                            "from claude-fast" if lost else "", hint=HINT_NEXT_MODEL)


def _ask_at(report: Report, fn: Callable[..., Any], world: World, at: float, request: NeutralRequest,
            **ask: Any) -> ChainCall:
    world.clock.advance_to(at)
    before = len(world.requests)
    value, err = report.outcome(fn, world, request, **ask)
    return ChainCall(at, value, err, world.requests[before:])


def _breaker_says(report: Report, breaker: Any, world: World, at: float) -> bool:
    world.clock.advance_to(at)
    return bool(report.call(breaker.allow))


def shared_breaker_case(report: Report, fn: Callable[..., Any]) -> str:
    """Two OpenAI models fail once each: with failures=2 the one OpenAI breaker opens, and the next request skips
    both. Then the breaker itself, on the world's clock: re-opened by a failed probe at t=100, it half-opens at
    exactly t=130 (cooldown=30), not before, not later."""
    world = checked_world(seed=60, scenario=OUTAGE, **SMALL)
    chain, breakers = ["gpt-fast", "gpt-strong", "claude-fast"], dict[str, Any]()
    ask = {"chain": chain, "breakers": breakers, "failures": 2, "cooldown": 30.0}
    calls = [_ask_at(report, fn, world, at, NeutralRequest(QUESTION, SYSTEM, max_tokens=200), **ask) for at in (0.0,
                                                                                                                5.0)]
    for call in calls:
        report.expect(call.error is None, f"at t={call.start:.0f} s, with OpenAI down and claude-fast up, ask raised "
                                          f"{short_error(call.error)}", hint=HINT_NEXT_MODEL)
    first = [r.model for r in calls[0].attempts]
    report.expect(first == chain, f"the first request tried {first}; expected {chain}: the breaker was still closed")
    again = [r.model for r in calls[1].attempts if r.provider == "openai"]
    report.expect(not again, f"gpt-fast and gpt-strong each failed once, two consecutive OpenAI failures with "
                             f"failures=2, yet the next request tried {', '.join(again)}"
                             + (f" (breakers holds {len(breakers)} breakers for 2 providers)" if len(breakers) > 2
                                else ""),
                  hint=HINT_PER_PROVIDER if len(breakers) > 2 else None)
    breaker: Any = breakers.get("openai")  # the learner's CircuitBreaker, or whatever it stored
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
    return f"{per_provider(world)}; half-open again at t=130, 30 s after a failed probe at t=100"


def rejected_probe_case(report: Report, fn: Callable[..., Any]) -> str:
    """OpenAI down until t=300 opens its breaker (failures=1); the probe at t=310 is a malformed request (a 400,
    Rejected). The provider answered, so the breaker closes, and the next request goes to gpt-fast."""
    world = checked_world(seed=61, scenario=OUTAGE, **SMALL)
    ask = {"chain": ["gpt-fast", "claude-fast"], "breakers": {}, "failures": 1, "cooldown": 30.0}
    good = NeutralRequest(QUESTION, SYSTEM, max_tokens=200)
    opened = _ask_at(report, fn, world, 0.0, good, **ask)
    report.expect(opened.error is None and opened.model == "claude-fast",
                  f"at t=0, with OpenAI down, ask gave {short_error(opened.error) if opened.error else opened.model}; "
                  "expected claude-fast's answer", hint=HINT_NEXT_MODEL)
    probe = _ask_at(report, fn, world, 310.0, NeutralRequest(QUESTION, max_tokens=-200), **ask)
    sent = [r.model for r in probe.attempts]
    report.expect(sent == ["gpt-fast"] and is_lesson_error(probe.error, "Rejected"),
                  f"at t=310 a malformed request should be sent to gpt-fast (the half-open probe) and raise Rejected; "
                  f"it was sent to {sent} and gave {short_error(probe.error)}", hint=HINT_REJECTED_AT_ONCE)
    after = _ask_at(report, fn, world, 315.0, good, **ask)
    if after.error is not None or after.model != "gpt-fast":
        later = _ask_at(report, fn, world, 345.0, good, **ask)
        report.expect(False, f"at t=315, after the probe's 400, a good request got "
                             f"{short_error(after.error) if after.error else after.model}, not gpt-fast's answer",
                      hint=HINT_REJECTED_NOT_COUNTED if later.model == "gpt-fast" else HINT_REJECTED_PROBE)
    return f"{per_provider(world)}; the probe at t=310 was a 400, and gpt-fast answered at t=315"


def overloaded_case(report: Report, fn: Callable[..., Any]) -> str:
    """Random refusals: the primary answers most requests; its breaker opens only on consecutive failures."""
    chain, failures = ["gpt-fast", "claude-fast", "claude-strong"], 3
    world = traffic_world(seed=60, scenario="overloaded", chain=chain, minutes=(0, 6))
    calls = drive(report, fn, world, chain=chain, minutes=(0, 6), failures=failures)
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
    expect_all_failed_only(report, calls)
    report.expect(len(answered) >= 0.95 * len(calls),
                  f"only {len(answered)} of {len(calls)} requests were answered ({len(calls) - len(answered)} "
                  "lost) with three models to try", hint=HINT_NEXT_MODEL)
    primary = sum(c.value.model == chain[0] for c in answered)
    report.expect(primary >= 0.7 * len(calls),
                  f"the primary answered only {primary} of {len(calls)} requests; it refuses about one attempt in "
                  "six, so it should answer most of them")
    expect_degraded_flags(report, calls, chain[0])
    return answered_detail(world, calls)


