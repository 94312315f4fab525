"""`notebooks/` is `solutions/` with stubs: proved here, so the suite executes each lesson once.

The reading copy of a lesson (`notebooks/`, what a learner opens) differs from `solutions/` in three
kinds of cell only: a Colab cell before the first code, each exercise's solution replaced by a stub,
and the check cells, which say "not attempted". Every other cell reads no name an exercise defines
(generate.check() holds the lesson to that: faultfirst/build/independence.py), so it runs the same in
both copies. nbval executes `solutions/` in every run of the suite and compares every output with the
committed one; this test proves every output of the committed reading copy equal to those (and each
check cell's to what the check says of the stubs now). Together they compare every output of both
copies with a fresh execution, at the cost of one. `.ci/run` also executes `notebooks/` itself.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from faultfirst.build.generate import Book, build, exercise_independence, find_exercises, lessons
from faultfirst.build.independence import bound_names, definitions, loaded_names
from faultfirst.checks import check
from faultfirst.repository import repository_url
from faultfirst.testing.solutions import stub

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lessons(ROOT)


@lru_cache(maxsize=1)
def _book() -> Book:
    return Book.load(ROOT, repository=repository_url(ROOT))


def _without_counts(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """Outputs as nbval compares them: the execution count shifts by one for the Colab cell."""
    plain = copy.deepcopy(outputs)
    for output in plain:
        output.pop("execution_count", None)
    return plain


def _read(variant: str, lesson) -> NotebookNode:
    return nbformat.read(lesson.target(ROOT, variant), as_version=4)


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.name.as_posix() for lesson in LESSONS])
def test_the_reading_copy_is_the_solutions_with_stubs(lesson):
    source = _book().source(lesson)
    roles = {}
    for exercise in find_exercises(source):
        roles[exercise.solution] = ("solution", exercise.label)
        roles[exercise.check] = ("check", exercise.label)
    code_roles = [roles.get(i, ("lesson", "")) for i, cell in enumerate(source.cells) if cell.cell_type == "code"]

    reading = [c for c in _read("notebooks", lesson).cells if c.cell_type == "code"]
    colab = [c for c in reading if "colab" in c.metadata.get("tags", [])]
    assert len(colab) == 1 and colab[0].outputs == [], "the Colab cell prints nothing outside Colab"
    reading = [c for c in reading if c is not colab[0]]
    solved = [c for c in _read("solutions", lesson).cells if c.cell_type == "code"]
    assert len(reading) == len(solved) == len(code_roles), "run `uv run python -m faultfirst.build`"

    expected_sources = [c.source for c in build(lesson, "notebooks", _book()).cells
                        if c.cell_type == "code" and "colab" not in c.metadata.get("tags", [])]
    assert len(expected_sources) == len(reading), "run `uv run python -m faultfirst.build`"
    for number, (role, mine, theirs, want_source) in enumerate(zip(code_roles, reading, solved, expected_sources,
                                                                   strict=True), 1):
        where = f"{lesson.name}: code cell {number} ({role[0]})"
        assert mine.source == want_source, f"{where}: run `uv run python -m faultfirst.build`"
        kind, label = role
        if kind == "check":
            said = repr(check(label, stub(label)))
            assert [o.output_type for o in mine.outputs] == ["execute_result"], where
            assert mine.outputs[0].data["text/plain"] == said, f"{where}: the check says now:\n{said}"
        elif kind == "solution":
            assert mine.outputs == theirs.outputs == [], f"{where}: a solution cell only defines"
        else:
            assert _without_counts(mine.outputs) == _without_counts(theirs.outputs), (
                f"{where}: prints otherwise in the reading copy than in solutions/; does it depend on an "
                "exercise? (run `uv run python -m faultfirst.build`)")


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.name.as_posix() for lesson in LESSONS])
def test_no_lesson_cell_uses_what_an_exercise_defines(lesson):
    assert exercise_independence(_book().source(lesson)) == []


def _lesson(*cells: tuple[str, str]) -> NotebookNode:
    made = [nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
            for kind, text in cells]
    return nbformat.v4.new_notebook(cells=made)


_EXERCISE = (("md", "::::{exercise}\n:label: demo-call\n\nWrite it.\n::::"),
             ("code", "def answer(x):\n    ### BEGIN SOLUTION\n    return helper(x)\n    ### END SOLUTION\n\n"
                      "def helper(x):\n    return x + LIMIT\n\nLIMIT = 3"),
             ("code", 'check("demo-call", answer)'))


def test_a_lesson_cell_after_the_exercise_may_not_call_its_function_directly_or_through_a_helper():
    before = ("code", "def report(x):\n    return answer(x)\n\nprint(answer)")  # before the solution: same in both
    direct = ("code", "print(answer(1))")
    through = ("code", "print(report(2))")
    constant = ("code", "limit = LIMIT * 2")
    problems = exercise_independence(_lesson(("code", "import math"), before, *_EXERCISE, direct, through, constant))
    assert len(problems) == 3
    assert "code cell 5 uses `answer`" in problems[0] and "exercise demo-call" in problems[0]
    assert "code cell 6 uses `report`, which reaches `answer`" in problems[1]
    assert "code cell 7 uses `LIMIT`" in problems[2]
    assert exercise_independence(_lesson(("code", "import math"), before, *_EXERCISE, ("code", "print(math.pi)"))) == []


def test_bound_and_read_names_follow_pythons_scopes():
    code = ("import numpy as np, os.path\nfrom x import y as z\nA = 1\nfor i, j in []: pass\n"
            "with open('f') as fh: pass\ndef f(a=(w := 3)):\n    local = 2\nclass C(Base): inner = 1\n"
            "[k for k in range(3)]\ntry:\n    pass\nexcept E as err:\n    q = 1\nif True:\n    deep = 1\n"
            "await something()\n%time t = 1\n")
    assert bound_names(code) == {"np", "os", "z", "A", "i", "j", "fh", "f", "w", "C", "err", "q", "deep"}
    assert {"Base", "E", "range", "something", "open"} <= loaded_names(code)
    assert definitions("def g():\n    return hedged(1)\nclass K:\n    def m(self):\n        return LIMIT") == {
        "g": {"hedged"}, "K": {"LIMIT"}}
