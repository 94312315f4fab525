"""The package's layering, as pyproject.toml declares it for import-linter ([tool.importlinter]).

The layers read top to bottom: the programs (cli, serve, the learner's and maintainers' commands),
then the book's generator and the exercise checks, the fast kernel, the world, live mode, the
transports, the service that decides each attempt, the wire, the model, the clock, and the two helpers
every layer may use. A layer imports only layers below it, and no package's modules import each other in
a cycle. docs/architecture.md says why each layer sits where it does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(package_parent: Path | None = None) -> subprocess.CompletedProcess:
    """import-linter over the package (or over a copy of it in `package_parent`), with no cache in the checkout."""
    env = dict(os.environ)
    if package_parent is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(package_parent), env.get("PYTHONPATH", "")])
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_package_keeps_its_layers_and_has_no_import_cycle():
    """Both contracts are kept: the layers, and no cycle between the modules of any package."""
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_layer_importing_upwards_or_a_cycle_breaks_the_contracts(tmp_path):
    """The linter is not a rubber stamp: in a copy of the package, the clock importing the world breaks the
    layers, and the model's catalogue importing its behaviour (which imports the catalogue) makes a cycle."""
    copy = tmp_path / "faultfirst"
    shutil.copytree(ROOT / "src" / "faultfirst", copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "clock" / "virtual.py").open("a") as module:
        module.write("\nfrom ..world import World  # planted: the clock may not know the world\n")
    with (copy / "model" / "tokens.py").open("a") as module:
        module.write("\nfrom . import catalog  # planted\n")
    with (copy / "model" / "catalog.py").open("a") as module:
        module.write("\nfrom . import tokens  # planted: tokens -> catalog -> tokens\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 2 broken." in result.stdout
    assert "faultfirst.clock is not allowed to import faultfirst.world" in result.stdout
    assert "No cycles are allowed in faultfirst.model." in result.stdout
