"""faultfirst.typecheck.type_errors: mypy on a function defined in a notebook, as the errors-as-types lesson runs it.

The functions here are defined in code executed as a notebook cell is (registered in linecache, in a module of
their own), so what the tests see is what a learner's kernel gives the type checker.
"""

from __future__ import annotations

import linecache
import sys
import types
from typing import Any

from faultfirst.typecheck import type_errors

CELL = '''
import dataclasses
from dataclasses import dataclass
from typing import Literal, assert_never

from pydantic import BaseModel


class Paper(BaseModel):
    title: str
    kind: Literal["article", "book"]


@dataclass(frozen=True)
class Found:
    paper: Paper


@dataclass(frozen=True)
class Missing:
    """No fields at all."""


class Broken(Exception):
    pass


Outcome = Found | Missing


def label(paper: Paper) -> str:
    return paper.title + " (" + paper.kind + ")"


def exhaustive(result: Outcome) -> str:
    match result:
        case Found(paper):
            return label(paper)
        case Missing():
            return "missing"
        case _:
            assert_never(result)


def forgets_missing(result: Outcome) -> str:
    match result:
        case Found(paper):
            return label(paper)
        case _:
            assert_never(result)


def wrong_helper_use(result: Outcome) -> int:
    if isinstance(result, Found):
        return label(result.paper)
    raise Broken("no paper")


def untyped(result):
    return result
'''


def _cell() -> dict[str, Any]:
    """CELL executed as a kernel executes a cell: in a registered module, its source in linecache."""
    module = types.ModuleType("typecheck_cell")
    sys.modules[module.__name__] = module
    filename = "<typecheck test cell>"
    linecache.cache[filename] = (len(CELL), None, CELL.splitlines(keepends=True), filename)
    exec(compile(CELL, filename, "exec"), module.__dict__)
    return module.__dict__


def test_an_exhaustive_match_over_notebook_types_has_no_errors():
    """Dataclasses (one with no fields), a pydantic model with a Literal field, the union alias and a helper the
    function calls are all declared as the kernel holds them: mypy finds nothing wrong."""
    assert type_errors(_cell()["exhaustive"]) == []


def test_a_missing_case_is_an_error_naming_the_type_and_the_line():
    """The case left out is named, at the assert_never line counted within the function."""
    assert type_errors(_cell()["forgets_missing"]) == [
        '`forgets_missing`, line 6: Argument 1 to "assert_never" has incompatible type "Missing"; expected "Never"  '
        "[arg-type]"]


def test_names_grows_a_union_for_the_type_checker_alone():
    """names= redeclares a name for mypy: the exhaustive function fails for the new member; the cell is unchanged."""
    cell = _cell()
    grown = type_errors(cell["exhaustive"], names={"Outcome": cell["Found"] | cell["Missing"] | cell["Broken"]})
    assert len(grown) == 1 and '"Broken"' in grown[0]
    assert cell["Outcome"] == cell["Found"] | cell["Missing"]


def test_a_helper_s_return_type_is_checked_through_its_own_source():
    """A notebook helper is type-checked from its source: its str returned as an int is an error; an exception
    class from the cell is a subclass of Exception to mypy (raising it is fine)."""
    errors = type_errors(_cell()["wrong_helper_use"])
    assert len(errors) == 1 and "Incompatible return value type (got \"str\", expected \"int\")" in errors[0]


def test_an_unannotated_function_is_reported_not_passed():
    """mypy skips the body of an unannotated function, so the checker insists on annotations."""
    errors = type_errors(_cell()["untyped"])
    assert len(errors) == 1 and "missing a type annotation" in errors[0]
