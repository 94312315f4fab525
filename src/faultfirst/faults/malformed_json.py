"""Malformed JSON, at the scenario's `malformed_output_rate`: a structured reply broken the way real models break it.

A JSON reply, or the first tool call's arguments, comes back fenced in prose, with a trailing comma,
single-quoted, cut short, missing a required field or with a field of the wrong type
(model/corrupt_json.py); which, from the kind's detail stream.
"""

from __future__ import annotations

import random
from typing import Any

from ..model.corrupt_json import corrupt_json
from . import labels
from .kind import ReplyFault


class _MalformedJson(ReplyFault):
    def spoil(self, text: str, schema: dict[str, Any], rng: random.Random) -> str:
        return corrupt_json(text, rng, schema=schema)


MALFORMED_JSON = _MalformedJson(name=labels.MALFORMED_JSON, rate_field="malformed_output_rate")
