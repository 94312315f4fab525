"""Lesson cells must not use what an exercise's solution defines: the learner's copy has a stub there.

`notebooks/` is `solutions/` with each solution replaced by a stub (and a Colab cell up front). A lesson
cell that reads a name a solution cell binds (the exercise's function, a helper or constant written
beside it) fails, or prints something else, in the learner's copy: "Run All" breaks at that cell. A
lesson cell that reads none of them runs the same in both copies, which is what lets the test suite
execute `solutions/` alone and prove `notebooks/` equal to it (tests/test_reading_copies.py) rather
than run every lesson twice. `generate.check()` reports every such use, with the cell and the name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import lru_cache

from nbformat import NotebookNode

_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@lru_cache(maxsize=1)
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager  # magics (%time, !cmd) become Python

    return TransformerManager()


def _tree(code: str) -> ast.Module:
    return compile(_transformer().transform_cell(code), "<cell>", "exec", flags=_FLAGS, dont_inherit=True)


class _ModuleBindings(ast.NodeVisitor):
    """Collects the names a module-level block binds; function and class bodies have scopes of their own."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.add(node.id)

    def _named_scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.names.add(node.name)
        outside: list[ast.expr] = list(node.decorator_list)  # evaluated where the def is, not in its body
        if isinstance(node, ast.ClassDef):
            outside += node.bases + [keyword.value for keyword in node.keywords]
        else:
            outside += node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
        for expression in outside:
            self.visit(expression)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _named_scope

    def _own_scope(self, node: ast.AST) -> None:  # lambdas and comprehensions bind nothing outside themselves
        pass

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _own_scope

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)


def bound_names(code: str) -> set[str]:
    """The names a cell binds at module level (defs, classes, assignments, imports, loop and with targets)."""
    collector = _ModuleBindings()
    collector.visit(_tree(code))
    return collector.names


def loaded_names(code: str) -> set[str]:
    """Every name a cell reads, in function bodies too (a function defined here may run later)."""
    return {node.id for node in ast.walk(_tree(code)) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def definitions(code: str) -> dict[str, set[str]]:
    """Each function or class a cell defines at module level, with the names its body reads when it runs."""
    return {node.name: {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            for node in ast.walk(_tree(code))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.col_offset == 0}


def uses_of_exercise_names(source: NotebookNode, solutions: dict[int, str], checks: set[int]) -> Iterator[str]:
    """Each lesson code cell, after the first solution, that reads what a solution defines, even through a
    function of the lesson's own whose body reads it: which cell, which name, whose exercise.

    `solutions` maps the index in `source` of each solution cell to its exercise's label; `checks` holds
    the indices of the check cells, which may use those names. Until the first solution cell the two
    copies have run the same code, so earlier cells are the same in both, whatever they read.
    """
    lesson = {i: c.source for i, c in enumerate(source.cells)
              if c.cell_type == "code" and i not in solutions and i not in checks}
    origin: dict[str, str] = {}  # a name that leads to an exercise's code -> the name it leads to
    for index in solutions:
        origin.update({name: name for name in bound_names(source.cells[index].source)})
    owner = {name: solutions[i] for i in solutions for name in bound_names(source.cells[i].source)}
    grown = True
    while grown:  # a lesson function that calls one that reads an exercise's name leads there too
        grown = False
        for code in lesson.values():
            for name, reads in definitions(code).items():
                if name not in origin and (reached := sorted(reads & origin.keys())):
                    origin[name], grown = origin[reached[0]], True
    code_numbers = {i: n for n, i in enumerate((i for i, c in enumerate(source.cells) if c.cell_type == "code"), 1)}
    for index in sorted(i for i in lesson if i > min(solutions, default=len(source.cells))):
        for name in sorted(loaded_names(lesson[index]) & origin.keys()):
            via = "" if origin[name] == name else f", which reaches `{origin[name]}`"
            yield (f"code cell {code_numbers[index]} uses `{name}`{via}, defined by the solution of exercise "
                   f"{owner[origin[name]]}; the learner's copy has a stub there, so this cell would fail in it. "
                   "Give the lesson a name of its own (defined outside the exercise), or move the cell into the "
                   "exercise's solution")
