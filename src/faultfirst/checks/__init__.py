"""Checks for the book's exercises: `check("<exercise label>", your_function)`.

Each check runs your function on the happy path and then against the faults
the lesson taught, in fresh seeded worlds, and reports what passed, what
failed and why. It never lets a mistake in your code crash the notebook.
"""

from . import first_calls  # noqa: F401  (registers the lesson's checks)
from ._framework import CHECKS, FAILED, NOT_ATTEMPTED, PASSED, CheckResult, check

__all__ = ["check", "CheckResult", "CHECKS", "PASSED", "FAILED", "NOT_ATTEMPTED"]
