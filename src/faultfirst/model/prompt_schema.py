"""The JSON Schema a prompt carries in its text, for JSON mode (`response_format: {"type": "json_object"}`).

JSON mode constrains a reply to be a JSON object, nothing more; the shape comes from the prompt. The
prompt-based modes of client libraries put a schema there (instructor's JSON mode: "...match the
following json_schema: {...}"; pydantic-ai's prompted output: "...compatible with this schema: {...}"),
and a model fills it. The simulated model does the same: it fills the largest JSON object in the
prompt that looks like a schema (it declares `properties`, or a `type` with `$defs`/`items`), and
answers `{}` when there is none.
"""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()


def _looks_like_schema(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    typed_container = isinstance(value.get("type"), str) and ("$defs" in value or "items" in value)
    return isinstance(value.get("properties"), dict) or typed_container


def schema_in(*texts: str) -> dict[str, Any] | None:
    """The largest schema-like JSON object found in `texts` (searched in order), or None."""
    best: tuple[int, dict[str, Any]] | None = None
    for text in texts:
        start = text.find("{")
        while start >= 0:
            try:
                value, end = _DECODER.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if not _looks_like_schema(value):  # an example object, or a wrapper around the schema: look inside
                start = text.find("{", start + 1)
                continue
            if best is None or end - start > best[0]:
                best = (end - start, value)
            start = text.find("{", end)
    return None if best is None else best[1]
