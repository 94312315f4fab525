"""Maintainer commands, run with `uv run python -m faultfirst.maintain.<command>`; learners never need them.

They live in the package (not in a loose scripts/ folder) so the default test suite imports and tests
their logic like any other module.
"""
