"""How long `faultfirst progress` takes, as a learner meets it.

In a fresh workspace (a temporary folder, made as `faultfirst lab` makes one) the command is timed
as a learner runs it, a new process each time:

- one exercise attempted (the book's solution written into its cell): the first run (nothing cached),
  a second run with nothing changed, and a run after that exercise's cell was edited again;
- every exercise attempted, in every exercises notebook: the first run, and a run with nothing changed.

Each run's report is checked too (JSON): the solved exercises pass and the rest are not attempted, so
a fast answer is also a right one.

    uv run python benchmarks/progress.py     # exits 1 if an unchanged workspace takes 0.5 s of CPU or more,
                                             # or a report is wrong

The budget is held to CPU time (the command's and its children's), which a busy machine does not inflate;
on an idle machine the wall time a learner waits is about the same.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from faultfirst.learner.progress import _source, curriculum, find_in_notebook
from faultfirst.learner.workspace import sync_workspace
from faultfirst.repository import find_repo_root

UNCHANGED_BUDGET_S = 0.5


def solve(root: Path, workspace: Path, lesson: str, number: int, *, comment: str = "") -> None:
    """Write the book's solution of the `number`-th exercise (0-based) of `lesson` into the workspace's copy."""
    target = workspace / "exercises" / f"{lesson}.ipynb"
    notebook = json.loads(target.read_text(encoding="utf-8"))
    solved = json.loads((root / "solutions" / f"{lesson}.ipynb").read_text(encoding="utf-8"))["cells"]
    code = _source(solved[find_in_notebook(solved)[number].cells[0]]) + comment
    notebook["cells"][find_in_notebook(notebook["cells"])[number].cells[0]]["source"] = code
    target.write_text(json.dumps(notebook, indent=1), encoding="utf-8")


def progress(workspace: Path) -> tuple[float, float, dict[str, str]]:
    """One run of the command in a new process: its wall time, the CPU time it and its children used, and each
    exercise's status. CPU time is the figure to compare on a shared machine, where wall time includes waiting."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "faultfirst.cli", "progress", "--workspace", str(workspace),
                           "--format", "json"], capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"faultfirst progress failed:\n{done.stderr[-2000:]}")
    return elapsed, cpu, {row["label"]: row["status"] for row in json.loads(done.stdout)["exercises"]}


def main() -> int:
    root = find_repo_root()
    exercises = curriculum(root)
    problems: list[str] = []

    def measure(what: str, workspace: Path, passing: set[str]) -> float:
        """Run the command once, check its report, print its times; its CPU time."""
        elapsed, cpu, statuses = progress(workspace)
        expected = {e.label: "passed" if e.label in passing else "not attempted" for e in exercises}
        wrong = {label: status for label, status in statuses.items() if status != expected[label]}
        if wrong:
            problems.append(f"{what}: expected {sorted(passing) or 'nothing'} passing and the rest not attempted, "
                            f"got {wrong}")
        print(f"  {what:<44} {elapsed:6.2f} s {cpu:6.2f} s", flush=True)
        return cpu

    with tempfile.TemporaryDirectory(prefix="faultfirst-progress-") as folder:
        one, every = Path(folder) / "one", Path(folder) / "every"
        sync_workspace(root, one), sync_workspace(root, every)
        first = exercises[0]
        print(f"faultfirst progress, {len(exercises)} exercises in {len({e.lesson for e in exercises})} lessons, "
              f"{os.cpu_count()} CPUs\n  {'':<44}   wall      CPU")
        solve(root, one, first.lesson, 0)
        measure(f"one attempted ({first.label}): first run", one, {first.label})
        unchanged = [measure("one attempted: nothing changed", one, {first.label})]
        solve(root, one, first.lesson, 0, comment="\n# edited again\n")
        measure("one attempted: its cell edited again", one, {first.label})
        for lesson in dict.fromkeys(e.lesson for e in exercises):
            for number in range(sum(e.lesson == lesson for e in exercises)):
                solve(root, every, lesson, number)
        everything = {e.label for e in exercises}
        measure(f"all {len(exercises)} attempted: first run", every, everything)
        unchanged.append(measure(f"all {len(exercises)} attempted: nothing changed", every, everything))
    if max(unchanged) >= UNCHANGED_BUDGET_S:
        problems.append(f"an unchanged workspace took {max(unchanged):.2f} s of CPU; "
                        f"the budget is {UNCHANGED_BUDGET_S} s")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
