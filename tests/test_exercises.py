"""Every exercise has a check; stubs report "not attempted"; solutions pass.

The outputs read here are the committed ones; nbval re-executes those notebooks and
fails if a re-run gives anything else, so reading them is reading a fresh run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import nbformat
import pytest

from faultfirst.build.generate import iter_exercise_labels
from faultfirst.checks import CHECKS, check
from faultfirst.repository import find_repo_root

ROOT = find_repo_root()
LABELED = list(iter_exercise_labels(ROOT))


def test_every_exercise_has_a_check_and_every_check_an_exercise():
    """Labels in book/ and checks in faultfirst.checks are the same set, and labels are unique."""
    labels = [label for _, label in LABELED]
    assert len(labels) == len(set(labels))
    assert set(labels) == set(CHECKS)


def _check_output(variant: str, lesson, label: str) -> str:
    notebook = nbformat.read(lesson.target(ROOT, variant), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and f'check("{label}"' in cell.source:
            return "".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in cell.outputs)
    raise AssertionError(f"no check cell for {label} in {variant}")


@pytest.mark.parametrize("lesson, label", LABELED, ids=[label for _, label in LABELED])
def test_stub_reports_not_attempted_and_solution_passes(lesson, label):
    """In notebooks/ the check says 'not attempted'; in solutions/ it passes."""
    assert _check_output("notebooks", lesson, label).startswith(f"{label}: not attempted")
    assert _check_output("solutions", lesson, label).startswith(f"{label}: passed")


@pytest.mark.parametrize("label", sorted(CHECKS))
def test_no_learner_mistake_escapes_a_check(label):
    """Wrong return types, exceptions, runaway loops and non-functions all become report lines."""
    def wrong_type(*args, **kwargs):
        return 42

    def explodes(*args, **kwargs):
        raise KeyError("boom")

    def runaway(world, *args, **kwargs):
        while True:
            world.clock.sleep(60)

    learners: list[Any] = [wrong_type, explodes, runaway, "not a function"]  # Any: one is not even a function
    for learner in learners:
        result = check(label, learner)
        assert result.status == "failed" and "the check itself" not in result.report()


def test_unknown_label_lists_the_checks():
    """A typo in a label names the labels that exist."""
    with pytest.raises(KeyError, match="first-calls-reply"):
        check("first-calls-replies", print)


def test_a_case_can_report_what_it_measured():
    """A case's detail line (attempts, virtual time, cost) shows under it, passed or failed."""
    from faultfirst import World
    from faultfirst.checks._framework import CHECKS, Report, register, usage

    @register("demo-usage")
    def _demo(fn, report: Report) -> None:
        world = World(seed=0)
        with report.case("calls the model") as notes:
            report.call(fn, world)
            notes.detail = usage(world, lost=0)
            report.expect(len(world.requests) == 1, "should make one request")

    try:
        def one_call(world):
            world.openai().chat.completions.create(model="gpt-fast", messages=[{"role": "user", "content": "hi"}])

        text = check("demo-usage", one_call).report()
        assert "✓ calls the model\n    1 attempt, " in text and ", 0 lost" in text
    finally:
        del CHECKS["demo-usage"]


def test_the_watchdog_stops_an_endless_pure_function():
    """A `while True:` in learner code that never touches a world becomes a failed case, not a hung cell."""
    from faultfirst.checks._framework import Report

    def endless(values):
        while True:
            pass  # one line, no world, no clock: only the CPU it burns shows the loop

    report = Report()
    with report.case("pure function"):
        report.call(endless, [1, 2, 3])
    [case] = report.cases
    assert not case.passed and "did not finish" in case.reason and "s of CPU time" in case.reason


def test_the_watchdog_stops_a_loop_that_touches_nothing_within_a_second():
    """A learner loop that makes no request and moves no clock is stopped by its CPU time, and the rest of
    the check is not run, so the report comes back at once."""
    import time

    def spins(*args, **kwargs):
        while True:
            pass

    with _three_calls() as label:
        start = time.process_time()
        report = check(label, spins).report()
        used = time.process_time() - start
    assert "✗ call 0\n    did not finish: it used more than 0.75 s of CPU time" in report
    assert report.count("not run: an earlier case did not finish") == 2
    assert used < 1.0


def test_the_watchdog_stops_a_coroutine_that_never_awaits():
    """`while True: pass` inside a coroutine holds the world's loop thread; the watchdog interrupts that thread
    too, so the world can still run code afterwards (a check cleans up on it)."""
    import asyncio

    from faultfirst import World
    from faultfirst.checks._framework import Report

    world = World(seed=0)

    async def spins():
        while True:
            pass

    report = Report()
    with report.case("spins on the loop"):
        report.call(lambda: world.run(spins()))
    [case] = report.cases
    assert not case.passed and "did not finish" in case.reason
    assert world.run(asyncio.sleep(1, result="free")) == "free"


def test_the_watchdog_stops_code_that_blocks_in_real_time(monkeypatch):
    """Code that waits without using CPU (a wall-clock sleep) is stopped by the real-time bound."""
    import time

    from faultfirst.checks import _framework

    monkeypatch.setattr(_framework, "WATCHDOG_REAL_SECONDS", 0.2)
    report = _framework.Report()
    with report.case("sleeps"):
        report.call(time.sleep, 30)
    [case] = report.cases
    assert not case.passed and "still running after 0.2 s" in case.reason


def test_not_attempted_names_the_helper_that_is_still_a_stub():
    """A learner who wrote the outer function but not a helper is told to write the helper."""
    def pause(attempt):
        raise NotImplementedError("exercise retries-policy: write this part")

    def call_with_retries(*args, **kwargs):
        return pause(1)

    with _three_calls() as label:
        result = check(label, call_with_retries)
    assert result.status == "not attempted" and "`pause`" in result.report()


@contextlib.contextmanager
def _three_calls():
    """A check registered for one test: three cases, each calling the learner's function once."""
    from faultfirst.checks._framework import CHECKS, register

    @register("demo-three-calls")
    def _demo(fn, report) -> None:
        for n in range(3):
            with report.case(f"call {n}"):
                report.call(fn)

    try:
        yield "demo-three-calls"
    finally:
        del CHECKS["demo-three-calls"]


def test_a_cancelled_error_from_learner_code_is_a_failed_case():
    """CancelledError is a BaseException; one that escapes learner code (a gather without return_exceptions
    over a task it cancelled) must be a line in the report, not a traceback in the notebook."""
    import asyncio

    from faultfirst import World

    world = World(seed=0)

    async def cancels_its_own_task():
        task = asyncio.create_task(asyncio.sleep(5))
        task.cancel()
        await asyncio.gather(task)

    with _three_calls() as label:
        report = check(label, lambda: world.run(cancels_its_own_task())).report()
    assert "raised CancelledError" in report and "the check itself" not in report
