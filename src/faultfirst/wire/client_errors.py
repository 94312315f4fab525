"""Errors the world raises on the client side, before anything is sent.

They subclass both SDKs' base errors on purpose: anthropic 2.x wraps any other
exception raised in the HTTP layer into `APIConnectionError` (and retries it),
which would disguise a refusal as a network failure; both SDKs re-raise their
own base errors unchanged (see docs/sdk-facts.md).
"""

from __future__ import annotations

import anthropic
import openai


class ClientSideError(openai.OpenAIError, anthropic.AnthropicError):
    """Raised by the world before a request is sent; neither SDK wraps or retries it."""


class SpendCapExceeded(ClientSideError):
    """A call was refused before sending: its worst-case cost would exceed what is left of the world's budget."""

    def __init__(self, message: str, *, cap_usd: float, spent_usd: float, worst_case_usd: float) -> None:
        super().__init__(message)
        self.cap_usd, self.spent_usd, self.worst_case_usd = cap_usd, spent_usd, worst_case_usd


class NotOnWorldLoop(ClientSideError, RuntimeError):
    """An async world client was awaited outside `world.run`, where it would wait in real time."""
