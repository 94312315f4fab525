"""Wrong meaning, at `Scenario.rates["wrong_meaning"]`: valid JSON that fits its schema and says something false.

Schema validation cannot catch it; only a check of the reply against the input can. It strikes a
structured reply (a JSON schema response format, a tool call's arguments, an Anthropic forced tool's
input), strict or not, in one of four ways, each offered only where the reply has such a field at its top
level:

- "date_not_in_source": a field whose name or format says date gets a date the prompt does not contain;
- "id_not_in_input": a field named `id`, `*_id` or `*Id` whose value the prompt contains gets one it does not;
- "total_mismatch": a number named total, sum or amount beside line items no longer adds up to them
  (`model.skills.json_schema.line_items_total` says what they add up to);
- "enum_mismatch": a field with an `enum` of two or more members gets another member.

Which one, and which field, is drawn from the kind's detail stream among those that apply. A reply with
none of them is left alone and carries no label, so the rate reads as the share of the replies it can
spoil that it does spoil. The label names both: "wrong_meaning:total_mismatch@total" (faults/labels.py,
`semantic` and `parse_label`).
"""

from __future__ import annotations

import datetime
import json
import random
import re
from typing import Any

from ..model.skills.json_schema import _resolve, is_date_field, is_id_field, line_items_total
from . import labels
from .kind import ReplyFault, Spoiled, Structured

_DIGIT_RE = re.compile(r"\d")


class _WrongMeaning(ReplyFault):
    def strike(self, reply: Structured, rng: random.Random) -> Spoiled | None:
        try:
            value = json.loads(reply.text)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        root = _resolve(reply.schema, reply.schema)
        properties = root.get("properties", {}) if isinstance(root, dict) else {}
        options = [(kind, key, new) for key in value
                   for kind, new in _wrongs(key, value, _resolve(properties.get(key, {}), reply.schema), reply.source,
                                            rng)]
        if not options:
            return None
        kind, key, new = rng.choice(options)
        return Spoiled(json.dumps({**value, key: new}, ensure_ascii=False), labels.semantic(self.name, kind, key))


def _wrongs(key: str, value: dict[str, Any], schema: dict[str, Any], source: str,
            rng: random.Random) -> list[tuple[str, Any]]:
    """The wrong values `value[key]` can take, one per kind that applies to it."""
    current = value[key]
    found: list[tuple[str, Any]] = []
    enum = schema.get("enum")
    if isinstance(enum, list) and current in enum and len(enum) > 1:
        found.append((labels.ENUM_MISMATCH, rng.choice([m for m in enum if m != current])))
    elif isinstance(current, str) and is_date_field(key, schema) and (date := _other_date(current, source, rng)):
        found.append((labels.DATE_NOT_IN_SOURCE, date))
    elif isinstance(current, str) and is_id_field(key) and current in source:
        found.append((labels.ID_NOT_IN_INPUT, _other_id(current, source, rng)))
    total = line_items_total(value, key)
    if total is not None and isinstance(current, (int, float)) and not isinstance(current, bool):
        off = rng.choice([-1, 1]) * max(1, round(abs(total) * rng.uniform(0.05, 0.3)))
        found.append((labels.TOTAL_MISMATCH, int(total + off) if isinstance(current, int) else round(total + off, 2)))
    return found


def _other_date(current: str, source: str, rng: random.Random) -> str | None:
    """An ISO date near `current` (days to months off) that `source` does not contain; None if `current` is no date."""
    try:
        day = datetime.date.fromisoformat(current[:10])
    except ValueError:
        return None
    while True:
        moved = (day + datetime.timedelta(days=rng.choice([-1, 1]) * rng.randint(1, 120))).isoformat()
        if moved not in source:
            return moved + current[10:]


def _other_id(current: str, source: str, rng: random.Random) -> str:
    """`current` with one digit changed (or a digit added): an id of the same shape that `source` does not hold."""
    while True:
        digits = [m.start() for m in _DIGIT_RE.finditer(current)]
        if digits:
            at = rng.choice(digits)
            candidate = current[:at] + rng.choice([d for d in "0123456789" if d != current[at]]) + current[at + 1:]
        else:
            candidate = f"{current}{rng.randint(10, 10**6)}"
        if candidate not in source:
            return candidate


WRONG_MEANING = _WrongMeaning(name=labels.WRONG_MEANING)
