"""Generate `notebooks/`, `solutions/` and `exercises/` from the lessons in `book/`.

- `notebooks/`: each lesson as a learner runs it, solutions replaced by stubs,
  executed, with a collapsed cell before the first code that installs the package on Colab only.
- `solutions/`: each lesson with its solutions, executed.
- `exercises/`: the setup cells and the exercises only, stubs, no outputs.

Output is byte-identical across runs: cell ids are fixed, execution timing is
not recorded, and notebook metadata keeps only what does not vary by machine.

`check()` regenerates every file without executing and compares it with the
committed one, taking outputs from the committed file itself; `pytest --nbval`
re-executes the committed notebooks and compares those outputs. Together they
prove each committed file is what its source gives.

What JupyterLab cannot take from the book, the generator writes in: each exercise's number (the
book's, counted across the book in `_toc.yml` order, the numbers readers cite), links to the sibling
notebooks (the book's cross-references), and the lesson's time estimate (faultfirst/build/estimate.py),
which it also keeps up to date in the lesson's own header.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml
from nbclient import NotebookClient
from nbformat import NotebookNode

from ..repository import pages_url
from . import estimate
from .independence import uses_of_exercise_names
from .myst import exercise_labels, fill_glue, numbered_exercise_labels, to_jupyter

VARIANTS = ("notebooks", "solutions", "exercises")
EXECUTED = ("notebooks", "solutions")
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
_SOLUTION = re.compile(rf"^(?P<indent>[ \t]*){re.escape(_BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(_END)}[^\n]*$",
                       re.DOTALL | re.MULTILINE)
_KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
_GLUE_MIME_PREFIX = "application/papermill.record/"
COLAB_CELL = '''\
#@title Google Colab only: install this course's package (anywhere else this cell does nothing)
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "faultfirst @ git+{repository}"], check=True)'''
# Colab shows a `#@title` cell as its title only ("form" view); JupyterLab collapses a `source_hidden` cell to a bar.
_COLAB_METADATA = {"tags": ["colab"], "cellView": "form", "jupyter": {"source_hidden": True}}


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




def toc_order(root: Path) -> list[str]:
    """Every page of the book (`book/tier1/tokens`), in the order `_toc.yml` gives them."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    order: list[str] = []

    def walk(entry: dict) -> None:
        if entry.get("numbered"):
            raise ValueError("_toc.yml numbers its sections: the book's exercise numbers then carry the section "
                             "number, which faultfirst/build/generate.py does not compute; teach it, or drop numbered")
        if "file" in entry:
            order.append(str(entry["file"]).removesuffix(".md"))
        for key in ("parts", "chapters", "sections"):
            for child in entry.get(key, []):
                walk(child)

    order.append(str(toc["root"]).removesuffix(".md"))
    walk({k: v for k, v in toc.items() if k != "root"})
    return order


def exercise_numbers(root: Path) -> dict[str, int]:
    """Each exercise's number as the book shows it: sphinx-exercise numbers them across the whole book, in the
    order of `_toc.yml` (no `numbered:` sections), skipping those marked `:nonumber:`."""
    numbers: dict[str, int] = {}
    for page in toc_order(root):
        source = root / f"{page}.md"
        if not source.is_file():
            continue
        for label in numbered_exercise_labels(source.read_text(encoding="utf-8")):
            numbers[label] = len(numbers) + 1
    return numbers


@dataclass(frozen=True)
class Book:
    """What every lesson's variants share: the repository, the exercise numbers, which pages are lessons."""

    root: Path
    repository: str
    numbers: dict[str, int]
    lesson_pages: frozenset[str]  # "book/tier1/tokens" for each lesson with notebooks
    _sources: dict[Path, NotebookNode] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, root: Path, *, repository: str) -> Book:
        return cls(root, repository, exercise_numbers(root),
                   frozenset(f"book/{lesson.name.as_posix()}" for lesson in lessons(root)))

    def source(self, lesson: Lesson) -> NotebookNode:
        """The lesson as jupytext reads it, read once for all three variants (reading is most of `check`'s time)."""
        if lesson.source not in self._sources:
            self._sources[lesson.source] = jupytext.read(lesson.source)
        return self._sources[lesson.source]

    def title(self, label: str) -> str:
        number = self.numbers.get(label)
        return f"Exercise {number} ({label})" if number is not None else f"Exercise ({label})"

    def linker(self, lesson: Lesson, variant: str) -> Callable[[str, str | None], str]:
        """A `{doc}` reference in `lesson` as a markdown link that works where the `variant` notebook is opened.

        A lesson links to its sibling notebook (the `exercises/` copy links to the whole lesson in `notebooks/`,
        which is where a reference's text is); a prose page, which has no notebook, to the online book.
        """
        here = f"{variant}/{lesson.name.parent.as_posix()}"

        def link(target: str, text: str | None) -> str:
            page = (target.lstrip("/") if target.startswith("/")
                    else posixpath.normpath(posixpath.join("book", lesson.name.parent.as_posix(), target)))
            source = self.root / f"{page}.md"
            if not source.is_file():
                raise ValueError(f"book/{lesson.name.as_posix()}.md: {{doc}}`{target}` names no page in book/")
            text = text or _page_title(source)
            if page in self.lesson_pages:
                folder = "notebooks" if variant == "exercises" else variant
                href = posixpath.relpath(f"{folder}/{page.removeprefix('book/')}.ipynb", here)
            else:
                href = f"{pages_url(self.repository)}/{page}.html"
            return f"[{text}]({href})"

        return link


def _page_title(source: Path) -> str:
    title = re.search(r"^# (.+)$", source.read_text(encoding="utf-8"), re.MULTILINE)
    return title[1].strip() if title else source.stem


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


def _markdown(source: str) -> NotebookNode:
    # nbformat.v4.new_markdown_cell validates each cell against the schema: most of what `check` spent. The
    # cells here are plain by construction, and the tests validate whole notebooks.
    return NotebookNode(cell_type="markdown", metadata=NotebookNode(), source=source)


def _code(source: str, tags: list[str] | None = None) -> NotebookNode:
    cell = NotebookNode(cell_type="code", execution_count=None, metadata=NotebookNode(), outputs=[], source=source)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def build(lesson: Lesson, variant: str, book: Book) -> NotebookNode:
    """The variant of `lesson`, unexecuted."""
    source = book.source(lesson)
    exercises = find_exercises(source)
    titles = {e.label: book.title(e.label) for e in exercises}
    link = book.linker(lesson, variant)
    by_solution = {e.solution: e for e in exercises}
    cells: list[NotebookNode] = []
    if variant == "exercises":
        title = next((c.source.splitlines()[0] for c in source.cells if c.cell_type == "markdown"), "# Exercises")
        whole = posixpath.relpath(f"notebooks/{lesson.name.as_posix()}.ipynb",
                                  f"exercises/{lesson.name.parent.as_posix()}")
        cells.append(_markdown(
            f"{title}: exercises\n\nThe setup and the exercises of this lesson, to practise without the text around "
            f"them; [the whole lesson]({whole}) explains them. Either copy counts for `faultfirst progress`."))
        cells += [_code(c.source, ["setup"]) for c in source.cells if "setup" in c.metadata.get("tags", [])]
        for exercise in exercises:
            cells.append(_markdown(to_jupyter(exercise.statement, titles, link)))
            cells.append(_code(stub(source.cells[exercise.solution].source, exercise.label)))
            cells.append(_code(source.cells[exercise.check].source))
    else:
        colab_due = variant == "notebooks"
        for index, cell in enumerate(source.cells):
            if cell.cell_type == "markdown":
                text = to_jupyter(cell.source, titles, link)
                if text:
                    cells.append(_markdown(text))
            elif cell.cell_type == "code":
                if colab_due:  # after the title and the situation, where Colab still runs it before any import
                    colab = _code(COLAB_CELL.format(repository=book.repository))
                    colab.metadata.update(_COLAB_METADATA)
                    cells.append(colab)
                    colab_due = False
                code = cell.source
                if variant == "notebooks" and index in by_solution:
                    code = stub(code, by_solution[index].label)
                cells.append(_code(code, cell.metadata.get("tags")))
    if cells and cells[0].cell_type == "markdown":
        cells[0].source = f"{provenance(lesson)}\n\n{cells[0].source}"
    else:
        cells.insert(0, _markdown(provenance(lesson)))
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number:03d}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {"kernelspec": dict(_KERNELSPEC), "language_info": {"name": "python"},
                         "faultfirst": {"source": f"book/{lesson.name.as_posix()}.md", "variant": variant}}
    return notebook


def provenance(lesson: Lesson) -> str:
    """The line above each generated notebook's title: where it comes from, so nobody edits the copy."""
    return (f"*Generated from `book/{lesson.name.as_posix()}.md` by `uv run python -m faultfirst.build`: to change "
            "the course, edit that file, not this notebook. As a learner, this copy is yours to write in.*")


def stale_estimate(lesson: Lesson, book: Book) -> str | None:
    """What is wrong with the lesson header's time estimate (see estimate.py), or None if it is the formula's."""
    said = estimate.stated(lesson.source.read_text(encoding="utf-8"))
    due = estimate.describe(estimate.minutes(book.source(lesson)))
    if said is None:
        return "its header states no time estimate (write `*About 45 minutes. Prerequisites: ...*` under the title)"
    return None if said == due else f"its header says about {said}; its source gives about {due}"


def update_estimate(lesson: Lesson) -> bool:
    """Write the formula's estimate into the lesson's header; True if the header changed."""
    text = lesson.source.read_text(encoding="utf-8")
    updated = estimate.restate(text, estimate.minutes(jupytext.reads(text, fmt="md:myst")))
    if updated != text:
        lesson.source.write_text(updated, encoding="utf-8")
    return updated != text


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
    """Build, execute and write every variant of every lesson (or only the given sources), after writing each
    lesson's time estimate into its header."""
    outcome = Outcome()
    book = Book.load(root, repository=repository)
    for lesson in lessons(root):
        if only and lesson.source.resolve() not in {p.resolve() for p in only}:
            continue
        if update_estimate(lesson):
            outcome.written.append(lesson.source.relative_to(root))
        for variant in VARIANTS:
            notebook = build(lesson, variant, book)
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
    for index, (want, got) in enumerate(zip(expected.cells, actual.cells, strict=True)):
        if want != got:
            return f"cell {index} ({got.get('id')}) differs"
    return "metadata or formatting differs"


def check(root: Path, *, repository: str) -> list[str]:
    """What differs between the committed generated files and what book/ gives; empty if nothing."""
    problems = []
    expected_files = set()
    book = Book.load(root, repository=repository)
    for lesson in lessons(root):
        if (stale := stale_estimate(lesson, book)) is not None:
            problems.append(f"{lesson.source.relative_to(root)}: {stale} (run `uv run python -m faultfirst.build`)")
        problems += [f"{lesson.source.relative_to(root)}: {use}" for use in exercise_independence(book.source(lesson))]
        for variant in VARIANTS:
            target = lesson.target(root, variant)
            expected_files.add(target)
            shown = target.relative_to(root)
            if not target.exists():
                problems.append(f"{shown}: missing (run `uv run python -m faultfirst.build`)")
                continue
            try:
                expected = build(lesson, variant, book)
            except ValueError as err:  # the source itself is wrong: say which, and keep checking the rest
                problems.append(f"{lesson.source.relative_to(root)}: {err}")
                break
            committed = nbformat.reads(target.read_text(encoding="utf-8"), as_version=4)
            if variant in EXECUTED and len(committed.cells) == len(expected.cells):
                for want, got in zip(expected.cells, committed.cells, strict=True):
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


def exercise_independence(source: NotebookNode) -> list[str]:
    """The lesson's code cells that use what an exercise's solution defines (see independence.py)."""
    try:
        exercises = find_exercises(source)
    except ValueError:
        return []  # the variants' build reports a malformed exercise, once
    return list(uses_of_exercise_names(source, {e.solution: e.label for e in exercises if e.solution is not None},
                                       {e.check for e in exercises if e.check is not None}))


def iter_exercise_labels(root: Path) -> Iterator[tuple[Lesson, str]]:
    """Every exercise label in the book, with its lesson."""
    for lesson in lessons(root):
        for exercise in find_exercises(jupytext.read(lesson.source)):
            yield lesson, exercise.label
