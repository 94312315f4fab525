"""Generate `notebooks/`, `solutions/` and `exercises/` from the lessons in `book/`.

- `notebooks/`: each lesson as a learner runs it, solutions replaced by stubs,
  executed, with a first cell that installs the package on Colab only.
- `solutions/`: each lesson with its solutions, executed.
- `exercises/`: the setup cells and the exercises only, stubs, no outputs.

Output is byte-identical across runs: cell ids are fixed, execution timing is
not recorded, and notebook metadata keeps only what does not vary by machine.

`check()` regenerates every file without executing and compares it with the
committed one, taking outputs from the committed file itself; `pytest --nbval`
re-executes the committed notebooks and compares those outputs. Together they
prove each committed file is what its source gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

from .myst import exercise_labels, fill_glue, to_jupyter

VARIANTS = ("notebooks", "solutions", "exercises")
EXECUTED = ("notebooks", "solutions")
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
_SOLUTION = re.compile(rf"^(?P<indent>[ \t]*){re.escape(_BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(_END)}[^\n]*$", re.DOTALL | re.MULTILINE)
_KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
_GLUE_MIME_PREFIX = "application/papermill.record/"
COLAB_CELL = '''\
# On Google Colab only: install the course's package. Anywhere else it is installed already and this does nothing.
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "faultfirst @ git+{repository}"], check=True)'''


@dataclass(frozen=True)
class Lesson:
    source: Path  # book/<tier>/<topic>.md
    name: Path  # <tier>/<topic>, relative to book/

    def target(self, root: Path, variant: str) -> Path:
        return root / variant / self.name.with_suffix(".ipynb")


@dataclass
class _Exercise:
    label: str
    statement: str  # the exercise directive, as MyST
    solution: int | None = None  # index of the code cell with the solution
    check: int | None = None  # index of the code cell that runs the check


def lessons(root: Path) -> list[Lesson]:
    """Every notebook lesson in book/ (markdown files with a kernelspec; prose pages have none)."""
    book = root / "book"
    found = []
    for path in sorted(book.rglob("*.md")):
        head = path.read_text(encoding="utf-8")[:2000]
        if head.startswith("---") and "kernelspec:" in head.split("\n---", 2)[0]:
            found.append(Lesson(path, path.relative_to(book).with_suffix("")))
    return found


def stub(code: str, label: str) -> str:
    """The learner's starting point: each solution region replaced by `raise NotImplementedError`."""
    return _SOLUTION.sub(lambda m: f'{m["indent"]}raise NotImplementedError("exercise {label}: write this part")', code)


def find_exercises(source: NotebookNode) -> list[_Exercise]:
    """Find each exercise's statement, solution cell and check cell, in order."""
    found: list[_Exercise] = []
    pending: list[_Exercise] = []
    for index, cell in enumerate(source.cells):
        if cell.cell_type == "markdown":
            for label in exercise_labels(cell.source):
                match = re.search(rf"^(:{{3,}})\{{exercise\}}.*?\n:label:[ \t]*{re.escape(label)}[ \t]*\n.*?^\1[ \t]*$",
                                  cell.source, re.DOTALL | re.MULTILINE)
                exercise = _Exercise(label, match.group(0) if match else "")
                found.append(exercise)
                pending.append(exercise)
        elif cell.cell_type == "code":
            if _BEGIN in cell.source and pending and pending[0].solution is None:
                pending[0].solution = index
            elif pending and re.search(rf"check\(\s*[\"']{re.escape(pending[0].label)}[\"']", cell.source):
                pending.pop(0).check = index
    for exercise in found:
        if exercise.solution is None or exercise.check is None:
            raise ValueError(f"exercise {exercise.label}: needs a code cell with {_BEGIN} ... {_END} "
                             f"and then a cell calling check({exercise.label!r}, ...)")
    return found


def _titles(exercises: list[_Exercise]) -> dict[str, str]:
    return {e.label: f"Exercise {n} ({e.label})" for n, e in enumerate(exercises, 1)}


def _code(source: str, tags: list[str] | None = None) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def build(lesson: Lesson, variant: str, *, repository: str) -> NotebookNode:
    """The variant of `lesson`, unexecuted."""
    source = jupytext.read(lesson.source)
    exercises = find_exercises(source)
    titles = _titles(exercises)
    by_solution = {e.solution: e for e in exercises}
    cells: list[NotebookNode] = []
    if variant == "exercises":
        title = next((c.source.splitlines()[0] for c in source.cells if c.cell_type == "markdown"), "# Exercises")
        cells.append(nbformat.v4.new_markdown_cell(f"{title}: exercises\n\nThe setup and the exercises of this lesson; "
                                                   "the lesson itself explains them."))
        cells += [_code(c.source, ["setup"]) for c in source.cells if "setup" in c.metadata.get("tags", [])]
        for exercise in exercises:
            cells.append(nbformat.v4.new_markdown_cell(to_jupyter(exercise.statement, titles)))
            cells.append(_code(stub(source.cells[exercise.solution].source, exercise.label)))
            cells.append(_code(source.cells[exercise.check].source))
    else:
        if variant == "notebooks":
            cells.append(_code(COLAB_CELL.format(repository=repository), ["colab"]))
        for index, cell in enumerate(source.cells):
            if cell.cell_type == "markdown":
                text = to_jupyter(cell.source, titles)
                if text:
                    cells.append(nbformat.v4.new_markdown_cell(text))
            elif cell.cell_type == "code":
                code = cell.source
                if variant == "notebooks" and index in by_solution:
                    code = stub(code, by_solution[index].label)
                cells.append(_code(code, cell.metadata.get("tags")))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {"kernelspec": dict(_KERNELSPEC), "language_info": {"name": "python"},
                         "faultfirst": {"source": f"book/{lesson.name.as_posix()}.md", "variant": variant}}
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number:03d}"
    return notebook


def execute(notebook: NotebookNode, cwd: Path) -> None:
    """Run every cell in a fresh kernel, recording no timings (so reruns give the same bytes)."""
    NotebookClient(notebook, timeout=300, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    notebook.metadata = {k: v for k, v in notebook.metadata.items() if k in ("kernelspec", "faultfirst")}
    notebook.metadata["language_info"] = {"name": "python"}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = _joined_streams(cell.outputs)


def _joined_streams(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """Join back-to-back pieces of the same stream into one output.

    The kernel flushes stdout on a timer, so where one print's text ends and the next output begins
    depends on how fast the machine ran the cell; joined, the file is the same on every run.
    """
    joined: list[NotebookNode] = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (previous is not None and output.output_type == previous.output_type == "stream"
                and output.name == previous.name):
            previous.text += output.text
        else:
            joined.append(output)
    return joined


def _glued(notebook: NotebookNode) -> dict[str, str]:
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                values[name] = output["data"].get(f"{_GLUE_MIME_PREFIX}text/plain", "")
    return values


def fill_glued_values(notebook: NotebookNode, path: Path) -> None:
    """Write each glued value into the markdown that refers to it."""
    values = _glued(notebook)

    def lookup(key: str) -> str:
        if key not in values:
            raise ValueError(f"{path}: the text refers to {{glue}}`{key}`, but no cell glues {key!r}")
        return values[key]

    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = fill_glue(cell.source, lookup)


def serialise(notebook: NotebookNode) -> str:
    return nbformat.writes(notebook, version=4) + "\n"


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def generate(root: Path, only: list[Path] | None = None, *, repository: str) -> Outcome:
    """Build, execute and write every variant of every lesson (or only the given sources)."""
    outcome = Outcome()
    for lesson in lessons(root):
        if only and lesson.source.resolve() not in {p.resolve() for p in only}:
            continue
        for variant in VARIANTS:
            notebook = build(lesson, variant, repository=repository)
            target = lesson.target(root, variant)
            if variant in EXECUTED:
                target.parent.mkdir(parents=True, exist_ok=True)
                execute(notebook, target.parent)
                fill_glued_values(notebook, lesson.source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(serialise(notebook), encoding="utf-8")
            outcome.written.append(target.relative_to(root))
    return outcome


def _first_difference(expected: NotebookNode, actual: NotebookNode) -> str:
    if len(expected.cells) != len(actual.cells):
        return f"{len(actual.cells)} cells where the source gives {len(expected.cells)}"
    for index, (want, got) in enumerate(zip(expected.cells, actual.cells)):
        if want != got:
            return f"cell {index} ({got.get('id')}) differs"
    return "metadata or formatting differs"


def check(root: Path, *, repository: str) -> list[str]:
    """What differs between the committed generated files and what book/ gives; empty if nothing."""
    problems = []
    expected_files = set()
    for lesson in lessons(root):
        for variant in VARIANTS:
            target = lesson.target(root, variant)
            expected_files.add(target)
            shown = target.relative_to(root)
            if not target.exists():
                problems.append(f"{shown}: missing (run `uv run python -m faultfirst.build`)")
                continue
            try:
                expected = build(lesson, variant, repository=repository)
            except ValueError as err:  # the source itself is wrong: say which, and keep checking the rest
                problems.append(f"{lesson.source.relative_to(root)}: {err}")
                break
            committed = nbformat.reads(target.read_text(encoding="utf-8"), as_version=4)
            if variant in EXECUTED and len(committed.cells) == len(expected.cells):
                for want, got in zip(expected.cells, committed.cells):
                    if want.cell_type == "code" and got.cell_type == "code":
                        want.outputs, want.execution_count = got.outputs, got.execution_count
                fill_glued_values(expected, lesson.source)
            if serialise(expected) != target.read_text(encoding="utf-8"):
                problems.append(f"{shown}: differs from what {lesson.source.relative_to(root)} gives "
                                f"({_first_difference(expected, committed)}); run `uv run python -m faultfirst.build`")
    for variant in VARIANTS:
        for path in sorted((root / variant).rglob("*.ipynb")) if (root / variant).is_dir() else []:
            if path not in expected_files and ".ipynb_checkpoints" not in path.parts:
                problems.append(f"{path.relative_to(root)}: has no source in book/ (delete it, or restore its lesson)")
    return problems


def iter_exercise_labels(root: Path) -> Iterator[tuple[Lesson, str]]:
    """Every exercise label in the book, with its lesson."""
    for lesson in lessons(root):
        for exercise in find_exercises(jupytext.read(lesson.source)):
            yield lesson, exercise.label
