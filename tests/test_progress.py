"""`faultfirst progress`: reports per tier from the learner's own code, and never changes a file."""

from __future__ import annotations

import hashlib
import re
import shutil

import nbformat
import pytest

from faultfirst._progress import Exercise, table
from faultfirst.cli import main
from faultfirst._workspace import find_repo_root

ROOT = find_repo_root()


def test_table_counts_per_tier():
    """The table lists each exercise and counts attempted, passing and failing per tier."""
    exercises = [Exercise("tier1", "a", "a-one"), Exercise("tier1", "a", "a-two"), Exercise("tier2", "b", "b-one")]
    out = table(exercises, {"a-one": "passed", "b-one": "failed"})
    assert "tier1\n  a-one  passed\n  a-two  not attempted\n  attempted 1 of 2, passing 1, failing 0" in out
    assert "tier2\n  b-one  failed\n  attempted 1 of 1, passing 0, failing 1" in out


@pytest.mark.loopback  # the notebook runs in a Jupyter kernel, which talks to us over 127.0.0.1
def test_progress_runs_the_learners_code_and_changes_nothing(tmp_path, capsys):
    """A workspace with one solved and one untouched exercise shows exactly that; its files keep their bytes."""
    workspace = tmp_path / "workspace"
    target = workspace / "exercises" / "tier1" / "first-calls.ipynb"
    target.parent.mkdir(parents=True)
    shutil.copy(ROOT / "exercises" / "tier1" / "first-calls.ipynb", target)
    notebook = nbformat.read(target, as_version=4)
    solved = nbformat.read(ROOT / "solutions" / "tier1" / "first-calls.ipynb", as_version=4)
    solution = next(c.source for c in solved.cells if c.source.startswith("def reply("))
    stub_cell = next(c for c in notebook.cells if c.source.startswith("def reply("))
    stub_cell.source = solution  # the learner solved the first exercise
    nbformat.write(notebook, target)
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    status = main(["progress", "--workspace", str(workspace), "--kernel", "faultfirst-fast"])
    out = capsys.readouterr().out
    assert status == 0
    assert re.search(r"first-calls-reply\s+passed", out), out
    assert re.search(r"first-calls-complete\s+not attempted", out)
    tier1 = out.split("\ntier1\n", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"attempted 1 of \d+, passing 1, failing 0", tier1), tier1
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
