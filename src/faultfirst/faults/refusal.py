"""Refusals of structured requests, at `Scenario.rates["refusal"]`: the model declines to fill the schema.

Real models sometimes decline a structured request, and the APIs report it in a field of its own, not as
JSON: OpenAI's Chat Completions sends the refusal's text as `message.refusal` with `content: null` and
`finish_reason: "stop"` (so `chat.completions.parse()` gives `message.parsed is None`: openai
`lib/_parsing/_completions.py` parses content only when `message.content and not message.refusal`), and
streams it as `delta.refusal`; the Responses API sends a `refusal` content part; Anthropic ends the message
with `stop_reason: "refusal"`. The world renders those (wire/openai_render.py, wire/anthropic_render.py).

It strikes any structured reply (a JSON reply, or tool calls, which are then not made), strict or not:
strict schemas constrain what a model writes when it answers, not whether it answers. Label "refusal".
"""

from __future__ import annotations

import random

from . import labels
from .kind import ReplyFault, Spoiled, Structured

_REFUSALS = (
    "I'm sorry, but I can't help with that request.",
    "I'm sorry, I can't assist with extracting that information.",
    "I can't help with that.",
)


class _Refusal(ReplyFault):
    def strike(self, reply: Structured, rng: random.Random) -> Spoiled | None:
        return Spoiled(rng.choice(_REFUSALS), self.name, refusal=True)


REFUSAL = _Refusal(name=labels.REFUSAL)
