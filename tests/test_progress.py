"""`faultfirst progress`: runs only what changed, answers from its cache, survives the learner's code, never changes a
file."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from faultfirst.cli import main
from faultfirst.learner.progress import (
    CACHE,
    FAILED,
    JSON_KEYS,
    NOT_ATTEMPTED,
    PASSED,
    Exercise,
    Plan,
    Result,
    _source,
    as_json,
    curriculum,
    find_in_notebook,
    markdown,
    plan,
    run_plans,
    text,
    workspace_results,
)
from faultfirst.learner.workspace import sync_workspace
from faultfirst.repository import find_repo_root

ROOT = find_repo_root()
EXERCISES = curriculum(ROOT)
LIGHT = ("IPython.core.interactiveshell", "IPython.utils.capture")  # what a forked run needs when no SDK is used


def _copy(workspace: Path, lesson: str) -> Path:
    """The curriculum's exercises notebook of `lesson`, as `faultfirst lab` copies it into a workspace."""
    target = workspace / "exercises" / f"{lesson}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "exercises" / f"{lesson}.ipynb", target)
    return target


def _write_exercise(path: Path, number: int, code: str | None = None) -> None:
    """Replace the cells of the `number`-th exercise (0-based) with `code`, or with the book's solution."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    lesson = path.relative_to(path.parents[1]).with_suffix("")
    if code is None:
        solved = json.loads((ROOT / "solutions" / f"{lesson}.ipynb").read_text(encoding="utf-8"))["cells"]
        code = _source(solved[find_in_notebook(solved)[number].cells[0]])
    notebook["cells"][find_in_notebook(notebook["cells"])[number].cells[0]]["source"] = code
    path.write_text(json.dumps(notebook), encoding="utf-8")


class FakeRunner:
    """Stands in for the forked processes: records which notebooks it was asked to run, and passes them all."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, plans):
        self.calls.append([p.notebook for p in plans])
        return {p.notebook: {label: Result(PASSED, "fake", "2030-01-01", p.notebook) for label in p.attempted}
                for p in plans}


def never(plans):
    raise AssertionError(f"nothing should run, but {[p.notebook for p in plans]} were about to")


def test_curriculum_lists_every_exercise_in_book_order_with_the_notebooks_numbers():
    """The list comes from the generated notebooks: each exercise once, in _toc.yml's order, numbered as they say."""
    labels = [e.label for e in EXERCISES]
    assert len(labels) == len(set(labels)) >= 18
    lessons = list(dict.fromkeys(e.lesson for e in EXERCISES))
    toc = re.findall(r"file: book/(tier\d/\S+)", (ROOT / "_toc.yml").read_text())
    assert lessons == [lesson for lesson in toc if (ROOT / "exercises" / f"{lesson}.ipynb").exists()]
    for exercise in EXERCISES:
        notebook = (ROOT / "exercises" / f"{exercise.lesson}.ipynb").read_text()
        assert f"**Exercise {exercise.number}" in notebook, exercise
        assert exercise.stub and "NotImplementedError" in "".join(exercise.stub)
    assert [e.number for e in EXERCISES] == [str(n) for n in range(1, len(EXERCISES) + 1)]  # the book's numbering


def test_untouched_stubs_are_not_attempted_without_running_anything(tmp_path):
    """A fresh workspace runs nothing: every stub still reads as generated, so every exercise is not attempted."""
    sync_workspace(ROOT, tmp_path)  # the lesson copies and the exercises copies, as `faultfirst lab` makes them
    progress = workspace_results(tmp_path, EXERCISES, run=never)
    assert {r.status for r in progress.results.values()} == {NOT_ATTEMPTED}
    assert set(progress.results) == {e.label for e in EXERCISES} and progress.ran == []


def test_unchanged_workspace_answers_from_the_cache(tmp_path):
    """The second run of an unchanged workspace executes nothing and reports what the first run found."""
    _write_exercise(_copy(tmp_path, "tier1/first-calls"), 0)
    runner = FakeRunner()
    first = workspace_results(tmp_path, EXERCISES, run=runner)
    assert runner.calls == [["exercises/tier1/first-calls.ipynb"]]
    start = time.perf_counter()
    second = workspace_results(tmp_path, EXERCISES, run=never)
    assert time.perf_counter() - start < 0.5
    assert second.cached == ["exercises/tier1/first-calls.ipynb"] and second.ran == []
    assert second.results == first.results
    assert second.results["first-calls-reply"] == Result(PASSED, "fake", "2030-01-01",
                                                         "exercises/tier1/first-calls.ipynb")
    assert second.results["first-calls-complete"].status == NOT_ATTEMPTED


def test_an_edited_exercise_reruns_only_its_notebook(tmp_path):
    """Editing one notebook's exercise re-runs that notebook alone; the other comes from the cache."""
    first_calls = _copy(tmp_path, "tier1/first-calls")
    _write_exercise(first_calls, 0)
    _write_exercise(_copy(tmp_path, "tier2/retries"), 0)
    runner = FakeRunner()
    workspace_results(tmp_path, EXERCISES, run=runner)
    _write_exercise(first_calls, 1, "def complete(*args):\n    return None\n")
    progress = workspace_results(tmp_path, EXERCISES, run=runner)
    assert runner.calls[1] == ["exercises/tier1/first-calls.ipynb"]
    assert progress.cached == ["exercises/tier2/retries.ipynb"]
    assert progress.results["first-calls-complete"].status == PASSED  # the edited exercise is now attempted


def test_cells_a_learner_adds_under_an_exercise_belong_to_it():
    """A note and a helper cell the learner put between the stub and the check still run with that exercise."""
    cells = json.loads((ROOT / "exercises" / "tier1" / "first-calls.ipynb").read_text())["cells"]
    first = find_in_notebook(cells)[0]
    helper = {"cell_type": "code", "metadata": {}, "source": "def helper():\n    return 1", "outputs": []}
    note = {"cell_type": "markdown", "metadata": {}, "source": "My notes: try the Anthropic one too."}
    cells[first.check:first.check] = [note, helper]
    found = find_in_notebook(cells)[0]
    assert found.cells == (first.cells[0], first.check + 1) and found.check == first.check + 2
    stubs = {e.label: e.stub for e in EXERCISES}
    planned = plan(ROOT, "n.ipynb", cells, stubs, "package")
    assert planned is not None and "first-calls-reply" in planned.attempted  # the helper counts as the learner's work
    assert ("exercise", "first-calls-reply", helper["source"]) in planned.cells


@pytest.mark.parametrize("content", ["{not json", '{"format": 1, "package": "other", "notebooks": {}}',
                                     '{"format": 1, "notebooks": {"exercises/tier1/first-calls.ipynb": 3}}', "[]"])
def test_a_corrupt_or_stale_cache_is_ignored_and_rewritten(tmp_path, content):
    """A cache that cannot be read, or was written by another version, is run past and replaced, never a crash."""
    _write_exercise(_copy(tmp_path, "tier1/first-calls"), 0)
    (tmp_path / CACHE).parent.mkdir()
    (tmp_path / CACHE).write_text(content)
    runner = FakeRunner()
    assert workspace_results(tmp_path, EXERCISES, run=runner).results["first-calls-reply"].status == PASSED
    assert runner.calls == [["exercises/tier1/first-calls.ipynb"]]
    assert workspace_results(tmp_path, EXERCISES, run=never).cached == ["exercises/tier1/first-calls.ipynb"]


def test_an_unreadable_notebook_is_skipped_with_a_note(tmp_path):
    """A notebook that is not valid JSON is named in a note; the rest of the workspace is still reported."""
    (tmp_path / "broken.ipynb").write_text("{")
    progress = workspace_results(tmp_path, EXERCISES, run=never)
    assert any("broken.ipynb" in note and "JupyterLab" in note for note in progress.notes)


def _plan(tmp_path: Path, *cells: tuple[str, str, str], name: str = "scratch.ipynb") -> Plan:
    """A plan of hand-written cells: the runner's behaviour without the cost of importing the SDKs."""
    return Plan(name, str(tmp_path), cells, tuple(dict.fromkeys(c[1] for c in cells if c[0] == "check")), (), "key")


def test_an_endless_loop_is_stopped_and_reported_as_failing(tmp_path, capfd):
    """A cell that never ends fails its exercise with the timeout, the exercises after it say why they did not run,
    and nothing the cells print reaches the terminal."""
    fake_check = "def check(label, fn):\n    return type('R', (), {'status': 'passed', 'cases': []})()"
    plan = _plan(tmp_path, ("setup", "", fake_check + "\nprint('setup output')"),
                 ("exercise", "ex-a", "import os; os.write(2, b'kernel-style log line'); print('hi')\ndef f(): pass"),
                 ("check", "ex-a", "check('ex-a', f)"),
                 ("exercise", "ex-b", "while True:\n    pass"), ("check", "ex-b", "check('ex-b', f)"),
                 ("exercise", "ex-c", "def g(): pass"), ("check", "ex-c", "check('ex-c', g)"))
    start = time.perf_counter()
    results = run_plans([plan], timeout=0.75, preload=LIGHT, today="2030-01-01")["scratch.ipynb"]
    assert time.perf_counter() - start < 3
    assert results["ex-a"] == Result(PASSED, "0 of 0 cases pass", "2030-01-01", "scratch.ipynb")
    assert results["ex-b"].status == FAILED
    assert results["ex-b"].verdict == ("your exercise cell was still running after 0.75 s (an endless loop?), "
                                       "so it was stopped")
    assert results["ex-c"].status == FAILED and results["ex-c"].verdict.startswith("not run: a cell above it")
    out, err = capfd.readouterr()
    assert out == err == ""


def test_a_crash_and_a_raising_cell_fail_their_exercise_with_the_reason(tmp_path):
    """A cell that kills its process, or raises, fails that exercise with what happened; the command goes on."""
    raising = _plan(tmp_path, ("exercise", "ex-a", "def f(:"), ("check", "ex-a", "check('ex-a', f)"))
    crashing = _plan(tmp_path, ("exercise", "ex-b", "import os\nos.write(2, b'last words\\n')\nos._exit(3)"),
                     ("check", "ex-b", "check('ex-b', g)"), name="crash.ipynb")
    results = run_plans([raising, crashing], timeout=5, preload=LIGHT, today="2030-01-01")
    assert results["scratch.ipynb"]["ex-a"].verdict.startswith("your exercise cell raised SyntaxError")
    assert results["crash.ipynb"]["ex-b"].status == FAILED
    assert "stopped its process (last words)" in results["crash.ipynb"]["ex-b"].verdict


def test_progress_runs_the_learners_code_and_changes_nothing(tmp_path, capfd):
    """End to end, real checks: a solved exercise passes, a stub is not attempted, the notebook keeps its bytes,
    the terminal shows the report and one line on stderr, and a second run answers from the cache."""
    target = _copy(tmp_path, "tier1/first-calls")
    _write_exercise(target, 0)
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    assert main(["progress", "--workspace", str(tmp_path)]) == 0
    out, err = capfd.readouterr()
    assert re.search(r"first-calls-reply\s+passed\s+\d+ of \d+ cases pass", out), out
    assert re.search(r"first-calls-complete\s+not attempted", out)
    tier1 = out.split("Tier 1", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"attempted 1 of \d+, passing 1, failing 0", tier1), tier1
    assert err.count("\n") == 1 and "exercises/tier1/first-calls.ipynb" in err, err  # no kernel log lines
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert main(["progress", "--workspace", str(tmp_path), "--format", "json"]) == 0
    out, err = capfd.readouterr()
    assert err == ""  # nothing ran
    row = next(r for r in json.loads(out)["exercises"] if r["label"] == "first-calls-reply")
    assert row["status"] == PASSED and row["notebook"] == "exercises/tier1/first-calls.ipynb"


def test_table_counts_per_tier():
    """The text report lists each exercise under its tier and lesson, and counts attempted, passing and failing."""
    exercises = [Exercise("tier1", "Tier 1", "tier1/a", "A", "a-one", "1"),
                 Exercise("tier1", "Tier 1", "tier1/a", "A", "a-two", "2"),
                 Exercise("tier2", "Tier 2", "tier2/b", "B", "b-one", "3")]
    out = text(exercises, {"a-one": Result(PASSED, "5 of 5 cases pass", "2030-01-01"),
                           "b-one": Result(FAILED, "1 of 2 cases pass; first failure: x", "2030-01-01")})
    assert re.search(r"Tier 1\n  A\n    1  a-one  passed +5 of 5 cases pass\n    2  a-two  not attempted\n"
                     r"  attempted 1 of 2, passing 1, failing 0", out), out
    assert re.search(r"Tier 2\n  B\n    3  b-one  failed +1 of 2 cases pass; first failure: x\n"
                     r"  attempted 1 of 1, passing 0, failing 1", out), out


def test_markdown_and_json_reports_parse_and_escape_what_they_quote():
    """The markdown is one table with its header and no HTML or column break from a verdict; the JSON loads."""
    exercises = EXERCISES[:2]
    results = {exercises[0].label: Result(FAILED, "0 of 1 cases pass; <script>x</script> | a|b", "2030-01-01",
                                          "n.ipynb")}
    table = markdown(exercises, results, today="2030-01-02")
    lines = table.splitlines()
    assert "| Lesson | Exercise | Status | Verdict | Checked |" in lines
    rows = [line for line in lines if line.startswith("| ") and "Lesson |" not in line]
    assert len(rows) == 2 and all(len(re.split(r"(?<!\\)\|", row)) == 7 for row in rows), rows
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert f"{exercises[0].number} `{exercises[0].label}`" in rows[0] and "2030-01-01" in rows[0]
    data = json.loads(as_json(exercises, results, today="2030-01-02"))
    assert data["format"] == 1 and data["date"] == "2030-01-02"
    assert data["summary"] == {"exercises": 2, "attempted": 1, "passed": 0, "failed": 1}
    assert [r["status"] for r in data["exercises"]] == [FAILED, NOT_ATTEMPTED]
    assert data["exercises"][1]["checked"] is None and data["exercises"][1]["verdict"] == ""
    documented = {key.removeprefix("exercises[].") for key in JSON_KEYS}
    assert set(data) | set(data["exercises"][0]) == documented  # every key is documented, and only keys that exist


def test_the_help_lists_the_json_keys(capsys):
    """`faultfirst progress --help` documents every key of the JSON report."""
    with pytest.raises(SystemExit):
        main(["progress", "--help"])
    out = capsys.readouterr().out
    for key in ("format", "summary", "exercises[].status", "exercises[].checked", "exercises[].number"):
        assert f"  {key}: " in out


def test_a_system_without_fork_gets_a_clear_error(tmp_path, monkeypatch, capsys):
    """Where os.fork does not exist (Windows), the command says so and what to do instead, and exits 2."""
    _write_exercise(_copy(tmp_path, "tier1/first-calls"), 0)
    monkeypatch.delattr("os.fork")
    assert main(["progress", "--workspace", str(tmp_path)]) == 2
    assert "WSL" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [(["--timeout", "0"], "--timeout must be"),
                                               (["--workspace", "/nonexistent"], "run `uv run faultfirst lab` first")])
def test_bad_input_gets_a_clear_error(args, message, capsys):
    """A timeout of zero or a missing workspace stops with exit code 2 and a line that says what to do."""
    assert main(["progress", *args]) == 2
    assert message in capsys.readouterr().err
