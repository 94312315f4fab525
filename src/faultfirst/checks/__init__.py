"""Checks for the book's exercises: `check("<exercise label>", your_function)`.

Each check runs your function on the happy path and then against the faults
the lesson taught, in fresh seeded worlds, and reports what passed, what
failed and why. It never lets a mistake in your code crash the notebook.

Every public module or package here holds the checks of one lesson (named
after the lesson's file) and registers them on import; a lesson with long
checks is a package of small modules (its hints, its harness, one module per
exercise). `_framework` is the machinery every check shares, `_async` runs a
learner's coroutines on a world's loop, `_helpers` holds what several lessons
compute the same way.
"""

import importlib
import pkgutil

from ..model.tokens import encoding
from ._framework import CHECKS, FAILED, NOT_ATTEMPTED, PASSED, CheckResult, check

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

# Every check counts tokens in both encodings; loading them (about 0.6 s in a fresh kernel) belongs to the
# lesson's setup cell, which imports this package, not to the first check a learner runs.
encoding("o200k_base"), encoding("cl100k_base")

__all__ = ["check", "CheckResult", "CHECKS", "PASSED", "FAILED", "NOT_ATTEMPTED"]
