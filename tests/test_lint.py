"""ruff and mypy over src/, tests/ and benchmarks/, with the settings pyproject.toml gives them.

ruff takes a fraction of a second, so it runs with every `uv run pytest`. mypy takes about 30 s from a
cold cache (20 s of CPU; 2 s warm), too much for the suite's time budget: its test is marked
`typecheck`, which the default run leaves out (`uv run pytest -m typecheck` runs it), and .ci/run runs
`uv run mypy` as a step of its own.

Files other branches are changing are not all clean yet. NOT_YET_CLEAN names each one with the tools
it does not yet pass; everything else must be clean, and a listed file that has become clean fails the
test until its entry is deleted, so the list only shrinks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # ruff and mypy come with the dev dependencies (uv sync)
CHECKED = ("src", "tests", "benchmarks")

# Files not yet clean, each with the tools it fails: the checks and the JSON corrupter are being changed
# on other branches, and are made clean as those merge. ruff's test leaves
# the "ruff" ones out; mypy leaves the "mypy" ones out through the override in pyproject.toml with
# `ignore_errors = true` (test_the_mypy_override_ignores_exactly_the_listed_files keeps the two equal).
# Delete an entry once its file is clean (the tests say which), and the override with the last one.
NOT_YET_CLEAN: dict[str, tuple[str, ...]] = {
    "src/faultfirst/model/corrupt_json.py": ("mypy",),
}


def listed(tool: str) -> set[str]:
    return {path for path, tools in NOT_YET_CLEAN.items() if tool in tools}


def module_of(path: str) -> str:
    """The module mypy names a checked file by: src/ and benchmarks/ are roots, tests/ is a package."""
    parts = Path(path).with_suffix("").parts
    parts = parts[1:] if parts[0] in ("src", "benchmarks") else parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def assert_clean_but_the_listed(tool: str, problems: list[str]) -> None:
    """Every problem is in a file listed for `tool`, and every file listed for it still has one."""
    by_file: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        by_file[problem.split(":", 1)[0]].append(problem)
    unlisted = [problem for path, found in sorted(by_file.items()) if path not in listed(tool) for problem in found]
    assert not unlisted, f"{tool} finds {len(unlisted)} problems:\n" + "\n".join(unlisted)
    now_clean = sorted(listed(tool) - by_file.keys())
    assert not now_clean, (f"clean under {tool} now, so delete {tool!r} from their NOT_YET_CLEAN entries "
                           f"(tests/test_lint.py){' and the mypy override in pyproject.toml' * (tool == 'mypy')}: "
                           f"{now_clean}")


def ruff(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "--output-format", "concise", *args],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 2: ruff itself failed
    return result


def test_ruff_is_clean():
    """ruff finds nothing in src/, tests/ or benchmarks/ but in the files NOT_YET_CLEAN lists for it."""
    problems = [line for line in ruff(*CHECKED).stdout.splitlines() if re.match(r"[^:\s]+\.py:\d+:\d+: ", line)]
    assert_clean_but_the_listed("ruff", problems)


def test_ruff_is_not_a_rubber_stamp(tmp_path):
    """With the project's settings ruff rejects an unused import, a comparison with None and a long line."""
    planted = tmp_path / "planted.py"
    planted.write_text(f"import os\n\n\ndef f(x):\n    return x == None\n\n\nLONG = {'x' * 120!r}\n")
    result = ruff("--config", str(ROOT / "pyproject.toml"), str(planted))
    assert result.returncode == 1 and {"F401", "E711", "E501"} <= set(re.findall(r" ([A-Z]+\d+) ", result.stdout))


def test_the_mypy_override_ignores_exactly_the_listed_files():
    """pyproject.toml's `ignore_errors` override names the modules of the files NOT_YET_CLEAN lists for mypy."""
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"].get("overrides", [])
    ignored = sorted(module for override in overrides if override.get("ignore_errors") for module in override["module"])
    assert ignored == sorted(module_of(path) for path in listed("mypy"))


def _toml_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else json.dumps(value)


@pytest.mark.typecheck
def test_mypy_is_clean(tmp_path):
    """mypy finds nothing but in the files NOT_YET_CLEAN lists for it. It runs with pyproject.toml's settings less
    the `ignore_errors` override, so that one run also shows each listed file still fails."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    overrides = [override for override in settings.pop("overrides", []) if not override.get("ignore_errors")]
    config = ["[tool.mypy]", *(f"{key} = {_toml_value(value)}" for key, value in settings.items())]
    for override in overrides:
        config += ["", "[[tool.mypy.overrides]]", *(f"{key} = {_toml_value(value)}" for key, value in override.items())]
    (tmp_path / "mypy.toml").write_text("\n".join(config) + "\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(tmp_path / "mypy.toml")], cwd=ROOT,
                            capture_output=True, text=True, timeout=170, check=False)
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 2: mypy itself failed
    problems = [line for line in result.stdout.splitlines() if re.match(r"[^:\s]+\.py:\d+: error: ", line)]
    assert_clean_but_the_listed("mypy", problems)
    assert problems or result.returncode == 0, result.stdout + result.stderr  # nothing it reported was missed
