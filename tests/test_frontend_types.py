"""The typed boundary of the lesson "Errors as types" (book/tier3/errors-as-types.md), from Python to TypeScript.

The lesson's pydantic reply models produce an OpenAPI schema through FastAPI (`app.openapi()`), and the
repository keeps that schema, the TypeScript types openapi-typescript generates from it, and a small frontend
in book/tier3/frontend/ (the lesson must run with uv alone, so it shows them rather than running Node). Here:
the committed schemas are what the lesson's models produce now; and, where Node and the folder's pinned npm
packages are installed (`npm ci` in that folder), the committed types are what the generator makes of the
schemas, the frontend type-checks against them, and the same frontend fails to type-check once the reply gains
a `failed` state, on its `never` line, until a frontend that handles `failed` is checked instead. What the
lesson quotes (a generated type, the frontend's `render`, tsc's error) is checked against the real files and
the real output.

To refresh after changing the lesson's models: `uv run python tests/test_frontend_types.py`, then
`npm run generate` in book/tier3/frontend.
"""

from __future__ import annotations

import json
import linecache
import re
import shutil
import subprocess
import sys
import types
from functools import cache
from pathlib import Path
from typing import Any

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "book" / "tier3" / "errors-as-types.md"
FRONTEND = ROOT / "book" / "tier3" / "frontend"
BIN = FRONTEND / "node_modules" / ".bin"
SCHEMAS = {"app": "openapi.json", "app_failed": "openapi-failed.json"}


@cache
def lesson_schemas() -> dict[str, dict[str, Any]]:
    """The OpenAPI documents the lesson's two FastAPI apps produce: its setup cells, then the cells that define the
    apps (their endpoints call the lesson's other functions only when a request comes, and none does)."""
    cells = [cell for cell in jupytext.read(LESSON).cells if cell.cell_type == "code"
             and ("setup" in cell.metadata.get("tags", []) or "= FastAPI(" in cell.source)]
    module = types.ModuleType("errors_as_types_lesson")  # registered, as a kernel's __main__ is: pydantic looks
    sys.modules[module.__name__] = module                # a model's module up by name
    namespace = module.__dict__
    for number, cell in enumerate(cells):
        filename = f"<{LESSON.name} cell {number}>"
        linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(keepends=True), filename)
        exec(compile(cell.source, filename, "exec"), namespace)
    return {name: namespace[name].openapi() for name in SCHEMAS}


@pytest.mark.parametrize("app", SCHEMAS)
def test_the_committed_schema_is_what_the_lessons_models_produce(app):
    """book/tier3/frontend/openapi*.json equal app.openapi() of the lesson's apps, so the types made from them are
    the lesson's."""
    committed = json.loads((FRONTEND / SCHEMAS[app]).read_text())
    assert committed == lesson_schemas()[app], f"{SCHEMAS[app]} is stale: run `uv run python {Path(__file__).name}`"


def _node_or_skip() -> None:
    if shutil.which("node") is None:
        pytest.skip("Node is not installed here: the generated TypeScript is committed, and checked where Node is")
    if not (BIN / "openapi-typescript").exists() or not (BIN / "tsc").exists():
        pytest.skip(f"the frontend's npm packages are not installed: run `npm ci` in {FRONTEND.relative_to(ROOT)}")


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize(("schema", "generated"), [("openapi.json", "api.ts"),
                                                   ("openapi-failed.json", "api-failed.ts")])
def test_the_committed_types_are_what_openapi_typescript_generates(schema, generated, tmp_path):
    """`npx openapi-typescript <schema> -o <types>` (the command package.json's `generate` runs) reproduces the
    committed file byte for byte."""
    _node_or_skip()
    done = _run(BIN / "openapi-typescript", FRONTEND / schema, "-o", tmp_path / generated, cwd=FRONTEND)
    assert done.returncode == 0, done.stderr
    stale = f"{generated} is stale: run `npm run generate` in {FRONTEND.relative_to(ROOT)}"
    assert (tmp_path / generated).read_text() == (FRONTEND / generated).read_text(), stale


def _typecheck(folder: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "tsc", "--noEmit", "--strict", "--target", "es2022", "--module", "esnext",
                "--moduleResolution", "bundler", *files, cwd=folder)


def _frontend(tmp_path: Path, render: str, api: str) -> Path:
    """A folder with `render` as render.ts and the generated `api` as the api.ts it imports."""
    shutil.copy(FRONTEND / render, tmp_path / "render.ts")
    source = (tmp_path / "render.ts").read_text()
    (tmp_path / "render.ts").write_text(re.sub(r'from "\./api[\w-]*"', 'from "./api"', source))
    shutil.copy(FRONTEND / api, tmp_path / "api.ts")
    return tmp_path


def test_the_frontend_type_checks_only_while_it_handles_every_reply_state(tmp_path):
    """render.ts passes tsc against today's types, and render-failed.ts, which handles `failed`, against the types
    with a `failed` state; render.ts against those fails on its `never` line, naming the new state."""
    _node_or_skip()
    for folder, render, api in (("today", "render.ts", "api.ts"), ("handled", "render-failed.ts", "api-failed.ts"),
                                ("grown", "render.ts", "api-failed.ts")):
        (tmp_path / folder).mkdir()
        _frontend(tmp_path / folder, render, api)
    # One tsc run for the three (its start-up is most of its time); each file's errors carry its folder.
    done = _typecheck(tmp_path, "today/render.ts", "handled/render.ts", "grown/render.ts")
    errors = [line for line in done.stdout.splitlines() if ": error " in line]
    assert done.returncode != 0 and all(line.startswith("grown/") for line in errors), done.stdout
    errors = [line.removeprefix("grown/") for line in errors]
    never_line = next(number for number, line in enumerate((FRONTEND / "render.ts").read_text().splitlines(), 1)
                      if "const unhandled: never = reply;" in line)
    assert len(errors) == 1 and errors[0].startswith(f"render.ts({never_line},"), done.stdout
    assert '"failed"' in errors[0] and "not assignable to type 'never'" in errors[0]
    assert errors[0] in LESSON.read_text(), f"the lesson should quote tsc's error as it is: {errors[0]}"


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", LESSON.read_text(), re.MULTILINE | re.DOTALL)


def test_what_the_lesson_quotes_is_in_the_committed_files():
    """The generated type and the frontend function the lesson shows are copied from the real files."""
    quoted = _code_blocks("typescript")
    assert len(quoted) == 2
    assert quoted[0] in (FRONTEND / "api.ts").read_text()
    assert quoted[1] in (FRONTEND / "render.ts").read_text()


if __name__ == "__main__":
    for app, file in SCHEMAS.items():
        (FRONTEND / file).write_text(json.dumps(lesson_schemas()[app], indent=2) + "\n")
        print("wrote", FRONTEND / file)
