"""The machinery every exercise check shares.

A check is a function registered under an exercise label. It receives the
learner's function and a `Report`, and runs cases: the happy path first, then
the faults the lesson taught, each against a fresh seeded world. Learner code
runs only through `Report.call`, which turns every way it can go wrong (a stub,
an exception, a runaway loop) into a readable line instead of a crash, so a
check cell never breaks the notebook.

Checks are written against mistakes. A hint belongs to the observation that
diagnoses one mistake (`report.expect(..., hint=...)`), not to a case: a case
fails for many reasons, and a hint about another mistake teaches the wrong
thing. Each check module lists the mistakes a learner plausibly makes
(`mistakes(label, Mistake(...), ...)`), each as a change to the book's
reference solution and the hint that mistake must get; the tests run every
one and assert that the check rejects it with that hint.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..clock.limits import Runaway
from ..clock.loop import interrupt_running_loops
from ..service.scenarios import Scenario
from ..text import plural
from ..world import World

NOT_ATTEMPTED, PASSED, FAILED = "not attempted", "passed", "failed"


class _NotAttempted(Exception):
    """The learner's function (or a helper it calls) is still the stub."""

    def __init__(self, function: str | None) -> None:
        super().__init__(function)
        self.function = function  # the stub that raised, e.g. "`pause`"; None if it cannot be told


class _HintGiven(BaseException):
    """The hint a test waits for was given: the rest of the check need not run (a BaseException, so that no
    check's own `except Exception` can hold it up)."""


class _CaseFailed(Exception):
    """One case did not hold; the message says why, and the hint (if any) what to change."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.hint = hint


@dataclass(frozen=True)
class Case:
    name: str
    passed: bool
    reason: str = ""
    hint: str | None = None  # the hint of the expectation that failed, if it diagnoses a mistake
    detail: str = ""  # what the case measured (attempts, time, cost), shown whether it passed or not


@dataclass
class CaseNotes:
    """What a running case may add to its line: `notes.detail = usage(world)`."""

    detail: str = ""


def usage(world: World, *, lost: int | None = None) -> str:
    """One line on what a world saw: attempts, virtual time, cost, and (if given) what was lost."""
    cost = sum(r.cost_usd for r in world.requests)
    line = f"{plural(len(world.requests), 'attempt')}, {world.clock.now():,.1f} s simulated, ${cost:.4f}"
    return line if lost is None else f"{line}, {lost} lost"


@dataclass
class CheckResult:
    """The outcome of one check; its repr is the report a notebook shows."""

    label: str
    status: str
    cases: list[Case] = field(default_factory=list)
    function: str = "your function"

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def report(self) -> str:
        """The report, one logical line per item, never hard-wrapped.

        The notebook or the book wraps each line to the width it has (86 columns on a desktop, 36 on a
        phone); a line already broken at 100 columns would break again into fragments. So each case is a
        short line (its mark and name), and what it measured, why it failed and the hint each go on a line
        of their own, indented under it: the shape survives whatever width the reader has.
        """
        if self.status == NOT_ATTEMPTED:
            return (f"{self.label}: {NOT_ATTEMPTED}\n"
                    f"{_DETAIL}Replace the `raise NotImplementedError(...)` line in {self.function} with your code, "
                    "then run this cell again.")
        good, total = sum(c.passed for c in self.cases), len(self.cases)
        lines = [f"{self.label}: {self.status} ({good} of {plural(total, 'case')} {'passes' if good == 1 else 'pass'})"]
        for case in self.cases:
            lines.append(f"{'✓' if case.passed else '✗'} {_one_line(case.name)}")
            if case.detail:
                lines.append(_DETAIL + _one_line(case.detail))
            if not case.passed:
                lines.append(_DETAIL + _one_line(case.reason))
                if case.hint:
                    lines.append(f"{_DETAIL}hint: {_one_line(case.hint)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.report()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.report())


_DETAIL = "    "  # what a case measured, why it failed, its hint: under the case's mark and name


def _one_line(text: str) -> str:
    """`text` as one line: a line break inside a reason would start a line without the report's indentation."""
    return " ".join(text.split())


class Report:
    """Collects the cases of one check run."""

    def __init__(self, *, stop_at_hint: str | None = None) -> None:
        self.cases: list[Case] = []
        self._ran_away = False  # once learner code ran away, the rest is not run: the check answers at once
        self._stop_at_hint = stop_at_hint  # for tests: end the check at the first case that fails with this hint

    @contextmanager
    def case(self, name: str) -> Iterator[CaseNotes]:
        """One case: passes unless `expect` fails or the learner's code goes wrong inside it."""
        notes = CaseNotes()
        try:
            yield notes
        except _CaseFailed as failure:
            self.cases.append(Case(name, False, str(failure), failure.hint, notes.detail))
            if self._stop_at_hint is not None and failure.hint == self._stop_at_hint:
                raise _HintGiven from None
        else:
            self.cases.append(Case(name, True, detail=notes.detail))

    @staticmethod
    def expect(condition: bool, reason: str, *, hint: str | None = None) -> None:
        """Fail the current case with `reason` unless `condition` holds.

        `hint` is for an expectation whose failure points at one mistake: say how to fix that mistake.
        """
        if not condition:
            raise _CaseFailed(reason, hint)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call learner code; a stub, an exception or a runaway loop becomes a failed case."""
        value, err = self.outcome(fn, *args, **kwargs)
        if err is not None:
            raise _CaseFailed(f"raised {type(err).__name__}: {err}")
        return value

    def outcome(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
        """Call learner code and return `(value, None)`, or `(None, exception)` for what it raised.

        For checks where an exception is the answer (the lesson's own error types). A stub still means "not
        attempted" and a runaway still fails the case, and after a runaway the rest of the check is not run.
        """
        if self._ran_away:
            raise _CaseFailed("not run: an earlier case did not finish")
        try:
            with _watchdog():
                return fn(*args, **kwargs), None
        except NotImplementedError as err:
            raise _NotAttempted(_stub_name(err)) from err
        except Runaway as err:
            self._ran_away = True
            raise _CaseFailed(f"did not finish: it {err} (a loop with no limit?)") from None
        except (Exception, asyncio.CancelledError) as err:
            # CancelledError is a BaseException, but one escaping learner code is the learner's (a task it
            # cancelled and then awaited, a gather without return_exceptions), never the check's own.
            return None, err


def _stub_name(err: NotImplementedError) -> str | None:
    """The function whose body is still `raise NotImplementedError`: the innermost frame of the traceback.

    A learner who wrote the outer function but left a helper's stub must be told to write the helper.
    """
    tb = err.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    name = tb.tb_frame.f_code.co_name
    return f"`{name}`" if name.isidentifier() else None


# The last line of defence against a loop that touches no world and no request (`while True: pass`),
# which no virtual bound can see. CPU time, not real time, decides: a loaded machine slows a correct
# solution in real time but barely changes the CPU it uses, while a spinning loop uses CPU at once. No
# single call of a reference solution uses a third of this, its first call in a fresh process (which pays
# for the SDKs' first use) included: benchmarks/check_times.py measures it and fails if one does.
# Real time remains the bound for code that blocks without using CPU (a `time.sleep` in learner code).
WATCHDOG_CPU_SECONDS = 0.75
WATCHDOG_REAL_SECONDS = 10.0


@contextmanager
def _watchdog() -> Iterator[None]:
    """Raise `Runaway` in learner code that spins or blocks for too long (Unix, main thread only).

    The main thread is interrupted by a signal; a world's loop thread that is running learner coroutines
    (where a `while True:` without an `await` would spin forever) is interrupted too.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(what: str) -> Callable[[int, Any], None]:
        def handler(signum: int, frame: Any) -> None:
            _stop_timers()
            interrupt_running_loops(Runaway)
            raise Runaway(what)
        return handler

    previous = (signal.signal(signal.SIGPROF, expire(f"used more than {WATCHDOG_CPU_SECONDS:g} s of CPU time")),
                signal.signal(signal.SIGALRM, expire(f"was still running after {WATCHDOG_REAL_SECONDS:g} s")))
    # The collector is paused while the timers run: a full collection of a kernel's whole heap can cost
    # more CPU than the learner's call, and it would be charged to whichever call happened to trigger it.
    # It catches up as soon as the call returns; one call's garbage is bounded by its CPU bound.
    collecting = gc.isenabled()
    gc.disable()
    signal.setitimer(signal.ITIMER_PROF, WATCHDOG_CPU_SECONDS)
    signal.setitimer(signal.ITIMER_REAL, WATCHDOG_REAL_SECONDS)
    try:
        yield
    finally:
        _stop_timers()
        signal.signal(signal.SIGPROF, previous[0])
        signal.signal(signal.SIGALRM, previous[1])
        if collecting:
            gc.enable()


def _stop_timers() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)


def checked_world(*, seed: int, scenario: str | Scenario = "calm", max_attempts: int = 200,
                  max_seconds: float = 3600.0) -> World:
    """A fresh world for one case, bounded (for the rest of its life) so that runaway learner code stops."""
    world = World(seed=seed, scenario=scenario)
    world.limits(max_attempts=max_attempts, max_seconds=max_seconds)
    return world


@dataclass(frozen=True)
class Mistake:
    """A wrong answer a learner plausibly writes, as a change to the book's reference solution.

    `changes` are `(old, new)` replacements in the exercise's solution cell, each `old` found there exactly
    once (faultfirst.testing.solutions applies them). `hint` is the hint the check must give for it: the
    same string the check passes to `report.expect(..., hint=...)` where it diagnoses this mistake.
    """

    what: str
    changes: tuple[tuple[str, str], ...]
    hint: str


MISTAKES: dict[str, tuple[Mistake, ...]] = {}


def mistakes(label: str, *listed: Mistake) -> None:
    """Declare the plausible mistakes of exercise `label` (in its check module, beside its check)."""
    if label in MISTAKES:
        raise ValueError(f"mistakes for exercise {label!r} are listed twice")
    MISTAKES[label] = listed


CheckBody = Callable[[Callable[..., Any], Report], None]
CHECKS: dict[str, CheckBody] = {}


def register(label: str) -> Callable[[CheckBody], CheckBody]:
    """Register the check for the exercise labelled `label`."""
    def add(body: CheckBody) -> CheckBody:
        if label in CHECKS:
            raise ValueError(f"two checks for exercise {label!r}")
        CHECKS[label] = body
        return body
    return add


def check(label: str, fn: Callable[..., Any]) -> CheckResult:
    """Run the check for exercise `label` against the learner's `fn`, and return its report."""
    return _run(label, fn, Report())


def check_until_hint(label: str, fn: Callable[..., Any], hint: str) -> CheckResult:
    """Run the check of `label` until a case fails with `hint` (or to its end): what a mistake's test needs.

    tests/test_mistakes.py asserts that each listed mistake is rejected with its own hint; the cases after
    the one that gives it would only spend time.
    """
    return _run(label, fn, Report(stop_at_hint=hint))


def _run(label: str, fn: Callable[..., Any], report: Report) -> CheckResult:
    body = CHECKS.get(label)
    if body is None:
        raise KeyError(f"no check for exercise {label!r}; the checks are: {', '.join(sorted(CHECKS))}")
    name = f"`{getattr(fn, '__name__', 'your function')}`"
    if not callable(fn):
        return CheckResult(label, FAILED,
                           [Case("it is a function", False, f"expected a function, got {type(fn).__name__}")], name)
    try:
        body(fn, report)
    except _HintGiven:
        pass
    except _NotAttempted as stub:
        return CheckResult(label, NOT_ATTEMPTED, function=stub.function or name)
    except Exception as err:
        report.cases.append(Case("the check itself", False, f"the check crashed ({type(err).__name__}: {err}); "
                                                           "please report this as a bug"))
    status = PASSED if report.cases and all(c.passed for c in report.cases) else FAILED
    return CheckResult(label, status, report.cases, name)
