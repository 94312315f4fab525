"""Many hedged calls: attempts timed by the world's latency model, or real SDK calls in a seeded world.

First attempts and hedges draw from separate seeded streams, so each call's unhedged latency is known
exactly (its first attempt's) at no cost.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...model.catalog import CATALOG
from ...service.latency import LatencyModel
from ...world import World
from .._async import quiet_world, run_in_world
from .._framework import Report
from .hints import TWO_ATTEMPTS
from .judge import Problem, judge
from .scripted import (
    MAX_TOKENS,
    MODEL,
    PROMPT,
    REPLY_TOKENS,
    WATCHDOG,
    Answer,
    Guard,
    Plan,
    Script,
    ScriptedAttempt,
    call_once,
    overloaded_error,
)


@dataclass
class Calls:
    """What a sequence of calls did, call by call."""

    latencies: list[float] = field(default_factory=list)
    unhedged: list[float] = field(default_factory=list)  # each call's first attempt's own time (scripted runs)
    attempts: list[int] = field(default_factory=list)
    failures: int = 0
    early_failures: int = 0  # calls whose first attempt failed before the delay
    problem: Problem | None = None
    world: World | None = None


def modelled_plans(seed: int, *, drift: bool = False, failure_rate: float = 0.0) -> Callable[[float, int], Plan]:
    """Attempt plans drawn from the world's latency model: first attempts and hedges from separate seeded streams.

    With `failure_rate`, that share of attempts is refused within a fraction of a second with a 503, as the
    `overloaded` scenario does.
    """
    spec = CATALOG[MODEL]
    models = (LatencyModel(seed, drift=drift), LatencyModel(seed + 100_000, drift=drift))
    faults = random.Random(f"{seed}:hedging-check-faults")

    def draw(now: float, i: int) -> Plan:
        latency = models[min(i, 1)].sample(spec, now).total(REPLY_TOKENS)
        if faults.random() < failure_rate:
            return faults.uniform(0.05, 0.3), overloaded_error()
        return latency, None
    return draw


def run_modelled(report: Report, fn: Callable[..., Any], *, seed: int, calls: int, delay: float,
                 failure_rate: float = 0.0) -> Calls:
    """`calls` calls one after another, each of a fresh script drawing from the latency model; each one judged."""
    world = quiet_world(seed=0, max_attempts=10, max_seconds=calls * 300.0 + 2 * WATCHDOG)
    draw = modelled_plans(seed, failure_rate=failure_rate)
    result = Calls()
    guard = Guard(10)

    async def main() -> None:
        guard.driver = asyncio.current_task()
        try:
            for _ in range(calls):
                script = Script([], draw=draw, guard=guard)
                run = await call_once(fn, script, delay, on_return=script.snapshot)
                result.problem = judge(script, run, delay)
                if result.problem is not None:
                    return
                result.latencies.append(run.finished_at - run.began)
                result.unhedged.append(script.attempts[0].planned)
                result.attempts.append(len(script.attempts))
                result.failures += run.error is not None
        except asyncio.CancelledError:
            if guard.tripped:
                result.problem = Problem(f"one call started more than {guard.limit} attempts", TWO_ATTEMPTS)
                return
            raise

    run_in_world(report, world, main)
    return result


def run_world(report: Report, fn: Callable[..., Any], *, seed: int, scenario: str, calls: int,
              delay: float) -> Calls:
    """`calls` calls one after another, each attempt a real SDK call in a seeded world; each one judged."""
    world = quiet_world(seed=seed, scenario=scenario, max_attempts=2 * calls + 20,
                        max_seconds=calls * 120.0 + 2 * WATCHDOG)
    client = world.async_openai()
    guard = Guard(2 * calls + 10)
    result = Calls(world=world)

    def draw_for(script: Script) -> Callable[[], Any]:
        def attempt() -> Any:
            state, answer = ScriptedAttempt(), Answer(len(script.attempts) + 1)
            script.attempts.append(state)
            script.answers.append(answer)
            guard.count(sum(result.attempts) + len(script.attempts))

            async def one() -> Any:
                loop = asyncio.get_running_loop()
                state.start, state.outcome = loop.time(), "running"
                try:
                    completion = await client.chat.completions.create(
                        model=MODEL, max_tokens=MAX_TOKENS, temperature=0,
                        messages=[{"role": "user", "content": PROMPT}])
                except asyncio.CancelledError:
                    state.end, state.outcome = loop.time(), "cancelled"
                    raise
                except Exception as err:
                    state.end, state.outcome = loop.time(), "failed"
                    script.errors.append(err)
                    raise
                state.end, state.outcome = loop.time(), "answered"
                script.answers[answer.number - 1] = completion
                return completion
            return one()
        return attempt

    async def main() -> None:
        guard.driver = asyncio.current_task()
        try:
            for _ in range(calls):
                script = Script([])
                run = await call_once(fn, draw_for(script), delay, on_return=script.snapshot)
                result.problem = judge(script, run, delay)
                result.latencies.append(run.finished_at - run.began)
                result.attempts.append(len(script.attempts))
                result.failures += run.error is not None
                first = script.attempts[0] if script.attempts else None
                result.early_failures += bool(first and first.outcome == "failed" and first.end is not None
                                              and first.end < run.began + delay)
                if result.problem is not None:
                    return
        except asyncio.CancelledError:
            if guard.tripped:
                result.problem = Problem(f"started more than {guard.limit} attempts for {calls} calls", TWO_ATTEMPTS)
                return
            raise

    run_in_world(report, world, main)
    return result


def expect_no_problem(report: Report, calls: Calls, prefix: str = "") -> None:
    problem = calls.problem
    report.expect(problem is None, f"{prefix}{problem.reason}" if problem else "",
                  hint=problem.hint if problem else None)


def sequential(seed: int, calls: int) -> list[float]:
    """Unhedged calls one after another on a calm day, as the latency model times them."""
    spec = CATALOG[MODEL]
    model = LatencyModel(seed, drift=False)
    return [model.sample(spec, 0.0).total(REPLY_TOKENS) for _ in range(calls)]

