"""The learner's workspace: a git-ignored copy of the lessons that updates never overwrite.

Learners edit their own copies. When the curriculum changes upstream, new
lessons are copied in and changed ones are reported, never replaced: a
learner's work is never modified.
"""

from __future__ import annotations

import filecmp
import shutil
from dataclasses import dataclass, field
from pathlib import Path

COPIED_FOLDERS = ("notebooks", "exercises")


@dataclass
class SyncReport:
    added: list[Path] = field(default_factory=list)
    changed_upstream: list[Path] = field(default_factory=list)  # differs from upstream; left alone
    unchanged: int = 0

    def lines(self) -> list[str]:
        out = [f"workspace: {len(self.added)} new file(s) copied, {self.unchanged} already up to date"]
        if self.changed_upstream:
            out.append(f"{len(self.changed_upstream)} file(s) differ from the current curriculum and were left as "
                       "they are (your work is never overwritten; rename or delete a file to get a fresh copy):")
            out += [f"  {p}" for p in self.changed_upstream]
        return out


def find_repo_root(start: Path | None = None) -> Path:
    """The curriculum checkout: the folder that holds `pyproject.toml` and `notebooks/`."""
    candidates = [start or Path.cwd(), Path(__file__).resolve().parent]
    for base in candidates:
        for folder in (base, *base.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "src" / "faultfirst").is_dir():
                return folder
    raise FileNotFoundError(
        "Could not find the curriculum checkout (a folder with pyproject.toml and src/faultfirst). "
        "Run this command from inside your clone of the repository."
    )


def sync_workspace(root: Path, workspace: Path) -> SyncReport:
    """Copy new files from the curriculum's generated folders into `workspace`; never overwrite."""
    report = SyncReport()
    for name in COPIED_FOLDERS:
        source_dir = root / name
        if not source_dir.is_dir():
            continue
        for source in sorted(p for p in source_dir.rglob("*") if p.is_file()):
            if ".ipynb_checkpoints" in source.parts:
                continue
            relative = source.relative_to(root)
            target = workspace / relative
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                report.added.append(relative)
            elif filecmp.cmp(source, target, shallow=False):
                report.unchanged += 1
            else:
                report.changed_upstream.append(relative)
    return report
