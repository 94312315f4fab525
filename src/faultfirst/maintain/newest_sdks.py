"""`python -m faultfirst.maintain.newest_sdks [--format text|markdown]`

Would the newest `openai` and `anthropic` releases break the lessons? The most common complaint about
courses in this field is notebooks broken by an SDK update, so this command finds out before a learner
does. It exports the committed tree (`git archive HEAD`: the lock and the outputs the repository
promises, not a maintainer's unsaved edits) into a temporary directory, and there:

1. syncs an environment from the committed `uv.lock` and runs the SDK-fact tests
   (`tests/test_sdk_facts*.py`): the baseline;
2. upgrades that copy's lock for the two SDKs alone (`uv lock --upgrade-package openai
   --upgrade-package anthropic`), syncs a second environment from it, and runs the SDK-fact tests again
   together with nbval over every lesson (`solutions/`).

It reports the versions before and after, each SDK-fact test whose outcome changed (with the fact it
pins: the test's docstring, whose file `docs/sdk-facts.md` cites) and each notebook whose outputs differ
from the committed ones. nbval's baseline is the committed outputs, which CI proves the committed lock
reproduces, so the notebooks run only under the newest SDKs.

Exit status: 0 nothing changed (or the lock already holds the newest releases), 1 something changed,
2 the run itself failed (lock, sync or pytest could not run). The committed `uv.lock` and `.venv` are
never touched. `.github/workflows/newest-sdks.yml` runs it nightly and files the markdown report as an
issue.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from ..repository import find_repo_root

SDKS = ("openai", "anthropic")
FACT_TESTS = "tests/test_sdk_facts*.py"
NOTEBOOKS = "solutions"
# Lines of a failure message shown per notebook cell: enough for nbval's diff of one output.
EXCERPT_LINES = 12
# A lesson may print the SDKs' versions (tier2/timeouts does): under an upgraded lock that line differs by
# design, so the newest run sanitises version numbers on top of the committed rules (nbval-sanitize.cfg).
VERSION_RULE = ("\n[sdk versions]\n"
                "regex: \\b(openai|anthropic) \\d+\\.\\d+\\.\\d+(?:\\.?(?:a|b|rc|post|dev)\\d+)*\n"
                "replace: \\1 VERSION\n")
# nbval colours its messages; pytest's JUnit XML writes the escape character (illegal in XML) as "#x1B".
_ANSI = re.compile(r"(?:\x1b|#x1B)\[[0-9;]*m")


class RunFailed(RuntimeError):
    """A step of the run (export, lock, sync, pytest itself) failed: nothing can be said about the SDKs."""


@dataclass(frozen=True)
class Result:
    """One pytest item's outcome as JUnit XML records it."""

    module: str  # the JUnit classname: "tests.test_sdk_facts" or "solutions.tier2.retries.ipynb"
    name: str  # "test_backoff_formula[openai]" or "Cell 12"
    outcome: str  # passed, failed, error or skipped
    message: str = ""

    @property
    def notebook(self) -> str | None:
        """The notebook's path for an nbval cell, None for a test function."""
        if not self.module.endswith(".ipynb"):
            return None
        return self.module.removesuffix(".ipynb").replace(".", "/") + ".ipynb"

    @property
    def nodeid(self) -> str:
        if not self.module:  # a file that failed to collect: JUnit names the module, dotted, with no classname
            return self.name.replace(".", "/") + ".py"
        if self.notebook:
            return f"{self.notebook}::{self.name}"
        return f"{self.module.replace('.', '/')}.py::{self.name}"


@dataclass(frozen=True)
class FactChange:
    nodeid: str
    fact: str
    before: str
    after: str
    message: str


@dataclass
class Report:
    before: dict[str, str]
    after: dict[str, str]
    facts: list[FactChange] = field(default_factory=list)
    notebooks: dict[str, list[Result]] = field(default_factory=dict)
    facts_run: int = 0

    @property
    def upgraded(self) -> bool:
        return self.before != self.after

    @property
    def changed(self) -> bool:
        return bool(self.facts or self.notebooks)


def parse_junit(xml_text: str) -> list[Result]:
    """Every test case of a pytest `--junitxml` file, with its outcome and (for a failure) its message."""
    results = []
    for case in ElementTree.fromstring(xml_text).iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "failed" if child.tag == "failure" else child.tag
                message = _ANSI.sub("", child.text or child.get("message") or "").strip()
                break
        results.append(Result(case.get("classname", ""), case.get("name", ""), outcome, message))
    return results


def locked_versions(lock_text: str, names: tuple[str, ...] = SDKS) -> dict[str, str]:
    """The versions of `names` that a uv.lock pins."""
    packages = {p["name"]: p["version"] for p in tomllib.loads(lock_text).get("package", []) if "version" in p}
    missing = [name for name in names if name not in packages]
    if missing:
        raise RunFailed(f"uv.lock pins no {', '.join(missing)}: run `uv lock` in the checkout first")
    return {name: packages[name] for name in names}


def fact_names(root: Path) -> dict[str, str]:
    """Each SDK-fact test's fact, keyed "tests/<file>.py::<function>": its docstring's first paragraph."""
    facts = {}
    for path in sorted(root.glob(FACT_TESTS)):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                doc = ast.get_docstring(node) or node.name.removeprefix("test_").replace("_", " ")
                facts[f"{path.relative_to(root).as_posix()}::{node.name}"] = " ".join(doc.split("\n\n")[0].split())
    return facts


def compare(before: dict[str, str], after: dict[str, str], baseline: list[Result], newest: list[Result],
            facts: dict[str, str]) -> Report:
    """What changed between the baseline's SDK-fact results and the newest run's (facts and notebooks)."""
    report = Report(before, after)
    old = {r.nodeid: r for r in baseline if r.notebook is None}
    new = {r.nodeid: r for r in newest if r.notebook is None}
    report.facts_run = len(new)
    for nodeid in sorted(old.keys() | new.keys()):
        was, now = old.get(nodeid), new.get(nodeid)
        if was and now and was.outcome == now.outcome:
            continue
        function = nodeid.split("[", 1)[0]
        report.facts.append(FactChange(nodeid, facts.get(function, function), was.outcome if was else "absent",
                                       now.outcome if now else "absent", now.message if now else ""))
    for result in newest:
        if result.notebook and result.outcome in ("failed", "error"):
            report.notebooks.setdefault(result.notebook, []).append(result)
    return report


def _versions(report: Report) -> list[tuple[str, str, str]]:
    return [(name, report.before[name], report.after[name]) for name in report.before]


def _excerpt(message: str) -> str:
    lines = message.splitlines()
    cut = lines[:EXCERPT_LINES]
    if len(lines) > EXCERPT_LINES:
        cut.append(f"... ({len(lines) - EXCERPT_LINES} more lines)")
    return "\n".join(cut)


def _summary(report: Report) -> str:
    if not report.upgraded:
        return "uv.lock already holds the newest releases: nothing to run."
    if not report.changed:
        return (f"Nothing changed: all {report.facts_run} SDK-fact tests keep their outcome and every notebook "
                "reproduces its committed outputs.")
    return (f"{len(report.facts)} SDK-fact test(s) changed outcome; {len(report.notebooks)} notebook(s) "
            "differ from their committed outputs.")


def render_text(report: Report) -> str:
    lines = ["Newest SDKs against the committed lesson outputs", ""]
    lines += [f"  {name}: {was} -> {now}" for name, was, now in _versions(report)]
    lines += ["", _summary(report)]
    if report.facts:
        lines += ["", "SDK facts whose test changed outcome:"]
        for change in report.facts:
            lines += [f"  {change.before} -> {change.after}  {change.nodeid}", f"    fact: {change.fact}"]
            lines += [f"    | {line}" for line in _excerpt(change.message).splitlines()]
    if report.notebooks:
        lines += ["", "Notebooks whose outputs differ:"]
        for notebook, cells in report.notebooks.items():
            lines.append(f"  {notebook}: {', '.join(cell.name for cell in cells)}")
    return "\n".join(lines) + "\n"


def _fenced(text: str) -> list[str]:
    """A code block that no backtick run in `text` can close, so a test's output never renders as markdown or HTML."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell (and never raw HTML)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(report: Report) -> str:
    """The report as an issue body: versions, changed facts, differing notebooks with excerpts."""
    lines = ["| package | locked | newest |", "|---|---|---|"]
    lines += [f"| `{name}` | {was} | {now} |" for name, was, now in _versions(report)]
    lines += ["", f"**{_summary(report)}**"]
    if report.facts:
        lines += ["", "## SDK facts whose test changed outcome", "",
                  "Each row is a fact from `docs/sdk-facts.md` that the world or a lesson relies on.", "",
                  "| test | locked | newest | fact |", "|---|---|---|---|"]
        lines += [f"| `{_cell(c.nodeid)}` | {c.before} | {c.after} | {_cell(c.fact)} |" for c in report.facts]
        for change in (c for c in report.facts if c.message):
            lines += ["", f"`{_cell(change.nodeid)}`:", "", *_fenced(_excerpt(change.message))]
    if report.notebooks:
        lines += ["", "## Notebooks whose outputs differ (nbval)", ""]
        for notebook, cells in report.notebooks.items():
            lines += [f"- `{notebook}`: {', '.join(cell.name for cell in cells)}"]
        first = next(iter(report.notebooks.values()))[0]
        lines += ["", f"First difference, `{_cell(first.nodeid)}`:", "", *_fenced(_excerpt(first.message))]
    if report.changed:
        lines += ["", "Reproduce with `uv run python -m faultfirst.maintain.newest_sdks`; then update the facts "
                  "(`docs/sdk-facts.md`, the tests, the world) and `uv lock --upgrade-package openai "
                  "--upgrade-package anthropic`, or keep the pin."]
    return "\n".join(lines) + "\n"


def exit_status(report: Report) -> int:
    return 1 if report.changed else 0


# --- running it for real -------------------------------------------------------------------------------


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str, ok: tuple[int, ...] = (0,)) -> None:
    print(f"$ {' '.join(command)}", file=sys.stderr, flush=True)
    completed = subprocess.run(command, cwd=cwd, env=env, check=False, stdout=sys.stderr, stderr=sys.stderr)
    if completed.returncode not in ok:
        raise RunFailed(f"{what} failed (exit {completed.returncode}): {' '.join(command)}")


def sanitize_rules(copy: Path) -> str:
    """The committed nbval sanitising rules plus one that hides the SDKs' version numbers."""
    return (copy / "nbval-sanitize.cfg").read_text(encoding="utf-8") + VERSION_RULE


def _pytest(copy: Path, env: dict[str, str], junit: Path, paths: list[str], *options: str) -> list[Result]:
    """Run pytest in the copy; exit 1 (tests failed) is a result, anything else a failed run."""
    _run(["uv", "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *options,
          *paths], copy, env, "pytest", ok=(0, 1))
    return parse_junit(junit.read_text(encoding="utf-8"))


def _environment(venv: Path) -> dict[str, str]:
    """The child environment: its own project environment, and nothing pointing at the checkout's."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "JUPYTER_PATH", "FAULTFIRST_LIVE")}
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    return env


def export_head(root: Path, destination: Path) -> None:
    """The committed tree at HEAD, unpacked into `destination` (nothing of the checkout is shared)."""
    archive = destination.parent / "head.tar"
    _run(["git", "-C", str(root), "archive", "--format=tar", f"--output={archive}", "HEAD"], root, dict(os.environ),
         "git archive")
    with tarfile.open(archive) as tar:
        # Our own commit, so trusted; the "data" filter where this Python has it (3.11.4+) keeps 3.12+ quiet.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
        else:
            tar.extractall(destination)
    archive.unlink()


def run(root: Path, work: Path) -> Report:
    copy = work / "project"
    export_head(root, copy)
    before = locked_versions((copy / "uv.lock").read_text(encoding="utf-8"))
    lock = ["uv", "lock"] + [arg for sdk in SDKS for arg in ("--upgrade-package", sdk)]
    _run(lock, copy, _environment(work / "venv-newest"), "uv lock --upgrade-package")
    after = locked_versions((copy / "uv.lock").read_text(encoding="utf-8"))
    if after == before:
        return Report(before, after)
    facts = sorted(str(p.relative_to(copy)) for p in copy.glob(FACT_TESTS))
    newest_env = _environment(work / "venv-newest")
    _run(["uv", "sync", "--locked", "--compile-bytecode"], copy, newest_env, "uv sync (newest)")
    rules = work / "sanitize.cfg"
    rules.write_text(sanitize_rules(copy), encoding="utf-8")
    newest = _pytest(copy, newest_env, work / "newest.xml", [*facts, NOTEBOOKS], f"--nbval-sanitize-with={rules}")
    # The baseline: the committed lock, restored from git, in an environment of its own.
    (copy / "uv.lock").write_bytes(subprocess.run(["git", "-C", str(root), "show", "HEAD:uv.lock"],
                                                  capture_output=True, check=True).stdout)
    locked_env = _environment(work / "venv-locked")
    _run(["uv", "sync", "--locked", "--compile-bytecode"], copy, locked_env, "uv sync (locked)")
    baseline = _pytest(copy, locked_env, work / "locked.xml", facts)
    return compare(before, after, baseline, newest, fact_names(copy))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m faultfirst.maintain.newest_sdks",
        description="Run the SDK-fact tests and nbval against the newest openai and anthropic releases, in a "
                    "temporary copy of HEAD with an upgraded lock (the committed uv.lock is never touched), and "
                    "report which pinned facts and which notebooks changed.",
        epilog="exit status: 0 nothing changed, 1 something changed, 2 the run itself failed")
    parser.add_argument("--format", choices=("text", "markdown"), default="text",
                        help="markdown: an issue body (what the nightly workflow files)")
    args = parser.parse_args(argv)
    root = find_repo_root()
    try:
        with tempfile.TemporaryDirectory(prefix="newest-sdks-") as work:
            report = run(root, Path(work))
    except RunFailed as error:
        print(f"newest_sdks: {error}. The log above says why; nothing was reported.", file=sys.stderr)
        return 2
    print(render_markdown(report) if args.format == "markdown" else render_text(report), end="")
    return exit_status(report)


if __name__ == "__main__":
    sys.exit(main())
