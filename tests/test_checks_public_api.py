"""The exercise checks reach a world through its public API only (issue 12).

A check that reads or patches a World private (`world._api.plan`, `world._api.latency`, the limiter of a model)
ties every check to the engine's private shape: a change inside the simulator then breaks checks that no test
of the simulator runs. `world.on_attempt` hooks, `world.active_limits`, `world.limits(...)` and the public
classes of `faultfirst.service` cover what the checks need. This scans every source file of the checks package.
"""

from __future__ import annotations

import re
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
