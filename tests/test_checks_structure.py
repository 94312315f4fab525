"""How the exercise checks are built: on the World's public API, in small modules, with no helper written twice.

A check that reads or patches a World private (`world._api.plan`, `world._api.latency`, the limiter of a model)
ties every check to the engine's private shape: a change inside the simulator then breaks checks that no test
of the simulator runs. `world.on_attempt` hooks, `world.active_limits`, `world.limits(...)` and the public
classes of `faultfirst.service` cover what the checks need. This scans every source file of the checks package.

A lesson whose checks grow past a few hundred lines is split into a package of small modules (its hints, its harness,
one module per exercise), and what two lessons compute alike lives once in `checks/_helpers.py` or `_async.py`: a
copy drifts, and two checks then disagree about what a percentile is.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import faultfirst.checks

CHECKS_DIR = Path(faultfirst.checks.__file__).parent
# `world._anything`, and the World privates by name on whatever object holds them (`World(...)._api`).
PRIVATE = re.compile(r"\bworld\._\w+|\._(?:api|runner|spend|session)\b")


def private_reaches(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each line of `text` that touches a World private."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if PRIVATE.search(line)]


def test_no_check_touches_a_world_private():
    found = [f"{path.relative_to(CHECKS_DIR.parent.parent)}:{n}: {line}"
             for path in sorted(CHECKS_DIR.rglob("*.py"))
             for n, line in private_reaches(path.read_text(encoding="utf-8"))]
    assert not found, "checks must use the World's public API:\n" + "\n".join(found)


def test_the_scan_sees_each_kind_of_private_reach():
    planted = ("engine = world._api\n"
               "rise = World(seed=1)._api.latency.rise_seconds\n"
               "world._runner.run(x)\n"
               "spend = self.world._spend\n"
               "s = w._session\n"
               "world.on_attempt(after=seen.append)\n"
               "_spend_tokens(world, 3)\n")
    assert [n for n, _ in private_reaches(planted)] == [1, 2, 3, 4, 5]


def test_the_scan_covers_every_check_module():
    scanned = {path.name for path in CHECKS_DIR.rglob("*.py")}
    assert {"__init__.py", "_framework.py"} <= scanned and len(scanned) > 10


MAX_LINES = 400


def test_no_check_module_is_over_400_lines():
    long = {str(path.relative_to(CHECKS_DIR)): n for path in CHECKS_DIR.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these into smaller modules (at most {MAX_LINES} lines): {long}"


def same_functions(sources: dict[str, str]) -> list[list[str]]:
    """Groups of `module:function` whose top-level definitions are the same code (docstrings aside), across modules."""
    seen: dict[str, list[str]] = defaultdict(list)
    for module, source in sources.items():
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                code = ast.dump(ast.Module(body=[*body], type_ignores=[])) + ast.dump(node.args)
                seen[code].append(f"{module}:{node.name}")
    return [names for names in seen.values() if len({name.split(":")[0] for name in names}) > 1]


def test_no_helper_is_defined_twice_in_the_checks():
    sources = {str(path.relative_to(CHECKS_DIR)): path.read_text(encoding="utf-8")
               for path in sorted(CHECKS_DIR.rglob("*.py"))}
    copies = same_functions(sources)
    assert not copies, f"one helper, written more than once (keep one, in checks/_helpers.py): {copies}"


def test_the_copy_finder_sees_a_copied_helper_under_another_name_and_docstring():
    helper = "def nearest(values, p):\n    ordered = sorted(values)\n    return ordered[int(p * len(ordered))]\n"
    copied = ('def _rank(values, p):\n    """Copied."""\n    ordered = sorted(values)\n'
              "    return ordered[int(p * len(ordered))]\n")
    different = "def nearest(values, p):\n    return sorted(values)[0]\n"
    assert same_functions({"a.py": helper, "b.py": copied}) == [["a.py:nearest", "b.py:_rank"]]
    assert same_functions({"a.py": helper, "b.py": different}) == []
