"""How long a lesson takes, computed from its source so the header can never drift from the lesson.

A hand-written "About 45 minutes" stayed put while lessons grew to a thousand lines and two
exercises. The estimate is instead a formula over what a learner does with the lesson:

- reads its prose at a technical reading speed (WORDS_PER_MINUTE; a reader who stops to think
  about a table or a claim reads technical text at half the speed of a novel);
- reads the code it shows (CODE_LINES_PER_MINUTE) and runs each cell and looks at what it
  printed (MINUTES_PER_CODE_CELL); cells the book hides (`remove-cell`) are not read;
- does each exercise: reading its statement and planning (MINUTES_PER_EXERCISE), then writing
  and debugging against the check about a minute per line of the reference solution
  (MINUTES_PER_SOLUTION_LINE); the solution cells are not also counted as code to read.

The total is rounded up to five minutes. `uv run python -m faultfirst.build` writes it into the
lesson's header line (`*About 2 hours 10 minutes. ...`) and `--check` fails when the header and the
formula disagree. docs/authoring.md and the "How to use this book" page state the same formula.
"""

from __future__ import annotations

import math
import re

from nbformat import NotebookNode

WORDS_PER_MINUTE = 130
CODE_LINES_PER_MINUTE = 20
MINUTES_PER_CODE_CELL = 0.5
MINUTES_PER_EXERCISE = 10
MINUTES_PER_SOLUTION_LINE = 1.0

# The header's estimate: "*About 45 minutes.", "*About 1 hour.", "*About 2 hours 10 minutes."
HEADER = re.compile(r"(?<=\*About )(?:\d+ hours?(?: \d+ minutes)?|\d+ minutes)(?=\.)")
_HIDDEN = {"remove-cell", "remove-input"}
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")  # a glued number or a cross-reference reads as one word
_SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(?P<body>.*?)^[ \t]*### END SOLUTION",
                       re.DOTALL | re.MULTILINE)
_EXERCISE = re.compile(r"^:{3,}\{exercise(?:-start)?\}", re.MULTILINE)


def _lines(code: str) -> int:
    return sum(1 for line in code.splitlines() if line.strip())


def minutes(notebook: NotebookNode) -> int:
    """The estimate for one lesson (a jupytext-read MyST notebook), in minutes, rounded up to five."""
    words = code_lines = code_cells = exercises = solution_lines = 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            text = HEADER.sub("", _ROLE.sub("X", cell.source))
            words += len(text.split())
            exercises += len(_EXERCISE.findall(cell.source))
        elif cell.cell_type == "code" and not _HIDDEN & set(cell.metadata.get("tags", [])):
            solutions = [m["body"] for m in _SOLUTION.finditer(cell.source)]
            if solutions:
                solution_lines += sum(map(_lines, solutions))
            else:
                code_lines += _lines(cell.source)
                code_cells += 1
    total = (words / WORDS_PER_MINUTE + code_lines / CODE_LINES_PER_MINUTE + code_cells * MINUTES_PER_CODE_CELL
             + exercises * MINUTES_PER_EXERCISE + solution_lines * MINUTES_PER_SOLUTION_LINE)
    return max(5, 5 * math.ceil(total / 5))


def describe(total: int) -> str:
    """`45 minutes`, `1 hour`, `2 hours 10 minutes`: how the header says it."""
    hours, rest = divmod(total, 60)
    if not hours:
        return f"{rest} minutes"
    said = f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{said} {rest} minutes" if rest else said


def stated(markdown: str) -> str | None:
    """The estimate a lesson's header states (`2 hours 10 minutes`), or None if it states none."""
    found = HEADER.search(markdown)
    return found.group(0) if found else None


def restate(markdown: str, total: int) -> str:
    """The lesson source with its header's estimate replaced by `total` minutes."""
    if stated(markdown) is None:
        raise ValueError("the lesson has no estimate in its header; write `*About 45 minutes. Prerequisites: ...*` "
                         "under the title (the generator fills in the number)")
    return HEADER.sub(describe(total), markdown, count=1)
