"""`faultfirst progress`: which exercises in the learner's workspace pass, fast enough to ask often.

A learner checks progress many times a session, so the command runs as little as it can:

- Only what the checks need. In each notebook of the workspace that holds check cells (the
  `exercises/` copies, the lesson copies in `notebooks/`, any notebook of the learner's own),
  an exercise's cells are the code cells between its statement (the markdown cell above) and its
  check cell. What runs is the notebook's `setup` cells, every exercise's cells, and the check
  cells of the attempted exercises; the lesson's prose, plots and worked examples do not.
- Nothing for an untouched stub: an exercise whose cells still read as the curriculum's
  generated stub is "not attempted" without running anything, and a notebook with nothing
  attempted is not run at all.
- Nothing twice: each notebook's results are cached in `<workspace>/.faultfirst/progress.json`
  under a hash of the cells that ran and of the faultfirst package itself, so an unchanged
  workspace answers from the cache and an edited notebook re-runs alone. A cache that is
  corrupt, from another version, or unwritable is ignored (and rewritten when it can be).

The cells run in a process forked from this one after it has imported the SDKs and the checks
once (as `faultfirst.kernels.zygote` does for the test suite's kernels), one process per
notebook, in parallel: a learner's crash or endless loop ends that process, never the command,
and is reported as that exercise failing with the reason. Whatever the cells print goes to a
capture, not the terminal. Learner code runs in an IPython shell, so magics and top-level
`await` work as in JupyterLab. The learner's files are read, never written.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import hashlib
import html
import importlib
import json
import os
import re
import selectors
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NOT_ATTEMPTED, PASSED, FAILED = "not attempted", "passed", "failed"  # as faultfirst.checks says them
_RANK = {PASSED: 2, FAILED: 1, NOT_ATTEMPTED: 0}
_CHECK_CALL = re.compile(r"^\s*check\(\s*[\"'](?P<label>[\w-]+)[\"']", re.MULTILINE)
_REPORT = re.compile(rf"^(?P<label>[\w-]+): (?P<status>{NOT_ATTEMPTED}|{PASSED}|{FAILED})\b(?P<rest>.*)$", re.MULTILINE)
# The heading the generator gives an exercise in Jupyter: "**Exercise 3 (retries-policy)**", maybe ": a title".
_HEADING = re.compile(r"\*\*Exercise\s+(?P<number>[^\s*()]+)(?:\s*\([\w-]+\))?\*\*(?::[ \t]*(?P<title>[^\n]+))?")
CACHE = Path(".faultfirst") / "progress.json"
_CACHE_FORMAT = 1
DEFAULT_TIMEOUT = 30.0  # seconds per cell: above a check's own 10 s bound on a blocked learner call, with margin
_PRELOAD = ("IPython.core.interactiveshell", "IPython.utils.capture", "openai", "anthropic", "tenacity",
            "pydantic", "faultfirst.world", "faultfirst.checks")


# ---------------------------------------------------------------------------------------------------------------
# What the curriculum holds


@dataclass(frozen=True)
class Exercise:
    """One exercise of the curriculum, as its generated `exercises/` notebook presents it."""

    tier: str  # the folder: tier1
    tier_title: str  # the book's part: "Tier 1: The model as a component"
    lesson: str  # tier1/first-calls
    lesson_title: str  # "First calls with two SDKs"
    label: str  # first-calls-reply
    number: str  # what the notebook's heading says: "Exercise 3" -> "3"
    title: str = ""  # the heading's title, if the exercise has one
    stub: tuple[str, ...] = ()  # the exercise's cells as generated, before the learner writes anything


@dataclass(frozen=True)
class _Found:
    """An exercise found in a notebook: its cells (indices) and its check cell."""

    label: str
    heading: str  # the markdown cell above its cells
    cells: tuple[int, ...]
    check: int


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _is_setup(cell: dict[str, Any]) -> bool:
    return "setup" in (cell.get("metadata", {}).get("tags") or [])


def find_in_notebook(cells: Sequence[dict[str, Any]]) -> list[_Found]:
    """Each check cell's exercise: the code cells between its statement and its check cell.

    The statement is the markdown cell whose heading names the exercise's label (the generator writes
    "**Exercise 3 (first-calls-reply)**"), so a note or a cell the learner added under it still belongs
    to the exercise; without such a heading, it is the markdown cell just above the exercise's code cells.
    """
    found = []
    previous_check = -1
    for index, cell in enumerate(cells):
        call = _CHECK_CALL.search(_source(cell)) if cell.get("cell_type") == "code" else None
        if call is None:
            continue
        named = [i for i in range(previous_check + 1, index)
                 if cells[i].get("cell_type") == "markdown" and f"({call['label']})" in _source(cells[i])]
        if named:
            heading = named[-1]
        else:
            heading = index - 1
            while (heading > previous_check and cells[heading].get("cell_type") == "code"
                   and not _is_setup(cells[heading])):
                heading -= 1
        code = tuple(i for i in range(heading + 1, index)
                     if cells[i].get("cell_type") == "code" and not _is_setup(cells[i]))
        introduced = heading > previous_check and cells[heading].get("cell_type") == "markdown"
        text = _source(cells[heading]) if introduced else ""
        found.append(_Found(call["label"], text, code, index))
        previous_check = index
    return found


def _book_order(root: Path) -> tuple[list[str], dict[str, str]]:
    """The lessons in `_toc.yml`'s order, and the caption of the part each sits in (a line scan: no YAML needed)."""
    order: list[str] = []
    captions: dict[str, str] = {}
    caption = ""
    toc = root / "_toc.yml"
    for line in toc.read_text(encoding="utf-8").splitlines() if toc.is_file() else []:
        if match := re.match(r"\s*-?\s*caption:\s*(?P<c>.+?)\s*$", line):
            caption = match["c"].strip("\"'")
        elif match := re.match(r"\s*-?\s*file:\s*book/(?P<f>\S+?)(?:\.md)?\s*$", line):
            order.append(match["f"])
            captions[match["f"]] = caption
    return order, captions


def curriculum(root: Path) -> list[Exercise]:
    """Every exercise of the curriculum, in the book's order, from the generated `exercises/` notebooks."""
    order, captions = _book_order(root)
    folder = root / "exercises"
    paths = sorted(folder.rglob("*.ipynb")) if folder.is_dir() else []
    rank = {name: i for i, name in enumerate(order)}
    lessons = sorted((p.relative_to(folder).with_suffix("").as_posix() for p in paths),
                     key=lambda name: (rank.get(name, len(rank)), name))
    exercises = []
    for lesson in lessons:
        cells = json.loads((folder / f"{lesson}.ipynb").read_text(encoding="utf-8"))["cells"]
        source = root / "book" / f"{lesson}.md"
        title = re.search(r"^# (.+)$", source.read_text(encoding="utf-8"), re.MULTILINE) if source.is_file() else None
        tier = lesson.split("/")[0]
        for found in find_in_notebook(cells):
            heading = _HEADING.search(found.heading)
            exercises.append(Exercise(
                tier, captions.get(lesson, tier), lesson, title[1].strip() if title else lesson, found.label,
                heading["number"] if heading else "", (heading["title"] or "").strip() if heading else "",
                tuple(_source(cells[i]).strip() for i in found.cells)))
    return exercises


# ---------------------------------------------------------------------------------------------------------------
# What to run


@dataclass(frozen=True)
class Result:
    """An exercise's status in one notebook: the check's one-line verdict, and the date the check ran."""

    status: str
    verdict: str = ""
    checked: str | None = None  # ISO date; None when nothing ran (an untouched stub)
    notebook: str | None = None  # the workspace notebook it comes from


@dataclass(frozen=True)
class Plan:
    """The cells of one notebook that the checks need, and what is known without running them."""

    notebook: str  # relative to the workspace
    folder: str  # where its cells run, as a kernel runs in the notebook's folder
    cells: tuple[tuple[str, str, str], ...]  # (role, label, source): role is setup, exercise or check
    attempted: tuple[str, ...]  # labels whose check cell runs
    untouched: tuple[str, ...]  # labels still equal to the generated stub: not attempted, nothing run
    key: str  # a hash of the cells that run and of the package that runs them


def fingerprint() -> str:
    """What, besides the learner's cells, decides a check's result: the faultfirst package's own files and Python.

    Not the generator (`build/`) or the test suite's helpers (`testing/`): a notebook's cells never run them, and
    a maintainer regenerating the notebooks should not make every learner's next run start from nothing.
    """
    digest = hashlib.sha256(sys.version.encode())
    package = Path(__file__).parents[1]
    for path in sorted(package.rglob("*")):
        inside = path.relative_to(package).parts
        if path.suffix in (".py", ".json") and not {"__pycache__", "build", "testing"} & set(inside[:-1]):
            digest.update("/".join(inside).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def plan(workspace: Path, notebook: str, cells: Sequence[dict[str, Any]], stubs: dict[str, tuple[str, ...]],
         package: str) -> Plan | None:
    """What must run in `notebook` (a path in `workspace`); None if it holds no exercise of the curriculum."""
    found = [f for f in find_in_notebook(cells) if f.label in stubs]
    if not found:
        return None
    untouched = tuple(f.label for f in found if tuple(_source(cells[i]).strip() for i in f.cells) == stubs[f.label])
    attempted = tuple(f.label for f in found if f.label not in untouched)
    role: dict[int, tuple[str, str]] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and _is_setup(cell):
            role[index] = ("setup", "")
    for f in found:
        role.update({i: ("exercise", f.label) for i in f.cells})  # stubs run too: a later exercise may use them
        if f.label in attempted:
            role[f.check] = ("check", f.label)
    run = tuple((kind, label, _source(cells[i])) for i, (kind, label) in sorted(role.items())) if attempted else ()
    key = hashlib.sha256(json.dumps([package, run]).encode()).hexdigest()
    return Plan(notebook, str((workspace / notebook).parent.resolve()), run, attempted, untouched, key)


# ---------------------------------------------------------------------------------------------------------------
# Running: one forked process per notebook


Runner = Callable[[Sequence[Plan]], dict[str, dict[str, Result]]]


def _verdict(result: Any, printed: str) -> tuple[str, str]:
    """A check cell's status and one-line verdict: from the CheckResult it returned, else from what it printed."""
    status = getattr(result, "status", None)
    if status in _RANK:
        cases = list(getattr(result, "cases", []))
        if status == NOT_ATTEMPTED:
            return status, f"{getattr(result, 'function', 'your function')} still raises NotImplementedError"
        good = sum(bool(c.passed) for c in cases)
        line = f"{good} of {len(cases)} cases pass"
        failed = next((c for c in cases if not c.passed), None)
        return status, line if failed is None else f"{line}; first failure: {failed.name}: {failed.reason}"
    if report := _REPORT.search(printed):
        return report["status"], report["rest"].strip(" :()") or report["status"]
    return FAILED, "the check cell printed no report"


def _one_line(text: str, limit: int = 200) -> str:
    """`text` on one line, cut at `limit` characters: a verdict is a table cell, the notebook has the full report."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _child(plan: Plan, send: Callable[[dict[str, Any]], None]) -> None:
    """In the forked process: run the plan's cells in an IPython shell, sending each check's outcome."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no history database written in the learner's home
    shell = InteractiveShell.instance(config=config)
    errors: dict[str, str] = {}
    for index, (role, label, source) in enumerate(plan.cells):
        send({"cell": index})
        with capture_output() as captured:
            ran = shell.run_cell(source, store_history=False)
        error = ran.error_before_exec or ran.error_in_exec
        if error is not None and role == "setup":
            errors[""] = f"the setup cell raised {type(error).__name__}: {error}"
        elif error is not None and role == "exercise":
            errors[label] = f"your exercise cell raised {type(error).__name__}: {error}"
        if role != "check":
            continue
        if error is not None:
            why = errors.get(label) or errors.get("") or f"the check cell raised {type(error).__name__}: {error}"
            status, verdict = FAILED, why
        else:
            status, verdict = _verdict(ran.result, captured.stdout)
        send({"label": label, "status": status, "verdict": _one_line(verdict)})


def _start(plan: Plan) -> tuple[int, int, Any]:
    """Fork a process that runs `plan`; its messages arrive on the returned pipe, its output in the log file."""
    read, write = os.pipe()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the parent reads and closes it when the plan ends
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read, log
    try:  # the child: never returns, whatever happens
        os.close(read)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process ends with os._exit
        sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C in the terminal ends the children with the command
        os.environ.setdefault("MPLBACKEND", "Agg")  # plots in setup cells draw off screen
        os.chdir(plan.folder)

        def send(message: dict[str, Any]) -> None:
            os.write(write, (json.dumps(message) + "\n").encode())

        _child(plan, send)
        send({"done": True})
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        os._exit(0)


@dataclass
class _Running:
    plan: Plan
    pid: int
    log: Any
    deadline: float
    cell: int = -1
    buffer: bytes = b""
    results: dict[str, Result] = field(default_factory=dict)
    done: bool = False


def _finish(run: _Running, today: str, why: str) -> dict[str, Result]:
    """The results of a plan whose process ended early (`why`): what it sent, and why the rest has none."""
    results = dict(run.results)
    stuck_label = run.plan.cells[run.cell][1] if 0 <= run.cell < len(run.plan.cells) else ""
    stuck_role = run.plan.cells[run.cell][0] if 0 <= run.cell < len(run.plan.cells) else ""
    for label in run.plan.attempted:
        if label in results:
            continue
        if stuck_role == "setup":
            reason = f"the notebook's setup cell {why}"
        elif label == stuck_label:
            reason = f"your {'check' if stuck_role == 'check' else 'exercise'} cell {why}"
        else:
            reason = f"not run: a cell above it in {run.plan.notebook} {why}"
        results[label] = Result(FAILED, _one_line(reason), today, run.plan.notebook)
    return results


def _log_tail(log: Any, lines: int = 3) -> str:
    """The last lines a dead process wrote to its file descriptors (a fatal error's message), on one line."""
    log.seek(0)
    tail = log.read().decode("utf-8", "replace").strip().splitlines()[-lines:]
    return " / ".join(tail)


def run_plans(plans: Sequence[Plan], *, timeout: float = DEFAULT_TIMEOUT, jobs: int | None = None,
              preload: Iterable[str] = _PRELOAD, today: str | None = None) -> dict[str, dict[str, Result]]:
    """Run each plan in a process forked from this one, `jobs` at a time; no cell may run longer than `timeout`."""
    today = today or datetime.date.today().isoformat()
    if not hasattr(os, "fork"):
        raise OSError("faultfirst progress runs your cells in forked processes, which this system does not have; "
                      "on Windows, run it in WSL, or run each exercises notebook in JupyterLab to see its checks")
    for name in preload:  # once, here, so that every forked process starts with them imported
        importlib.import_module(name)
    jobs = max(1, jobs or os.cpu_count() or 1)
    pending, running, out = list(plans), dict[int, _Running](), dict[str, dict[str, Result]]()
    selector = selectors.DefaultSelector()

    def close(fd: int, why: str | None) -> None:
        """End one plan's process (if it still runs) and record its results; `why` it ended early, if it did."""
        run = running.pop(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(run.pid, signal.SIGKILL)  # after its last message it may still be in os._exit
        os.waitpid(run.pid, 0)
        if run.done:
            out[run.plan.notebook] = run.results
        else:
            why = why or f"stopped its process ({_log_tail(run.log) or 'no message'})"
            out[run.plan.notebook] = _finish(run, today, why)
        selector.unregister(fd)
        os.close(fd)
        run.log.close()

    gc.freeze()  # a child's first collection would otherwise touch (and copy) every page imported above
    try:
        while pending or running:
            while pending and len(running) < jobs:
                current = pending.pop(0)
                pid, read, log = _start(current)
                running[read] = _Running(current, pid, log, time.monotonic() + timeout)
                selector.register(read, selectors.EVENT_READ)
            wait = max(0.0, min(r.deadline for r in running.values()) - time.monotonic())
            for key, _ in selector.select(wait):
                run = running[key.fd]
                chunk = os.read(key.fd, 65536)
                *lines, run.buffer = (run.buffer + chunk).split(b"\n")
                for message in map(json.loads, lines):
                    run.deadline = time.monotonic() + timeout
                    if "cell" in message:
                        run.cell = message["cell"]
                    elif "label" in message:
                        run.results[message["label"]] = Result(message["status"], message["verdict"], today,
                                                               run.plan.notebook)
                    elif message.get("done"):
                        run.done = True
                if run.done or not chunk:  # finished, or its process ended without saying so
                    close(key.fd, None)
            for fd, run in list(running.items()):
                if time.monotonic() >= run.deadline:
                    close(fd, f"was still running after {timeout:g} s (an endless loop?), so it was stopped")
    finally:
        gc.unfreeze()
        for fd in list(running):  # only after an exception here (Ctrl-C): leave no process behind
            close(fd, "was interrupted")
        selector.close()
    return out


# ---------------------------------------------------------------------------------------------------------------
# The workspace, with its cache


def _read_cache(path: Path, package: str) -> dict[str, Any]:
    """The cached results per notebook; an empty cache if the file is missing, corrupt, or from another version."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if (data.get("format") == _CACHE_FORMAT and data.get("package") == package
                and isinstance(data.get("notebooks"), dict)):
            return data["notebooks"]
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _cached(entry: Any, plan: Plan) -> dict[str, Result] | None:
    """The cached results of `plan`, if the entry was made by running exactly these cells; None otherwise."""
    try:
        if entry["key"] != plan.key:
            return None
        results = {label: Result(**entry["results"][label]) for label in plan.attempted}
        return results if all(r.status in _RANK for r in results.values()) else None
    except (KeyError, TypeError):
        return None


def _write_cache(path: Path, package: str, notebooks: dict[str, Any]) -> str | None:
    """Write the cache atomically; the reason if it could not be written (a read-only workspace), else None."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"format": _CACHE_FORMAT, "package": package, "notebooks": notebooks},
                                        indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as err:
        return f"could not save the results in {path} ({err.strerror or err}); the next run starts again"
    return None


@dataclass
class Progress:
    """The best result of every exercise found in a workspace, and what it took to get them."""

    results: dict[str, Result]
    ran: list[str] = field(default_factory=list)  # notebooks whose cells ran this time
    cached: list[str] = field(default_factory=list)  # notebooks answered from the cache
    notes: list[str] = field(default_factory=list)  # unreadable notebooks, an unwritable cache


def _notebooks(workspace: Path) -> list[Path]:
    """Every notebook in the workspace, the learner's own included; not JupyterLab's checkpoints or our cache."""
    return sorted(p for p in workspace.rglob("*.ipynb")
                  if not {".ipynb_checkpoints", ".faultfirst"} & set(p.relative_to(workspace).parts))


def workspace_results(workspace: Path, exercises: Sequence[Exercise], *, run: Runner | None = None,
                      announce: Callable[[list[str]], None] = lambda notebooks: None) -> Progress:
    """Plan every notebook, take unchanged ones from the cache, run the rest (`run`, by default forked processes)."""
    package = fingerprint()
    stubs = {e.label: e.stub for e in exercises}
    cache_path = workspace / CACHE
    cache = _read_cache(cache_path, package)
    progress = Progress({})
    plans: list[Plan] = []
    found: dict[str, dict[str, Result]] = {}
    for path in _notebooks(workspace):
        name = path.relative_to(workspace).as_posix()
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            planned = plan(workspace, name, cells, stubs, package)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            progress.notes.append(f"skipped {name}: it is not a notebook that can be read ({type(err).__name__}); "
                                  "open it in JupyterLab to see what is wrong")
            continue
        if planned is None:
            continue
        found[name] = {label: Result(NOT_ATTEMPTED, "", None, name) for label in planned.untouched}
        if not planned.attempted:
            continue
        if (hit := _cached(cache.get(name), planned)) is not None:
            found[name].update(hit)
            progress.cached.append(name)
        else:
            plans.append(planned)
    if plans:
        announce([p.notebook for p in plans])
        for name, results in (run or run_plans)(plans).items():
            found[name].update(results)
        progress.ran = [p.notebook for p in plans]
    entries = {p.notebook: {"key": p.key, "results": {label: asdict(found[p.notebook][label]) for label in p.attempted}}
               for p in plans}
    entries.update({name: cache[name] for name in progress.cached})
    if (plans or set(cache) != set(entries)) and (note := _write_cache(cache_path, package, entries)) is not None:
        progress.notes.append(note)
    for results in found.values():
        for label, result in results.items():
            best = progress.results.get(label)
            if best is None or (_RANK[result.status], result.checked or "") > (_RANK[best.status], best.checked or ""):
                progress.results[label] = result
    return progress


# ---------------------------------------------------------------------------------------------------------------
# Reports


def _status(results: dict[str, Result], label: str) -> Result:
    return results.get(label) or Result(NOT_ATTEMPTED)


def _counts(exercises: Sequence[Exercise], results: dict[str, Result]) -> dict[str, int]:
    statuses = [_status(results, e.label).status for e in exercises]
    return {"exercises": len(statuses), "attempted": sum(s != NOT_ATTEMPTED for s in statuses),
            "passed": statuses.count(PASSED), "failed": statuses.count(FAILED)}


def _by_tier(exercises: Sequence[Exercise]) -> dict[str, list[Exercise]]:
    tiers: dict[str, list[Exercise]] = {}
    for exercise in exercises:
        tiers.setdefault(exercise.tier_title, []).append(exercise)
    return tiers


def text(exercises: Sequence[Exercise], results: dict[str, Result]) -> str:
    """Per tier, per lesson: each exercise's number, label, status and verdict; then the tier's counts."""
    lines: list[str] = []
    for tier, items in _by_tier(exercises).items():
        width = max(len(e.label) for e in items)
        number = max(len(e.number) for e in items)
        lines.append(tier)
        lesson = None
        for e in items:
            if e.lesson_title != lesson:
                lesson = e.lesson_title
                lines.append(f"  {lesson}")
            result = _status(results, e.label)
            row = f"    {e.number:>{number}}  {e.label:<{width}}  {result.status:<13}  {result.verdict}"
            lines.append(row.rstrip())
        counts = _counts(items, results)
        lines.append(f"  attempted {counts['attempted']} of {counts['exercises']}, passing {counts['passed']}, "
                     f"failing {counts['failed']}")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _cell(value: str) -> str:
    """Text safe in a markdown table cell: no column breaks, no line breaks, no HTML a renderer would obey."""
    return html.escape(" ".join(value.split()), quote=False).replace("|", "\\|")


def markdown(exercises: Sequence[Exercise], results: dict[str, Result], *, today: str | None = None) -> str:
    """A table to paste to a mentor: lesson, exercise, status, the check's verdict, and when it ran."""
    counts = _counts(exercises, results)
    lines = [f"**Fault-First AI Engineering: progress on {today or datetime.date.today().isoformat()}.** "
             f"Attempted {counts['attempted']} of {counts['exercises']} exercises: {counts['passed']} passing, "
             f"{counts['failed']} failing.", "",
             "| Lesson | Exercise | Status | Verdict | Checked |", "|---|---|---|---|---|"]
    for e in exercises:
        result = _status(results, e.label)
        name = f"{e.number} {e.title or e.label}".strip() if e.title else f"{e.number} `{e.label}`".strip()
        lines.append(f"| {_cell(e.lesson_title)} | {_cell(name)} | {result.status} | "
                     f"{_cell(result.verdict)} | {result.checked or ''} |")
    return "\n".join(lines)


JSON_KEYS = {
    "format": "1; a change that breaks a reader of this output gets a new number",
    "date": "the day of the report (ISO 8601)",
    "summary": "counts over all exercises: exercises, attempted, passed, failed",
    "exercises": "one object per exercise in the book's order, with the keys below",
    "exercises[].tier": "the tier's folder: tier1",
    "exercises[].tier_title": "its part of the book: Tier 1: The model as a component",
    "exercises[].lesson": "the lesson's path: tier1/first-calls",
    "exercises[].lesson_title": "the lesson's title: First calls with two SDKs",
    "exercises[].label": "the exercise's label, the name of its check",
    "exercises[].number": "the exercise's number as its notebook heading gives it (a string)",
    "exercises[].title": "the exercise's title, or an empty string",
    "exercises[].status": f"{PASSED!r}, {FAILED!r} or {NOT_ATTEMPTED!r}",
    "exercises[].verdict": "the check's one-line verdict, empty if it never ran",
    "exercises[].checked": "the date the check last ran (ISO 8601), or null if it never ran",
    "exercises[].notebook": "the workspace notebook the result comes from, or null",
}


def as_json(exercises: Sequence[Exercise], results: dict[str, Result], *, today: str | None = None) -> str:
    """The report as JSON, with the keys `JSON_KEYS` documents."""
    rows = []
    for e in exercises:
        result = _status(results, e.label)
        rows.append({"tier": e.tier, "tier_title": e.tier_title, "lesson": e.lesson, "lesson_title": e.lesson_title,
                     "label": e.label, "number": e.number, "title": e.title, "status": result.status,
                     "verdict": result.verdict, "checked": result.checked,
                     "notebook": result.notebook})
    return json.dumps({"format": 1, "date": today or datetime.date.today().isoformat(),
                       "summary": _counts(exercises, results), "exercises": rows}, indent=2, ensure_ascii=False)
