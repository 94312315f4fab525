"""Traffic through the learner's chain, one request every 15 or 20 simulated seconds, and what it came to."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...service.attempts import Attempt
from ...service.records import RequestRecord
from ...text import plural
from ...world import World
from .._framework import Report, _CaseFailed, checked_world
from .common import SYSTEM, NeutralRequest, answer_problem, answered_detail, is_lesson_error, short_error
from .hints import HINT_ALL_FAILED, HINT_CLOSES, HINT_DEGRADED, HINT_NEXT_MODEL, HINT_OPENS, HINT_WORLD_CLOCK


@dataclass
class ChainCall:
    start: float
    value: Any
    error: BaseException | None
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


def traffic_world(*, seed: int, scenario: Any, chain: list[str], minutes: tuple[float, float],
                  every: float = 15.0) -> World:
    """A world bounded just above what the traffic can need: every model of the chain once per request."""
    calls = int((minutes[1] - minutes[0]) * 60 // every)
    return checked_world(seed=seed, scenario=scenario, max_attempts=len(chain) * calls + 10, max_seconds=4000.0)


def drive(report: Report, fn: Callable[..., Any], world: World, *, chain: list[str], minutes: tuple[float, float],
          every: float = 15.0, failures: int = 3, cooldown: float = 60.0) -> list[ChainCall]:
    """Ask through the learner's chain every `every` simulated seconds from minute a to b, with one breakers dict."""
    breakers: dict[Any, Any] = {}
    calls: list[ChainCall] = []
    first, last = minutes
    for i in range(int((last - first) * 60 // every)):
        world.clock.advance_to(first * 60 + i * every)
        before, start = len(world.requests), world.clock.now()
        asked = NeutralRequest(_QUESTIONS[i % len(_QUESTIONS)], SYSTEM, max_tokens=200)
        value, err = report.outcome(fn, world, asked, chain=list(chain), breakers=breakers,
                                    failures=failures, cooldown=cooldown)
        calls.append(ChainCall(start, value, err, world.requests[before:]))
    for call in calls:
        problem = answer_problem(call.value) if call.error is None else None
        if problem:
            raise _CaseFailed(f"at t={call.start:.0f} s ask {problem}")
    return calls


def _raised(calls: list[ChainCall], allowed: str | None = None) -> list[ChainCall]:
    return [c for c in calls if c.error is not None and not (allowed and is_lesson_error(c.error, allowed))]


def expect_answered(report: Report, calls: list[ChainCall], *, where: str) -> None:
    failed = _raised(calls)
    report.expect(not failed, f"{len(failed)} of {len(calls)} requests {where} raised instead of answering; the "
                              f"first, at t={failed[0].start:.0f} s: {short_error(failed[0].error)}" if failed else "",
                  hint=HINT_NEXT_MODEL)


def expect_all_failed_only(report: Report, calls: list[ChainCall]) -> None:
    """A request no model answered raises AllFailed, not something else, and never hides an answer."""
    odd = _raised(calls, allowed="AllFailed")
    report.expect(not odd, f"at t={odd[0].start:.0f} s a request raised {short_error(odd[0].error)}; when no model can "
                           "answer, raise AllFailed" if odd else "",
                  hint=HINT_NEXT_MODEL if odd and is_lesson_error(odd[0].error, "Unavailable") else HINT_ALL_FAILED)
    hidden = [c for c in calls if is_lesson_error(c.error, "AllFailed") and any(r.ok for r in c.attempts)]
    report.expect(not hidden, f"at t={hidden[0].start:.0f} s a model answered, yet ask raised AllFailed"
                  if hidden else "")


def expect_degraded_flags(report: Report, calls: list[ChainCall], primary: str) -> None:
    wrong = [c for c in calls if c.error is None and bool(c.value.degraded) != (c.value.model != primary)]
    if wrong:
        c = wrong[0]
        report.expect(False, f"at t={c.start:.0f} s {c.value.model} answered with degraded={c.value.degraded!r}; "
                             f"degraded means 'not the chain's first model ({primary})'", hint=HINT_DEGRADED)


def _dead_attempts(calls: list[ChainCall], provider: str, start: float, end: float) -> int:
    return sum(r.provider == provider and start <= r.start < end for c in calls for r in c.attempts)


def outage_cases(report: Report, fn: Callable[..., Any], *, seed: int, scenario: Any, chain: list[str],
                 minutes: tuple[float, float], strict: bool) -> None:
    """Three cases over one run: answered throughout, the dead provider left alone, the primary back after."""
    failures, cooldown, every = 3, 60.0, 20.0
    world = traffic_world(seed=seed, scenario=scenario, chain=chain, minutes=minutes, every=every)
    outage = world.scenario.outage
    assert outage is not None
    primary, dead = chain[0], outage.provider
    window = f"{outage.start / 60:.0f}-{outage.end / 60:.0f} min"
    scenario = world.scenario.name
    calls: list[ChainCall] | None = None
    with report.case(f"{scenario} (seed {seed}, {dead} down {window}), chain {chain}: requests are answered") as notes:
        calls = drive(report, fn, world, chain=chain, minutes=minutes, every=every, failures=failures,
                      cooldown=cooldown)
        notes.detail = answered_detail(world, calls)
        during = [c for c in calls if outage.start <= c.start < outage.end]
        if strict:
            expect_answered(report, calls, where="in the run")
        else:
            # Both providers also overload and reset at random all day, so a request can find every model failing
            # at once: some losses are the world's, not the chain's. More than one in ten is the chain's.
            expect_all_failed_only(report, calls)
            answered = sum(c.error is None for c in calls)
            report.expect(answered >= 0.9 * len(calls),
                          f"only {answered} of {len(calls)} requests were answered ({len(calls) - answered} lost; "
                          f"at least {math.ceil(0.9 * len(calls))} should be); the first that raised, at "
                          f"t={_raised(calls)[0].start:.0f} s: {short_error(_raised(calls)[0].error)}"
                          if answered < 0.9 * len(calls) else "", hint=HINT_NEXT_MODEL)
        fallbacks = [c for c in during if c.error is None]
        report.expect(all(c.value.model != primary for c in fallbacks),
                      f"{primary} cannot answer during the outage, yet an answer says it came from {primary}")
        expect_degraded_flags(report, calls, primary)
    with report.case(f"{scenario}: once the breaker opens, {dead} is left alone (one probe per cool-down)") as notes:
        report.expect(calls is not None, "the run in the case above failed before it could be judged")
        assert calls is not None
        during = [c for c in calls if outage.start <= c.start < outage.end]
        made = _dead_attempts(calls, dead, outage.start, outage.end)
        expected = failures + math.ceil((outage.end - outage.start) / cooldown)
        notes.detail = (f"{plural(made, 'attempt')} to {dead} while it was down; {plural(len(during), 'request')} "
                        "arrived in that time")
        report.expect(made <= expected + 2,
                      f"a breaker with failures={failures} and cooldown={cooldown:g} s lets about {expected} through "
                      f"({failures} failures, then one probe per cool-down); {made} got through", hint=HINT_OPENS)
    with report.case(f"{scenario}: after the outage a probe succeeds and traffic returns to {primary}") as notes:
        report.expect(calls is not None, "the run in the case above failed before it could be judged")
        assert calls is not None
        settled = outage.end + cooldown + 2 * every
        after = [c for c in calls if c.start >= settled]
        back = [c for c in after if c.attempts and c.attempts[0].model == primary]
        first_back = next((c.start for c in calls if c.start >= outage.end and c.model == primary), None)
        notes.detail = (f"first answer from {primary} after the outage at t={first_back:.0f} s"
                        if first_back is not None else f"{primary} never answered after the outage")
        probed = sum(r.model == primary for c in calls if c.start >= outage.end for r in c.attempts)
        share = 1.0 if strict else 0.8
        report.expect(probed > 0, f"after the outage ended at t={outage.end:.0f} s, no request tried {primary} "
                                  f"again: the breaker never half-opened", hint=HINT_WORLD_CLOCK)
        report.expect(len(back) >= share * len(after),
                      f"after t={settled:.0f} s only {len(back)} of {len(after)} requests tried {primary} first, "
                      f"though it was tried {plural(probed, 'time')} after the outage", hint=HINT_CLOSES)


def interleaved(fn: Callable[..., Any], world: World, *, provider: str, arrivals: int,
                **ask: Any) -> list[ChainCall]:
    """Send `arrivals` requests through `fn` while the next attempt at `provider` is in flight.

    The check's other traffic is sequential: each call finishes before the next starts, so a half-open breaker
    has heard its probe's outcome before anyone else asks. Here the simulated API, as it plans that attempt,
    calls the learner's chain `arrivals` more times (at the same virtual instant), as concurrent requests would.
    """
    during: list[ChainCall] = []

    def arrive_meanwhile(attempt: Attempt) -> None:
        if attempt.provider == provider and not during:
            hook.remove()
            for i in range(arrivals):
                before = len(world.requests)
                try:
                    value, err = fn(world, NeutralRequest(_QUESTIONS[i % len(_QUESTIONS)], SYSTEM, max_tokens=200),
                                    **ask), None
                except Exception as caught:
                    value, err = None, caught
                during.append(ChainCall(attempt.at, value, err, world.requests[before:]))

    hook = world.on_attempt(before=arrive_meanwhile)
    return during


