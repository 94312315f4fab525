"""The book's reference solution of an exercise, runnable outside a notebook, optionally with a mistake in it.

Checks are written against mistakes: each check module lists the wrong answers a
learner plausibly writes, each as a textual change to the reference solution in
`book/` (`Mistake` in `faultfirst.checks._framework`). The tests and the
check-time benchmark need that solution as a function: `reference(label)` runs
what the exercises notebook runs (the lesson's `setup` cells, then the solution
cells of its exercises up to this one) and returns the function the check cell
passes to `check(...)`; `reference(label, mistake)` applies the mistake's
changes to this exercise's solution cell first.

A change must match the solution text exactly once, so when a solution is
rewritten, a mistake that no longer applies fails loudly instead of testing
nothing.
"""

from __future__ import annotations

import linecache
import re
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jupytext

from ..build.generate import find_exercises, lessons
from ..build.generate import stub as stubbed
from ..repository import find_repo_root

_CHECKED_NAME = re.compile(r"check\(\s*[\"'](?P<label>[\w-]+)[\"']\s*,\s*(?P<name>\w+)")


@dataclass(frozen=True)
class ExerciseSource:
    """Where one exercise's code lives in its lesson."""

    label: str
    lesson: Path  # book/<tier>/<topic>.md
    setup: tuple[str, ...]  # the lesson's setup cells
    solutions: tuple[str, ...]  # the solution cells of this exercise and every one before it in the lesson
    function: str  # the name the check cell passes to check(...)
    labels: tuple[str, ...] = ()  # the exercises those solution cells belong to, in the same order

    @property
    def solution(self) -> str:
        return self.solutions[-1]


@cache
def _sources(root: Path) -> dict[str, ExerciseSource]:
    found: dict[str, ExerciseSource] = {}
    for lesson in lessons(root):
        notebook = jupytext.read(lesson.source)
        setup = tuple(c.source for c in notebook.cells if "setup" in c.metadata.get("tags", []))
        solutions: list[str] = []
        labels: list[str] = []
        for exercise in find_exercises(notebook):
            solutions.append(notebook.cells[exercise.solution].source)
            labels.append(exercise.label)
            assert exercise.check is not None  # find_exercises() insists on a check cell
            called = _CHECKED_NAME.search(notebook.cells[exercise.check].source)
            if called is None:
                raise ValueError(f"{lesson.source}: the check cell of {exercise.label} should read "
                                 f"check({exercise.label!r}, <function>)")
            found[exercise.label] = ExerciseSource(exercise.label, lesson.source, setup, tuple(solutions),
                                                   called["name"], tuple(labels))
    return found


def exercise_source(label: str, root: Path | None = None) -> ExerciseSource:
    """The code of exercise `label` as the book has it."""
    sources = _sources(root or find_repo_root())
    if label not in sources:
        raise KeyError(f"no exercise {label!r} in book/; the exercises are: {', '.join(sorted(sources))}")
    return sources[label]


def apply_changes(code: str, changes: Iterable[tuple[str, str]], *, label: str) -> str:
    """`code` with each `(old, new)` applied; each `old` must occur exactly once."""
    for old, new in changes:
        count = code.count(old)
        if count != 1:
            raise ValueError(f"{label}: a mistake's change expects {old!r} exactly once in the reference solution, "
                             f"found it {count} times; update the mistake to the solution as it now reads")
        code = code.replace(old, new)
    return code


def reference(label: str, changes: Iterable[tuple[str, str]] = (), *, root: Path | None = None) -> Callable[..., Any]:
    """The function the check of `label` receives from the book's solution, with `changes` applied to it."""
    source = exercise_source(label, root)
    return _define(source, apply_changes(source.solution, changes, label=label))


def stub(label: str, *, root: Path | None = None) -> Callable[..., Any]:
    """The function as the learner's notebook starts it: this solution and every one before it in the lesson
    replaced by `raise NotImplementedError`, as in `notebooks/` and `exercises/`."""
    source = exercise_source(label, root)
    stubs = [stubbed(code, owner) for code, owner in zip(source.solutions, source.labels, strict=True)]
    return _define(source, stubs[-1], earlier=stubs[:-1])


def _define(source: ExerciseSource, solution: str, *, earlier: Iterable[str] | None = None) -> Callable[..., Any]:
    """Run the lesson's setup and earlier solutions (or `earlier`), then `solution`, as the exercises notebook does."""
    # A module of its own, registered, as a kernel's __main__ is: dataclasses look their module up by name.
    module = types.ModuleType(f"faultfirst_reference_{source.label.replace('-', '_')}")
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    for number, code in enumerate((*source.setup, *(source.solutions[:-1] if earlier is None else earlier))):
        _run(code, f"<{source.lesson} setup, cell {number}>", namespace)
    _run(solution, f"<{source.lesson} solution of {source.label}>", namespace)
    return namespace[source.function]


def _run(code: str, filename: str, namespace: dict[str, Any]) -> None:
    """Execute `code` as a notebook cell: registered in linecache under `filename`, as IPython registers a cell, so
    that `inspect.getsource` reads the functions it defines (a check that type-checks the learner's code does)."""
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), namespace)
