"""Words a learner reads: a count and its noun, agreeing.

One helper for every count the package, its checks and the lessons print, so that no report says
"1 attempts" and no two modules carry their own copy of the rule.
"""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 attempt`, `3 attempts`, `1,024 attempts`; pass `many` where adding an s is wrong (`1 reply`, `2 replies`)."""
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} {many if many is not None else noun + 's'}"
