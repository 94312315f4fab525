"""The check of hedging-call, and the mistakes it is tested against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai

from ...text import plural
from .._framework import Mistake, Report, mistakes, register, usage
from .._helpers import nearest_rank
from .hints import (
    AWAIT_CANCELLED,
    CANCEL_LOSER,
    CLEANUP_IN_FINALLY,
    GATHER_RETURN_EXCEPTIONS,
    HEDGE_AT_DELAY,
    HEDGE_ON_FAILURE,
    KEEP_FIRST_RUNNING,
    KEEP_WAITING,
    NO_HEDGE_IF_ANSWERED,
    RERAISE,
    RETURN_RESULT,
    START_HEDGE,
    TWO_ATTEMPTS,
)
from .judge import expect_call, run_script
from .scripted import connection_error, describe, overloaded_error
from .traffic import expect_no_problem, run_modelled, run_world, sequential

_CALM_SEEDS = (101, 102)
_CALM_CALLS = 150
_OVERLOADED_CALLS = 20


@register("hedging-call")
def check_hedged(fn: Callable[..., Any], report: Report) -> None:
    with report.case("an answer within the delay: one attempt, no hedge, its result returned") as notes:
        run, script = run_script(report, fn, [(1.0, None)], delay=2.0)
        notes.detail = f"scripted: attempt 1 takes 1 s, delay 2 s; {describe(script)}"
        expect_call(report, script, run, 2.0, starts=[0.0], returns=1, at=1.0)

    with report.case("a slow first attempt: the hedge starts at the delay, wins, and the first is cancelled") as notes:
        run, script = run_script(report, fn, [(10.0, None), (1.0, None)], delay=2.0)
        notes.detail = f"scripted: attempt 1 takes 10 s, attempt 2 takes 1 s, delay 2 s; {describe(script)}"
        expect_call(report, script, run, 2.0, starts=[0.0, 2.0], returns=2, at=3.0, cancelled=(1,))

    with report.case("the first attempt can still win after the hedge has started") as notes:
        run, script = run_script(report, fn, [(3.0, None), (5.0, None)], delay=2.0)
        notes.detail = f"scripted: 3 s and 5 s, delay 2 s; {describe(script)}"
        expect_call(report, script, run, 2.0, starts=[0.0, 2.0], returns=1, at=3.0, cancelled=(2,))

    with report.case("a failure before the delay starts the hedge at once") as notes:
        run, script = run_script(report, fn, [(0.5, connection_error()), (1.0, None)], delay=2.0)
        notes.detail = f"scripted: attempt 1 fails after 0.5 s, attempt 2 takes 1 s, delay 2 s; {describe(script)}"
        expect_call(report, script, run, 2.0, starts=[0.0, 0.5], returns=2, at=1.5)

    with report.case("a hedge that fails does not end the call while the first attempt can still answer") as notes:
        run, script = run_script(report, fn, [(6.0, None), (0.5, connection_error())], delay=2.0)
        notes.detail = f"scripted: attempt 1 takes 6 s, attempt 2 fails after 0.5 s, delay 2 s; {describe(script)}"
        expect_call(report, script, run, 2.0, starts=[0.0, 2.0], returns=1, at=6.0)

    with report.case("both attempts fail: an attempt's own exception is raised, after exactly two") as notes:
        run, script = run_script(report, fn, [(3.0, overloaded_error()), (0.5, overloaded_error())], delay=2.0)
        notes.detail = f"scripted: attempt 1 fails after 3 s, attempt 2 after 0.5 s, delay 2 s; {describe(script)}"
        expect_call(report, script, run, 2.0, starts=[0.0, 2.0])
        report.expect(isinstance(run.error, openai.APIError), "it should raise the SDK's error (openai.APIError)",
                      hint=RERAISE)

    with report.case("a deadline around the call cancels both attempts, and they have finished") as notes:
        run, script = run_script(report, fn, [(100.0, None), (100.0, None)], delay=1.0, deadline=5.0)
        notes.detail = f"scripted: two 100 s attempts, delay 1 s, asyncio.timeout(5); {describe(script)}"
        expect_call(report, script, run, 1.0, starts=[0.0, 1.0], cancelled=(1, 2), deadline=True)
        report.expect(run.timed_out, "the caller's asyncio.timeout(5) should raise TimeoutError at t=5; "
                                     + (f"the call raised {type(run.error).__name__}" if run.error is not None
                                        else f"it returned {run.value!r} at t={run.finished_at:g}"))

    with report.case("real calls in an outage: the SDK's own error, after exactly two attempts") as notes:
        calls = run_world(report, fn, seed=3, scenario="outage", calls=1, delay=2.0)
        notes.detail = usage(calls.world, lost=calls.failures) if calls.world else ""
        expect_no_problem(report, calls)
        report.expect(calls.attempts == [2],
                      f"made {plural(calls.attempts[0] if calls.attempts else 0, 'attempt')}; a failed "
                                             "first attempt gets one hedge, and a failed hedge ends the call",
                      hint=TWO_ATTEMPTS if calls.attempts and calls.attempts[0] > 2 else HEDGE_ON_FAILURE)

    with report.case(f"real calls on an overloaded day, {_OVERLOADED_CALLS} calls: an early failure is hedged at "
                     "once, never a third attempt") as notes:
        calls = run_world(report, fn, seed=11, scenario="overloaded", calls=_OVERLOADED_CALLS, delay=2.5)
        notes.detail = (f"{usage(calls.world, lost=calls.failures)} (failed calls); {calls.early_failures} first "
                        "attempts were refused before the delay") if calls.world else ""
        expect_no_problem(report, calls)
        report.expect(calls.failures <= 2, f"{calls.failures} of {_OVERLOADED_CALLS} calls failed; with a hedge after "
                                           "each early failure only calls whose two attempts both fail should",
                      hint=HEDGE_ON_FAILURE)

    with report.case(f"calm, {len(_CALM_SEEDS)} seeds x {_CALM_CALLS} calls timed by the world's latency model, "
                     "delay = p95: the tail is cut for a few percent more attempts") as notes:
        delay = nearest_rank(sequential(100, 1000), 95)  # from another day's log
        hedged: list[float] = []
        unhedged: list[float] = []
        attempts = 0
        for seed in _CALM_SEEDS:
            calls = run_modelled(report, fn, seed=seed, calls=_CALM_CALLS, delay=delay)
            expect_no_problem(report, calls, f"seed {seed}: ")
            hedged += calls.latencies
            unhedged += calls.unhedged
            attempts += sum(calls.attempts)
        n = len(hedged)
        extra = attempts / n - 1
        p99, p999 = nearest_rank(hedged, 99), nearest_rank(hedged, 99.9)
        u99, u999 = nearest_rank(unhedged, 99), nearest_rank(unhedged, 99.9)
        notes.detail = (f"delay {delay:.2f} s; {attempts:,} attempts for {n} calls ({extra:.1%} extra); p99 {p99:.2f} "
                        f"s (unhedged {u99:.2f} s), p99.9 {p999:.2f} s (unhedged {u999:.2f} s)")
        report.expect(extra < 0.10, f"{extra:.1%} extra attempts; a hedge at the p95 delay should add about 5%",
                      hint=HEDGE_AT_DELAY)
        report.expect(p99 <= u99 / 2 and p999 < u999,
                      f"p99 {p99:.2f} s and p99.9 {p999:.2f} s against {u99:.2f} s and {u999:.2f} s unhedged: "
                      "the hedge should cut the tail")


_SOLUTION_LOOP = """            for task in done:
                if task.exception() is None:
                    return task.result()                    # the first success wins
                error = task.exception()                    # a failure: wait for the other"""

mistakes(
    "hedging-call",
    Mistake("hedges at once instead of after the delay",
            (("await asyncio.wait(tasks, timeout=delay)", "await asyncio.wait(tasks, timeout=0)"),), HEDGE_AT_DELAY),
    Mistake("always sends the hedge, also when the first answered within the delay",
            (("if not done or tasks[0].exception() is not None:", "if True:"),), NO_HEDGE_IF_ANSWERED),
    Mistake("a failure before the delay is not hedged",
            (("if not done or tasks[0].exception() is not None:", "if not done:"),), HEDGE_ON_FAILURE),
    Mistake("the first attempt to finish ends the call, also when it failed",
            (("error = task.exception()                    # a failure: wait for the other",
              "raise task.exception()"),), KEEP_WAITING),
    Mistake("wraps the error when both fail",
            (("        raise error\n", "        raise RuntimeError(f'both attempts failed: {error}')\n"),), RERAISE),
    Mistake("returns the task, not its result",
            (("return task.result()                    # the first success wins",
              "return task"),), RETURN_RESULT),
    Mistake("never cancels the loser (waits for it instead)",
            (("            task.cancel()                                   # no-op for finished tasks\n",
              "            pass\n"),), CANCEL_LOSER),
    Mistake("cancels the loser but does not await it",
            (("        await asyncio.gather(*tasks, return_exceptions=True)  # let every cancellation finish\n", ""),),
            AWAIT_CANCELLED),
    Mistake("cleans up when it returns, not in a finally (a caller's deadline leaves both attempts running)",
            ((_SOLUTION_LOOP, _SOLUTION_LOOP.replace(
                "                    return task.result()                    # the first success wins",
                "                    for other in tasks:\n                        other.cancel()\n"
                "                    await asyncio.gather(*tasks, return_exceptions=True)\n"
                "                    return task.result()")),
             ("    finally:\n        for task in tasks:\n"
              "            task.cancel()                                   # no-op for finished tasks\n"
              "        await asyncio.gather(*tasks, return_exceptions=True)  # let every cancellation finish\n",
              "    except Exception:\n        raise\n")), CLEANUP_IN_FINALLY),
    Mistake("starts another attempt after every failure",
            (("error = task.exception()                    # a failure: wait for the other",
              "error = task.exception()\n"
              "                tasks.append(asyncio.create_task(attempt()))\n"
              "                pending.add(tasks[-1])"),), TWO_ATTEMPTS),
    Mistake("awaits the cancelled tasks with gather but without return_exceptions=True",
            (("await asyncio.gather(*tasks, return_exceptions=True)", "await asyncio.gather(*tasks)"),),
            GATHER_RETURN_EXCEPTIONS),
    Mistake("cancels the first attempt when it starts the hedge",
            (("tasks.append(asyncio.create_task(attempt()))   # slow, or failed early: hedge now",
              "tasks[0].cancel()\n            tasks.append(asyncio.create_task(attempt()))"),), KEEP_FIRST_RUNNING),
    Mistake("reuses the first coroutine for the hedge",
            (("tasks = [asyncio.create_task(attempt())]", "call = attempt()\n    tasks = [asyncio.create_task(call)]"),
             ("tasks.append(asyncio.create_task(attempt()))", "tasks.append(asyncio.create_task(call))")),
            START_HEDGE),
)

