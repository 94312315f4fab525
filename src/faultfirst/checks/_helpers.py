"""Small pieces more than one lesson's checks use: statistics, numbers a learner returns, logs to hand out.

Each exists once, here, so that two checks can never disagree about what a percentile is or what counts as a
number; a helper that only one lesson needs stays in that lesson's package.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from numbers import Real
from typing import Any

from ..service.records import RequestRecord


def nearest_rank(values: Iterable[float], p: float) -> float:
    """The smallest value with at least p% of `values` at or below it (`values` non-empty, in any order).

    The definition the lessons teach (and their setup cells define): the value at index ceil(p * n / 100) - 1
    of the sorted values.
    """
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered) / 100) - 1)]


def as_number(value: Any) -> float | None:
    """`value` as a float if it is a real number a learner could mean (not a bool, not a str); else None."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def spread(n: int, *, low: float, step: float) -> list[float]:
    """n distinct values `low + step * k` (k = 0 .. n-1), in a fixed shuffled order: latencies whose order says
    nothing, so a function that forgets to sort them gets a wrong answer."""
    return [low + step * ((i * 37) % n) for i in range(n)]


def copies(log: Iterable[RequestRecord]) -> list[RequestRecord]:
    """Records equal to `log`'s, as new objects, for learner code to read: whatever it does to them (sort the
    list, drop items), the log the check compares against stays as it was.

    A field-for-field copy (what `dataclasses.replace` makes, ten times faster): a final record's copy is final
    too, so it refuses changes as `world.requests` does.
    """
    made = []
    for record in log:
        copy = object.__new__(type(record))  # a final record's class refuses changes
        copy.__dict__.update(record.__dict__)
        made.append(copy)
    return made


def reply_text(body: bytes) -> str | None:
    """The text of a Chat Completions or Messages reply body as the API sent it: the message's content, or every
    text block joined (None for any other shape, such as an error or a stream)."""
    try:
        data = json.loads(body)
        if "choices" in data:
            return data["choices"][0]["message"]["content"] or ""
        if data.get("type") == "message":
            return "".join(block.get("text", "") for block in data["content"] if block.get("type") == "text")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    return None
