"""The simulated model's tool calls: arguments that fit each called tool's JSON Schema.

Each call's arguments come from the same responder chain as structured output (the tool's parameters
as the schema, its name as the schema's name), so a learner's responder or a fixture can script them
and the JSON filler fills them from the prompt's facts. One reply block per call, in order.
"""

from __future__ import annotations

import dataclasses
import random

from .prompt import Block, Reply
from .responders import Responders, Turn
from .tool_calls import ToolSpec


def call_tools(turn: Turn, calls: tuple[ToolSpec, ...], rng: random.Random, *, responders: Responders) -> Reply:
    """A reply whose blocks are the calls' arguments (JSON text); a fault may spoil them later (faults/)."""
    # The attempt decided whether an injected instruction wins before it chose these calls: their
    # arguments are what a model that resists writes.
    resisting = dataclasses.replace(turn, injection_draw=1.0)
    texts = [responders.reply(dataclasses.replace(resisting, prompt=dataclasses.replace(
        turn.prompt, schema=tool.schema, schema_name=tool.name)), rng).text for tool in calls]
    return Reply(tuple(Block(text) for text in texts), "tool_calls")


# What the responder's reply to a follow-up turn stands for itself: scripted, an obeyed instruction
# (a tool result can carry an injection, as a document can), or structured output.
_OWN_SKILLS = frozenset({"fixture", "injected", "json"})


def relay_results(reply: Reply, results: tuple[str, ...]) -> Reply:
    """The answer to a turn that ends in tool results: what the tools returned, relayed in order.

    The results are the prompt's documents, so the responder has read them; unless its reply is one
    of its own kind (`_OWN_SKILLS`), the model answers with what the tools said rather than quoting
    them as documents that may not match the question's words.
    """
    if reply.skill in _OWN_SKILLS:
        return reply
    said = " ".join(text.strip() for text in results if text.strip())
    return Reply((Block(said or "The tool returned nothing."),), "tool_results")
