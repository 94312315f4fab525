"""The learner's workspace: copies new lessons in, never overwrites a learner's file; `faultfirst lab` starts."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from faultfirst.learner.workspace import sync_workspace
from faultfirst.repository import find_repo_root


def _curriculum(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "notebooks" / "tier1").mkdir(parents=True)
    (root / "exercises").mkdir()
    (root / "book" / "tier1").mkdir(parents=True)
    (root / "notebooks" / "tier1" / "first-calls.ipynb").write_text("lesson v1")
    (root / "exercises" / "first-calls.ipynb").write_text("exercise v1")
    (root / "book" / "tier1" / "first-calls.md").write_text(
        "# First calls\n\n*About 1 hour 20 minutes. Prerequisites: none.*\n")
    (root / "_toc.yml").write_text("root: book/index\nparts:\n  - caption: Tier 1\n    chapters:\n"
                                   "      - file: book/intro/what\n      - file: book/tier1/first-calls\n")
    shutil.copy(find_repo_root() / "_config.yml", root / "_config.yml")
    return root


def test_new_files_are_copied_and_learner_edits_are_kept(tmp_path):
    """A second sync adds new lessons, leaves edited ones alone and reports them."""
    root, workspace = _curriculum(tmp_path), tmp_path / "ws"
    first = sync_workspace(root, workspace)
    assert sorted(map(str, first.added)) == ["exercises/first-calls.ipynb", "notebooks/tier1/first-calls.ipynb"]
    (workspace / "notebooks" / "tier1" / "first-calls.ipynb").write_text("my work")
    (root / "notebooks" / "tier1" / "first-calls.ipynb").write_text("lesson v2")
    (root / "notebooks" / "tier1" / "tokens.ipynb").write_text("new lesson")
    second = sync_workspace(root, workspace)
    assert [str(p) for p in second.added] == ["notebooks/tier1/tokens.ipynb"]
    assert [str(p) for p in second.changed_upstream] == ["notebooks/tier1/first-calls.ipynb"]
    assert (workspace / "notebooks" / "tier1" / "first-calls.ipynb").read_text() == "my work"
    assert second.unchanged == 1 and any("never overwritten" in line for line in second.lines())


def test_the_landing_page_says_what_the_folders_hold_and_links_every_lesson(tmp_path):
    """START-HERE.ipynb (one markdown cell JupyterLab renders) explains notebooks/ and exercises/, lists the lessons
    in _toc.yml order with their times, links files that exist in the workspace, and names the progress command."""
    import nbformat

    root, workspace = find_repo_root(), tmp_path / "ws"
    sync_workspace(root, workspace)
    page = workspace / "START-HERE.ipynb"
    notebook = nbformat.read(page, as_version=4)
    nbformat.validate(notebook)
    text = notebook.cells[0].source
    assert "`notebooks/`" in text and "`exercises/`" in text and "faultfirst progress" in text
    lessons = re.findall(r"\]\((notebooks/[\w/-]+\.ipynb)\)", text)
    assert lessons[:2] == ["notebooks/tier1/tokens.ipynb", "notebooks/tier1/first-calls.ipynb"]
    assert len(lessons) == len(list((root / "notebooks").rglob("*.ipynb")))
    for href in re.findall(r"\]\(([^)]+)\)", text):
        assert "://" in href or (workspace / href).is_file(), href
    assert re.search(r"\| \[Tail latency and hedged requests\]\(notebooks/tier2/hedging.ipynb\) \| \d+ (hour|minutes)",
                     text)


def test_the_landing_page_is_rewritten_and_nothing_else_is(tmp_path):
    """A stale landing page is replaced on the next sync; the learner's notebooks are not touched."""
    root, workspace = _curriculum(tmp_path), tmp_path / "ws"
    sync_workspace(root, workspace)
    (workspace / "START-HERE.ipynb").write_text("old page")
    (workspace / "exercises" / "first-calls.ipynb").write_text("my work")
    report = sync_workspace(root, workspace)
    page = json.loads((workspace / "START-HERE.ipynb").read_text())
    assert "[First calls](notebooks/tier1/first-calls.ipynb) | 1 hour 20 minutes |" in page["cells"][0]["source"]
    assert (workspace / "exercises" / "first-calls.ipynb").read_text() == "my work"
    assert "open START-HERE.ipynb first" in report.lines()[0]


def test_repo_root_is_found_from_the_package():
    """The command finds the checkout from the installed package, wherever it is run."""
    root = find_repo_root(Path("/"))
    assert (root / "pyproject.toml").is_file() and (root / "src" / "faultfirst").is_dir()


@pytest.mark.skipif(sys.platform == "win32", reason="process groups")
@pytest.mark.loopback
def test_faultfirst_lab_starts_jupyterlab_headless(tmp_path):
    """`faultfirst lab --no-browser` prepares workspace/ and starts a JupyterLab server that reports its URL."""
    with socket.socket() as probe:  # a port nothing else is using, so a leftover server cannot confuse the test
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    process = subprocess.Popen(
        [sys.executable, "-m", "faultfirst.cli", "lab", "--no-browser", "--port", str(port),
         "--workspace", str(tmp_path / "ws")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None  # stdout=PIPE

    def read_lines() -> None:  # a thread, so that waiting for output can time out
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read_lines, daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any(f"{port}/lab" in line for line in output) and time.monotonic() < deadline:
            try:
                output.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = "".join(output)
    assert "workspace:" in text and f"{port}/lab" in text, text
    assert (tmp_path / "ws").is_dir()
