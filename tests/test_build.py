"""The book pipeline: MyST for Jupyter, stubs, the three generated variants, and the check mode."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from faultfirst.build.__main__ import repository_url
from faultfirst.build.generate import COLAB_CELL, build, check, lessons, serialise, stub
from faultfirst.build.myst import exercise_labels, fill_glue, to_jupyter
from faultfirst._workspace import find_repo_root

ROOT = find_repo_root()
REPOSITORY = repository_url(ROOT)


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
    assert "Intro with the guide and plain-target." in out
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
    assert fill_glue("p99 {glue:text}`p99:.2f` s over {glue}`n` calls", values.__getitem__) == "p99 1.23 s over 12 calls"


def test_stub_keeps_signature_and_docstring_and_indentation():
    """The solution region becomes one raise at the marker's indentation; the rest stays."""
    code = ('def f(x):\n    """Doc."""\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\n'
            'def g():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n')
    out = stub(code, "demo")
    assert out == ('def f(x):\n    """Doc."""\n    y = 1\n    raise NotImplementedError("exercise demo: write this part")\n\n'
                   'def g():\n    raise NotImplementedError("exercise demo: write this part")\n')


@pytest.mark.parametrize("variant", ["notebooks", "solutions", "exercises"])
def test_variants_are_deterministic_and_well_formed(variant):
    """Building a variant twice gives the same bytes, with fixed cell ids and a valid notebook."""
    lesson = lessons(ROOT)[0]
    first, second = build(lesson, variant, repository=REPOSITORY), build(lesson, variant, repository=REPOSITORY)
    assert serialise(first) == serialise(second)
    nbformat.validate(first)
    assert [c.id for c in first.cells] == [f"cell-{i:03d}" for i in range(len(first.cells))]


def test_variants_differ_where_they_should():
    """notebooks/ stubs solutions and starts with the Colab cell; solutions/ keeps them; exercises/ is exercises only."""
    lesson = next(l for l in lessons(ROOT) if l.name.as_posix() == "tier1/first-calls")
    learner, solved, exercises = (build(lesson, v, repository=REPOSITORY) for v in ("notebooks", "solutions", "exercises"))
    learner_code = "\n".join(c.source for c in learner.cells if c.cell_type == "code")
    assert learner.cells[0].source == COLAB_CELL.format(repository=REPOSITORY)
    assert "### BEGIN SOLUTION" not in learner_code and 'raise NotImplementedError("exercise first-calls-reply' in learner_code
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
    return root


def test_check_names_a_stale_file_after_a_source_edit(tmp_path):
    """Editing a lesson without regenerating makes the check fail, naming each stale file."""
    root = _copy_repo(tmp_path)
    before = set(check(root, repository=REPOSITORY))
    source = root / "book" / "tier1" / "first-calls.md"
    source.write_text(source.read_text().replace("## Trade-offs", "## Trade-offs and costs"))
    added = set(check(root, repository=REPOSITORY)) - before
    assert {p.split(":")[0] for p in added} == {"notebooks/tier1/first-calls.ipynb", "solutions/tier1/first-calls.ipynb"}


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
              new_output("display_data", data={"text/plain": "figure"}), new_output("stream", name="stdout", text="d\n")]
    joined = _joined_streams(pieces)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in joined] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "warning\n"), ("stream", "stdout", "c\n"),
        ("display_data", None, None), ("stream", "stdout", "d\n")]
