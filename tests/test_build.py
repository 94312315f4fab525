"""The book pipeline: MyST for Jupyter, stubs, the three generated variants, and the check mode."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from faultfirst.build.generate import COLAB_CELL, VARIANTS, Book, build, check, lessons, serialise, stub
from faultfirst.build.myst import exercise_labels, fill_glue, to_jupyter
from faultfirst.repository import find_repo_root, pages_url, repository_url

ROOT = find_repo_root()
REPOSITORY = repository_url(ROOT)
BOOK = Book.load(ROOT, repository=REPOSITORY)


def test_generated_files_are_what_the_sources_give():
    """Every committed file in notebooks/, solutions/ and exercises/ matches book/ (outputs are nbval's part)."""
    assert check(ROOT, repository=REPOSITORY) == []


def test_myst_directives_become_markdown_jupyter_renders():
    """Exercises, dropdowns, admonitions, cross-references and solution markers are rewritten."""
    source = (
        "Intro with {doc}`the guide <../intro/how-to-use-this-book>` and {doc}`plain-target`.\n\n"
        "::::{exercise}\n:label: demo-one\n\nWrite it.\n\n:::{dropdown} Hint 1\nLook here.\n:::\n::::\n\n"
        ":::{solution-start} demo-one\n:class: dropdown\n:::\n\n:::{note}\nBe careful.\n:::\n"
    )
    out = to_jupyter(source, {"demo-one": "Exercise 1 (demo-one)"})
    assert "Intro with the guide and plain-target." in out  # with no linker, a reference is its text
    assert "**Exercise 1 (demo-one)**\n\nWrite it." in out
    assert "<details>\n<summary>Hint 1</summary>\n\nLook here.\n\n</details>" in out
    assert "> **Note**\n>\n> Be careful." in out
    assert ":::" not in out and "solution-start" not in out and "{" not in out


def test_unknown_directive_is_an_error_that_says_where_to_add_it():
    """A directive with no Jupyter rendering fails loudly instead of leaking raw MyST into notebooks."""
    with pytest.raises(ValueError, match="faultfirst/build/myst.py"):
        to_jupyter(":::{margin}\nside\n:::\n", {})


def test_exercise_without_label_is_refused():
    """Every exercise needs a label, because its check is found by it."""
    with pytest.raises(ValueError, match="label"):
        exercise_labels("::::{exercise}\nNo label here.\n::::\n")


def test_glue_is_filled_with_the_format_spec():
    """{glue:text}`key:.2f` becomes the glued value formatted; a bare role gets the value's text."""
    values = {"p99": "1.23456", "n": "12"}
    assert fill_glue("p99 {glue:text}`p99:.2f` s over {glue}`n` calls",
                     values.__getitem__) == "p99 1.23 s over 12 calls"


def test_stub_keeps_signature_and_docstring_and_indentation():
    """The solution region becomes one raise at the marker's indentation; the rest stays."""
    code = ('def f(x):\n    """Doc."""\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\n'
            'def g():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n')
    out = stub(code, "demo")
    assert out == ('def f(x):\n    """Doc."""\n    y = 1\n'
                   '    raise NotImplementedError("exercise demo: write this part")\n\n'
                   'def g():\n    raise NotImplementedError("exercise demo: write this part")\n')


@pytest.mark.parametrize("variant", ["notebooks", "solutions", "exercises"])
def test_variants_are_deterministic_and_well_formed(variant):
    """Building a variant twice gives the same bytes, with fixed cell ids and a valid notebook."""
    lesson = lessons(ROOT)[0]
    first, second = build(lesson, variant, BOOK), build(lesson, variant, BOOK)
    assert serialise(first) == serialise(second)
    nbformat.validate(first)
    assert [c.id for c in first.cells] == [f"cell-{i:03d}" for i in range(len(first.cells))]


def test_variants_differ_where_they_should():
    """notebooks/ stubs solutions and holds the Colab cell; solutions/ keeps them; exercises/ is exercises only."""
    lesson = next(each for each in lessons(ROOT) if each.name.as_posix() == "tier1/first-calls")
    learner, solved, exercises = (build(lesson, v, BOOK) for v in ("notebooks", "solutions", "exercises"))
    learner_code = "\n".join(c.source for c in learner.cells if c.cell_type == "code")
    assert COLAB_CELL.format(repository=REPOSITORY) in (c.source for c in learner.cells)
    assert COLAB_CELL.format(repository=REPOSITORY) not in (c.source for c in solved.cells)
    assert "### BEGIN SOLUTION" not in learner_code
    assert 'raise NotImplementedError("exercise first-calls-reply' in learner_code
    assert "### BEGIN SOLUTION" in "\n".join(c.source for c in solved.cells)
    assert 'check("first-calls-reply", reply)' in learner_code
    kinds = [c.cell_type for c in exercises.cells]
    assert kinds.count("markdown") == 3 and all(not c.get("outputs") for c in exercises.cells if c.cell_type == "code")
    assert "setup" in exercises.cells[1].metadata["tags"]


def test_colab_cell_does_nothing_outside_colab():
    """The install cell only acts when google.colab is imported."""
    namespace: dict = {}
    exec(COLAB_CELL.format(repository=REPOSITORY), namespace)  # would run pip if it misjudged where it is
    assert "subprocess" not in namespace


def _copy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("book", "notebooks", "solutions", "exercises"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "_toc.yml", root / "_toc.yml")
    return root


def test_check_names_a_stale_file_after_a_source_edit(tmp_path):
    """Editing a lesson without regenerating makes the check fail, naming each stale file."""
    root = _copy_repo(tmp_path)
    before = set(check(root, repository=REPOSITORY))
    source = root / "book" / "tier1" / "first-calls.md"
    source.write_text(source.read_text().replace("## Trade-offs", "## Tradeoffs"))
    added = set(check(root, repository=REPOSITORY)) - before
    assert {p.split(":")[0] for p in added} == {"notebooks/tier1/first-calls.ipynb",
                                                "solutions/tier1/first-calls.ipynb"}


def test_check_names_missing_and_orphaned_files(tmp_path):
    """A generated file with no source, and a source with no generated file, are both reported."""
    root = _copy_repo(tmp_path)
    (root / "exercises" / "tier1" / "first-calls.ipynb").unlink()
    (root / "solutions" / "tier1" / "gone.ipynb").write_text("{}")
    problems = "\n".join(check(root, repository=REPOSITORY))
    assert "exercises/tier1/first-calls.ipynb: missing" in problems
    assert "solutions/tier1/gone.ipynb: has no source in book/" in problems


def test_every_lesson_page_links_its_learner_notebook_in_colab_binder_and_download():
    """The launch line of each lesson opens notebooks/<tier>/<lesson>.ipynb, a file that exists, in all three ways."""
    from faultfirst.build.sphinx import launch_links

    root = find_repo_root()
    found = lessons(root)
    assert found
    for lesson in found:
        notebook = Path("notebooks", lesson.name).with_suffix(".ipynb").as_posix()
        assert (root / notebook).is_file(), notebook
        line = launch_links("https://github.com/owner/repo", "main", notebook)
        assert f"https://colab.research.google.com/github/owner/repo/blob/main/{notebook})" in line
        assert f"https://mybinder.org/v2/gh/owner/repo/main?urlpath=lab/tree/{notebook})" in line
        assert f"{{download}}`download the notebook </{notebook}>`" in line


def test_pieces_of_one_stream_are_joined_so_reruns_give_the_same_bytes():
    """The kernel splits a cell's stdout where its flush timer fires; the generator joins adjacent pieces
    of the same stream, and keeps apart what a figure or the other stream separates."""
    from nbformat.v4 import new_output

    from faultfirst.build.generate import _joined_streams

    pieces = [new_output("stream", name="stdout", text="a\n"), new_output("stream", name="stdout", text="b\n"),
              new_output("stream", name="stderr", text="warning\n"), new_output("stream", name="stdout", text="c\n"),
              new_output("display_data", data={"text/plain": "figure"}),
              new_output("stream", name="stdout", text="d\n")]
    joined = _joined_streams(pieces)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in joined] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "warning\n"), ("stream", "stdout", "c\n"),
        ("display_data", None, None), ("stream", "stdout", "d\n")]


@functools.cache
def _generated() -> list[tuple[Path, NotebookNode]]:
    """Every committed generated notebook (read once for the tests below: reading all of them costs a second)."""
    found = []
    for variant in ("notebooks", "solutions", "exercises"):
        for path in sorted((ROOT / variant).rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            notebook = nbformat.from_dict(json.loads(path.read_text(encoding="utf-8")))
            for cell in notebook.cells:  # as nbformat.read would give it, without its second of validation
                cell.source = "".join(cell.source)
            found.append((path, notebook))
    return found


def test_exercise_numbers_are_the_books():
    """Notebooks number exercises as the book does: across the book in _toc.yml order (hedging's are 13 and 14),
    and the built HTML, when it is newer than the sources, shows the same numbers."""
    numbers = BOOK.numbers
    assert sorted(numbers.values()) == list(range(1, len(numbers) + 1))
    assert numbers["tokens-max-tokens"] == 1 and (numbers["hedging-call"], numbers["hedging-budget"]) == (13, 14)
    for path, notebook in _generated():
        for cell in notebook.cells:
            for number, label in re.findall(r"\*\*Exercise (\d+) \(([\w-]+)\)\*\*", cell.source):
                assert int(number) == numbers[label], \
                    f"{path}: exercise {label} is {number}, the book's {numbers[label]}"
    # The built book, if it is current (Sphinx writes its search index on every build, a page only when it
    # changed): every exercise it shows carries the generator's number.
    index = ROOT / "_build" / "html" / "searchindex.js"
    newest_source = max(p.stat().st_mtime for p in [ROOT / "_toc.yml", *(ROOT / "book").rglob("*.md")])
    if index.is_file() and index.stat().st_mtime >= newest_source:
        shown = {label: int(number) for page in index.parent.rglob("*.html")
                 for label, number in _SHOWN.findall(page.read_text(encoding="utf-8"))}
        assert shown == numbers, f"the built book's numbers {shown} differ from the generator's {numbers}"


_SHOWN = re.compile(r'<div class="exercise admonition" id="([\w-]+)">\s*<p class="admonition-title">'
                    r'<span class="caption-number">Exercise (\d+) </span>')


def test_the_book_numbering_rule_is_reproduced_from_a_toc(tmp_path):
    """Reordering _toc.yml renumbers exercises; :nonumber: skips one; a numbered toc (section-prefixed numbers
    the generator does not compute) is refused with a message that says so."""
    from faultfirst.build.generate import exercise_numbers

    (tmp_path / "book").mkdir()
    exercise = "::::{{exercise}}\n:label: {}\n{}\nDo it.\n::::\n"
    (tmp_path / "book" / "a.md").write_text("# A\n" + exercise.format("a-one", "") + exercise.format("a-two", ""))
    (tmp_path / "book" / "b.md").write_text("# B\n" + exercise.format("b-aside", ":nonumber:")
                                            + exercise.format("b-one", ""))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/b\nchapters:\n  - file: book/a\n")
    assert exercise_numbers(tmp_path) == {"b-one": 1, "a-one": 2, "a-two": 3}
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/b\nparts:\n  - numbered: true\n    chapters:\n"
                                       "      - file: book/a\n")
    with pytest.raises(ValueError, match="numbered"):
        exercise_numbers(tmp_path)


def test_links_between_lessons_open_in_jupyterlab():
    """A {doc} reference becomes a relative link to the sibling notebook (exercises/ links to the whole lesson in
    notebooks/), and every relative link in a generated notebook names a file that exists."""
    lesson = next(each for each in lessons(ROOT) if each.name.as_posix() == "tier2/hedging")
    learner = "\n".join(c.source for c in build(lesson, "notebooks", BOOK).cells if c.cell_type == "markdown")
    assert "[First calls with two SDKs](../tier1/first-calls.ipynb)" in learner and "{doc}" not in learner
    link = BOOK.linker(lesson, "exercises")
    assert link("../tier1/latency", None) == "[Latency and randomness](../../notebooks/tier1/latency.ipynb)"
    assert link("../intro/how-to-use-this-book", "the guide").startswith(f"[the guide]({pages_url(REPOSITORY)}/book/")
    with pytest.raises(ValueError, match="names no page"):
        link("../tier1/no-such-lesson", None)
    for path, notebook in _generated():
        for cell in notebook.cells:
            for href in re.findall(r"\]\(([^)\s]+)\)", cell.source if cell.cell_type == "markdown" else ""):
                if "://" not in href and not href.startswith("#"):
                    assert (path.parent / href).is_file(), f"{path}: the link {href} leads nowhere"


def test_colab_cell_is_collapsed_and_after_the_title():
    """The install cell is not what a JupyterLab user meets first: it follows the opening text, collapsed in Lab
    and shown as its one-line title in Colab, and comes before any other code (Colab must run it first)."""
    for path, notebook in _generated():
        colab = [i for i, c in enumerate(notebook.cells) if "colab" in c.metadata.get("tags", [])]
        if "notebooks" not in path.relative_to(ROOT).parts[:1]:
            assert not colab, path
            continue
        assert len(colab) == 1 and colab[0] > 0 and notebook.cells[0].cell_type == "markdown", path
        assert all(c.cell_type == "markdown" for c in notebook.cells[:colab[0]]), path
        cell = notebook.cells[colab[0]]
        assert cell.metadata["jupyter"]["source_hidden"] and cell.metadata["cellView"] == "form"
        assert cell.source.startswith("#@title Google Colab only")


def _outside_code(markdown: str) -> str:
    """The markdown a front end may read as maths: without fenced blocks, code spans and glue/reference roles."""
    markdown = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", markdown, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"(`+).+?\1", "", markdown, flags=re.DOTALL)


def test_no_markdown_cell_can_pair_dollars_into_maths():
    """JupyterLab pairs any two $ in a markdown cell (escaped or written &#36;, MathJax still finds them in the
    rendered text) into an italic formula; amounts are written 'USD 1.03', so no generated cell has a $ outside code."""
    for path, notebook in _generated():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "markdown":
                text = _outside_code(cell.source)
                assert "$" not in text and "&#36;" not in text and "&dollar;" not in text, (
                    f"{path} cell {index}: write amounts as 'USD 1.03' in book/, not with a dollar sign: "
                    f"{text[max(0, text.find('$') - 40):text.find('$') + 40]!r}")
    assert _outside_code("costs `$1` and ```\n$2\n``` then") == "costs  and  then"


def test_the_repository_url_is_named_in_one_place():
    """Only _config.yml names the repository (and the README, whose badges GitHub renders as written); the
    generated notebooks take it from there, so building with another URL leaves no trace of this one."""
    owner_name = REPOSITORY.rstrip("/").removeprefix("https://github.com/")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    generated = ("notebooks/", "solutions/", "exercises/")
    for name in filter(None, tracked.split("\0")):
        path = ROOT / name
        if name in ("_config.yml", "README.md", "uv.lock") or name.startswith(generated) or not path.is_file():
            continue
        assert owner_name not in path.read_text(encoding="utf-8", errors="replace"), f"{name} names the repository"
    other = Book.load(ROOT, repository="https://github.com/example/elsewhere")
    # tier2/hedging links to lessons and a page
    lesson = next(each for each in lessons(ROOT) if each.name.as_posix() == "tier2/hedging")
    for variant in ("notebooks", "solutions", "exercises"):
        text = serialise(build(lesson, variant, other))
        assert owner_name not in text and pages_url(REPOSITORY) not in text, variant
        assert "example/elsewhere" in text or variant != "notebooks"


def test_time_estimate_is_computed_from_the_source():
    """The header's estimate is the formula's (prose, code, exercises), written in words, and kept in sync."""
    from faultfirst.build import estimate
    from faultfirst.build.generate import stale_estimate

    prose = nbformat.v4.new_markdown_cell("# T\n\n*About 45 minutes. Prerequisites: none.*\n\n" + "word " * 1290)
    assert estimate.minutes(nbformat.v4.new_notebook(cells=[prose])) == 10  # 1,290 words and the header at 130 a minute
    shown = nbformat.v4.new_code_cell("x = 1\n" * 20)
    hidden = nbformat.v4.new_code_cell("y = 2\n" * 400, metadata={"tags": ["remove-cell"]})
    solution = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n" + "    pass\n" * 9
                                         + "    ### END SOLUTION\n")
    statement = nbformat.v4.new_markdown_cell("::::{exercise}\n:label: t-one\nDo it.\n::::")
    notebook = nbformat.v4.new_notebook(cells=[prose, shown, hidden, statement, solution])
    # 10 + 20 lines/20 + 0.5 per cell + 10 per exercise + 9 lines -> 30.5, up to 35
    assert estimate.minutes(notebook) == 35
    assert [estimate.describe(m) for m in (45, 60, 130)] == ["45 minutes", "1 hour", "2 hours 10 minutes"]
    assert estimate.restate("*About 45 minutes. Pre*", 130) == "*About 2 hours 10 minutes. Pre*"
    for lesson in lessons(ROOT):
        assert stale_estimate(lesson, BOOK) is None, f"{lesson.source}: {stale_estimate(lesson, BOOK)}"


def test_no_committed_output_names_a_path_on_the_machine_that_wrote_it():
    """An output holding the writer's checkout or virtualenv path (a library's warning prints its file) differs on
    every other checkout, so nbval fails there, and the book would publish the path; lessons silence such warnings."""
    machine = re.compile(r"(?:/[\w.-]+)+/(?:site-packages|\.venv)/|" + re.escape(str(ROOT)))
    found = [f"{path.relative_to(ROOT)}: {hit.group(0)}" for path, notebook in _generated()
             for cell in notebook.cells for output in cell.get("outputs", [])
             for hit in [machine.search(json.dumps(output))] if hit]
    assert found == [], found


def test_every_generated_notebook_says_first_which_source_to_edit():
    """The first line of each generated notebook names its book/ file, which exists: nobody edits the copy."""
    for variant in VARIANTS:
        for path in sorted((ROOT / variant).rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:  # JupyterLab's own copies, not generated
                continue
            first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
            named = re.match(r"\*Generated from `(book/[\w/-]+\.md)` by `uv run python -m faultfirst\.build`", first)
            assert named, f"{path}: first line is {first!r}"
            source = f"book/{path.relative_to(ROOT / variant).with_suffix('.md')}"
            assert (ROOT / named[1]).is_file() and named[1] == source
