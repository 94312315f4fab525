"""`faultfirst progress`: run the checks in the learner's workspace and tabulate them per tier.

Each notebook in the workspace is executed in memory, in a fresh kernel, exactly
as the learner left it; nothing is written back. A check cell's report starts
with `<label>: <status>`; an exercise counts as passing if any copy of it (the
lesson notebook or the exercises notebook) passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .checks import FAILED, NOT_ATTEMPTED, PASSED

_REPORT = re.compile(rf"^(?P<label>[\w-]+): (?P<status>{NOT_ATTEMPTED}|{PASSED}|{FAILED})\b", re.MULTILINE)
_CHECK_CALL = re.compile(r"check\(\s*[\"'](?P<label>[\w-]+)[\"']")
_RANK = {PASSED: 2, FAILED: 1, NOT_ATTEMPTED: 0}


@dataclass(frozen=True)
class Exercise:
    tier: str
    lesson: str
    label: str


def check_statuses(path: Path, kernel_name: str = "python3") -> dict[str, str]:
    """Execute one notebook in memory and return each check's status; the file is not touched."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name=kernel_name, allow_errors=True, record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    statuses: dict[str, str] = {}
    for cell in notebook.cells:
        call = _CHECK_CALL.search(cell.source) if cell.cell_type == "code" else None
        if call is None:
            continue
        text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        report = _REPORT.search(text)
        # A check cell that raised (a renamed function, a syntax error) was attempted and does not pass.
        statuses[call["label"]] = report["status"] if report else FAILED
    return statuses


def workspace_statuses(workspace: Path, kernel_name: str = "python3") -> dict[str, str]:
    """The best status of every exercise found in the workspace's notebooks."""
    best: dict[str, str] = {}
    for path in sorted(workspace.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for label, status in check_statuses(path, kernel_name).items():
            if _RANK[status] >= _RANK.get(best.get(label, NOT_ATTEMPTED), 0):
                best[label] = status
    return best


def table(exercises: Iterable[Exercise], statuses: dict[str, str]) -> str:
    """Per tier: each exercise's status, then attempted / passing / failing."""
    lines: list[str] = []
    by_tier: dict[str, list[Exercise]] = {}
    for exercise in exercises:
        by_tier.setdefault(exercise.tier, []).append(exercise)
    for tier, items in by_tier.items():
        width = max(len(e.label) for e in items)
        lines.append(tier)
        for exercise in items:
            lines.append(f"  {exercise.label:<{width}}  {statuses.get(exercise.label, NOT_ATTEMPTED)}")
        found = [statuses.get(e.label, NOT_ATTEMPTED) for e in items]
        attempted = sum(s != NOT_ATTEMPTED for s in found)
        lines.append(f"  attempted {attempted} of {len(items)}, passing {found.count(PASSED)}, "
                     f"failing {found.count(FAILED)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n")
