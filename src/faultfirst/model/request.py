"""`ModelRequest`: what a learner's responder (`World(responder=...)`) is asked, read-only.

A responder scripts the model's reply as a plain function, as pydantic-ai's `FunctionModel` does; where
`FunctionModel` passes the agent's messages and an `AgentInfo`, a responder gets this one object, the same
for both providers and every API, so a check or test reads `request.user` without knowing which SDK sent it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .prompt import Message

__all__ = ["Message", "ModelRequest"]


@dataclass(frozen=True)
class ModelRequest:
    """One request to the simulated model, as a responder sees it.

    - `provider`: "openai" or "anthropic"; `model`: the catalogue's name for the model asked for.
    - `system`: the system prompt (OpenAI system/developer messages and Responses `instructions` joined by
      newlines; Anthropic's `system`), "" when there is none.
    - `messages`: every message as sent, in order, each a `Message` with `.role` and `.text`.
    - `user`: the text of the last user message (what a responder usually reads).
    - `max_tokens`: the output budget the caller set, or None; a longer reply is cut there by the world.
    - `schema`: the JSON Schema the reply must fit (`response_format`, Responses `text.format`, Anthropic
      `output_config.format`, or the `input_schema` of a tool Anthropic's `tool_choice` forces), else None.
      A copy: changing it changes nothing.
    """

    provider: str
    model: str
    system: str
    messages: tuple[Message, ...]
    user: str
    max_tokens: int | None
    schema: dict[str, Any] | None
