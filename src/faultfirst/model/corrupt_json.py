"""Corrupting a JSON reply the way real models do (the "flaky output" fault)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from .skills.json_schema import _dump, _options, _resolve, _schema_type


def corrupt_json(text: str, rng: random.Random, *, schema: dict | None) -> str:
    """Break a valid JSON reply the way real models do, for the "flaky output" fault.

    The result differs from ``text`` and either fails ``json.loads`` or - for
    the two schema-aware corruptions, only offered when ``schema`` makes them
    possible - parses but violates ``schema``.
    """
    value = _loads(text)
    fields = value if isinstance(value, dict) else {}
    root = _resolve(schema, schema) if schema else {}
    properties = root.get("properties", {})
    removable = [key for key in root.get("required", ()) if key in fields]
    retypable = [
        key for key in fields
        if key in properties and _mistyped(fields[key], properties[key], schema or {}) is not None
    ]
    kinds = ["fence", "trailing_comma"]
    if value is not _INVALID and '"' in text:
        kinds.append("single_quotes")
    if value is not _INVALID and text.strip().startswith(("{", "[")):
        kinds.append("truncated")
    if removable:
        kinds.append("missing_field")
    if retypable:
        kinds.append("wrong_type")
    kind = rng.choice(kinds)
    stripped = text.strip()
    if kind == "fence":
        return f"{rng.choice(_FENCE_LEADS)}\n\n```json\n{stripped}\n```"
    if kind == "trailing_comma":
        if stripped.endswith(("}", "]")):
            return f"{stripped[:-1].rstrip()},{stripped[-1]}"
        return stripped + ","
    if kind == "single_quotes":
        return text.replace('"', "'")
    if kind == "truncated":
        return stripped[: rng.randint(max(1, len(stripped) // 3), max(1, 2 * len(stripped) // 3))]
    if kind == "missing_field":
        dropped = rng.choice(removable)
        return _dump({key: item for key, item in fields.items() if key != dropped})
    retyped = rng.choice(retypable)
    return _dump({**fields, retyped: _mistyped(fields[retyped], properties[retyped], schema or {})})


_INVALID = object()
_FENCE_LEADS = (
    "Here is the JSON you asked for:",
    "Sure! Here's the result:",
    "Certainly. The extracted data is below.",
)


def _loads(text: str) -> Any:
    """Parsed JSON, or ``_INVALID``."""
    try:
        return json.loads(text)
    except ValueError:
        return _INVALID


def _allowed_types(schema: Any, root: dict) -> set[str] | None:
    """The JSON types a schema accepts ("null" included); None when it accepts anything."""
    schema = _resolve(schema, root)
    if (options := _options(schema)) is not None:
        types = [_allowed_types(option, root) for option in options]
        return None if None in types else set().union(*types)
    if "type" in schema:
        declared = schema["type"]
        return set(declared) if isinstance(declared, list) else {declared}
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        return {_json_type(value) for value in values}
    if "properties" in schema or "items" in schema:
        return {_schema_type(schema)}
    return None


def _json_type(value: Any) -> str:
    """The JSON type name of a Python value (integers count as "number")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "string")


_MISTYPES: dict[str, Callable[[Any], Any]] = {
    # Realistic slips that neither JSON Schema nor pydantic's lax mode accepts:
    # "3" would pass as an integer and "yes" as a boolean, so avoid those.
    "integer": lambda value: f"about {value}",
    "number": lambda value: f"about {value}",
    "string": lambda value: len(str(value)),
    "boolean": lambda value: "unclear",
    "array": lambda value: ", ".join(map(str, value)) if isinstance(value, list) else str(value),
    "object": lambda value: _dump(value),
}


def _mistyped(value: Any, schema: Any, root: dict) -> Any | None:
    """``value`` recast as a type ``schema`` rejects, or None if no single type is expected."""
    kinds = sorted((_allowed_types(schema, root) or set()) - {"null"})
    if len(kinds) != 1 or kinds[0] not in _MISTYPES:
        return None
    return _MISTYPES[kinds[0]](value)


def violate_schema(text: str, rng: random.Random, schema: dict) -> str | None:
    """Valid JSON that breaks ``schema``: a required field dropped or a field of the wrong type; None when
    ``text`` is no object holding a required field or a field of one expected type."""
    value = _loads(text)
    if not isinstance(value, dict):
        return None
    root = _resolve(schema, schema)
    properties = root.get("properties", {})
    removable = [key for key in root.get("required", ()) if key in value]
    retypable = [key for key in value
                 if key in properties and _mistyped(value[key], properties[key], schema) is not None]
    ways = [*(("drop", key) for key in removable), *(("retype", key) for key in retypable)]
    if not ways:
        return None
    way, key = rng.choice(ways)
    if way == "drop":
        return _dump({k: item for k, item in value.items() if k != key})
    return _dump({**value, key: _mistyped(value[key], properties[key], schema)})
