"""Schema violations, at `Scenario.rates["schema_violation"]`: JSON that parses and does not fit its schema.

A reply the API does not hold to its schema comes back missing a required field or with a field of the
wrong type (`model.corrupt_json.violate_schema`; which, from the kind's detail stream). That is JSON mode
(`response_format={"type": "json_object"}`, whose schema is the one the prompt carries), a json_schema
format or function tool without `strict: true`, and an Anthropic forced tool without `strict: true`.

A strict reply is never struck: OpenAI documents `strict: true` as "the model will always follow the
exact schema defined in the `schema` field" (openai `types/shared_params/response_format_json_schema.py`,
and the same words for function tools in `function_definition.py`), and Anthropic's `strict` tool as
"guarantees schema validation on tool names and inputs" (anthropic `types/tool_param.py`); its
`output_config` JSON schema format is constrained decoding and has no such flag. Nor is a reply with no
required field and no field of a single expected type. Neither carries the label, so the rate reads as
the share of the non-strict replies it can break that it does break. Label "schema_violation".
"""

from __future__ import annotations

import random

from ..model.corrupt_json import violate_schema
from . import labels
from .kind import ReplyFault, Spoiled, Structured


class _SchemaViolation(ReplyFault):
    def strike(self, reply: Structured, rng: random.Random) -> Spoiled | None:
        if reply.strict:
            return None
        broken = violate_schema(reply.text, rng, reply.schema)
        return None if broken is None else Spoiled(broken, self.name)


SCHEMA_VIOLATION = _SchemaViolation(name=labels.SCHEMA_VIOLATION)
