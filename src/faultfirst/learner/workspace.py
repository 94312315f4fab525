"""The learner's workspace: a git-ignored copy of the lessons that updates never overwrite.

Learners edit their own copies. When the curriculum changes upstream, new
lessons are copied in and changed ones are reported, never replaced: a
learner's work is never modified. The one file the command rewrites is the
landing page, START-HERE.ipynb, which says what the folders hold and lists the
lessons in the book's order (JupyterLab renders a notebook's markdown when it
opens it, where it would open a README.md as source text).
"""

from __future__ import annotations

import filecmp
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..repository import pages_url, repository_url
from ..text import plural

COPIED_FOLDERS = ("notebooks", "exercises")
LANDING_PAGE = "START-HERE.ipynb"


@dataclass
class SyncReport:
    added: list[Path] = field(default_factory=list)
    changed_upstream: list[Path] = field(default_factory=list)  # differs from upstream; left alone
    unchanged: int = 0

    def lines(self) -> list[str]:
        out = [f"workspace: {plural(len(self.added), 'new file')} copied, {self.unchanged} already up to date; "
               f"open {LANDING_PAGE} first"]
        if self.changed_upstream:
            out.append(f"{plural(len(self.changed_upstream), 'file')} differ from the current curriculum and were "
                       "left as they are (your work is never overwritten; rename or delete a file to get a fresh "
                       "copy):")
            out += [f"  {p}" for p in self.changed_upstream]
        return out




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
    landing = workspace / LANDING_PAGE
    page = landing_page(root)
    if not landing.is_file() or landing.read_text(encoding="utf-8") != page:
        workspace.mkdir(parents=True, exist_ok=True)
        landing.write_text(page, encoding="utf-8")
    return report


def landing_page(root: Path) -> str:
    """START-HERE.ipynb: what each folder holds, the lessons in the book's order with links and honest times, and
    how to check progress; one markdown cell, from _toc.yml and the lessons' own headers."""
    book = pages_url(repository_url(root))
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    rows = []
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        lessons = []
        for chapter in part.get("chapters", []):
            name = str(chapter.get("file", "")).removeprefix("book/").removesuffix(".md")
            source = root / "book" / f"{name}.md"
            if not (root / "notebooks" / f"{name}.ipynb").is_file() or not source.is_file():
                continue  # a prose page: it lives in the online book only
            text = source.read_text(encoding="utf-8")
            title = re.search(r"^# (.+)$", text, re.MULTILINE)
            time = re.search(r"\*About ([^.*]+)\.", text)
            lessons.append(f"| [{title[1].strip() if title else name}](notebooks/{name}.ipynb) | "
                           f"{time[1] if time else ''} | [exercises only](exercises/{name}.ipynb) |")
        if lessons:
            rows += [f"\n**{part.get('caption', 'Lessons')}**\n", "| Lesson | Time | |", "|---|---|---|", *lessons]
    text = "\n".join([
        "# Start here",
        "",
        "This folder is your workspace: your own copies of the course's notebooks. `uv run faultfirst lab` made it, "
        "git ignores it, and when the course is updated the same command copies in new lessons and never "
        "overwrites a file you have. (This page is the exception: the command rewrites it, so keep no notes here.)",
        "",
        "- **`notebooks/`** holds each lesson whole: the text, the worked examples that make a failure happen, and "
        "the exercises. Open these, in the order below, from the top, and write each exercise where it stands; "
        "its check cell answers at once.",
        "- **`exercises/`** holds the same exercises with only the lesson's setup cells, for practising again or "
        "revising without the text around them. Attempt an exercise in either copy; both count.",
        "",
        f"Solutions are not copied here. They sit behind a dropdown in [the online book]({book}) and in the "
        "repository's `solutions/` folder, so opening one is your decision.",
        *rows,
        "",
        "Times count reading the prose and the code, running each cell, and writing the exercises; "
        f"[How to use this book]({book}/book/intro/how-to-use-this-book.html) in the online book gives the formula.",
        "",
        "**Your progress.** In a terminal, in your clone of the repository, `uv run faultfirst progress` runs "
        "the checks of the exercises you changed and prints a table per tier; "
        "`uv run faultfirst progress --format markdown` prints one to paste to a mentor.",
    ])
    notebook = {"cells": [{"cell_type": "markdown", "id": "start-here", "metadata": {}, "source": text}],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                             "language_info": {"name": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
