"""Shared pieces of the simulated wire: the answer being sent and SSE framing."""

from __future__ import annotations

import json
import re
import time
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic_core import to_json

from ..model.prompt import Block

_PIECE = re.compile(r"\s*\S+|\s+")

# The world's calendar: virtual time 0 is this Unix time (2026-01-01T00:00:00Z).
EPOCH = 1_767_225_600


RFC3339 = "%Y-%m-%dT%H:%M:%SZ"  # to the second, in UTC: how Anthropic's API writes an instant


def rfc3339(t: float) -> str:
    """The world's instant `t` (virtual seconds) as a UTC timestamp to the second, as Anthropic's API writes them."""
    # Every answer's reset headers format two instants, most often the same second as each other and as the
    # answer before, and they move on with the clock: the last second is remembered (one read of one tuple, safe
    # across threads), the date cached, and the time of day written by hand (EPOCH is a midnight, so whole days of
    # world time are whole UTC days).
    global _last_instant
    second = int(t)
    last = _last_instant
    if last[0] == second:
        return last[1]
    day, into = divmod(second, 86_400)
    hours, rest = divmod(into, 3600)
    text = f"{_rfc3339_day(day)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
    _last_instant = (second, text)
    return text


_last_instant: tuple[int | None, str] = (None, "")


@lru_cache(maxsize=64)
def _rfc3339_day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(EPOCH + day * 86_400))


class Answer(NamedTuple):
    """What the simulated model says to one request, after limits are applied.

    A NamedTuple, not a frozen dataclass: one or more are made per attempt, and a frozen dataclass pays an
    object.__setattr__ per field to be built (the SDK-overhead budget counts every microsecond).
    """

    blocks: tuple[Block, ...]
    output_tokens: int
    truncated: bool  # cut at max_tokens
    tool: str | None = None  # one Anthropic tool_use whose input is the (JSON) text: forced, or an injection's demand
    ending: str | None = None  # a fixture's: "stop_sequence", "refusal", "dropped", "broken"; None: the usual one
    stop_sequence: str | None = None
    calls: tuple[str, ...] = ()  # OpenAI function tools called, one per block (whose text is the arguments)
    faults: tuple[str, ...] = ()  # the content faults in it: injection_obeyed, malformed_json, truncated
    # A refusal of a structured request (faults/refusal.py): OpenAI sends its text as `message.refusal`, not content
    structured_refusal: bool = False

    @property
    def refused(self) -> bool:
        return self.ending == "refusal" and not self.truncated

    @property
    def dropped(self) -> bool:
        """A stream of it closes before the event that says why it ended."""
        return self.ending == "dropped"

    @property
    def broken(self) -> bool:
        """A stream of it breaks (a transport error) after its stop reason, before its last event."""
        return self.ending == "broken"

    @property
    def text(self) -> str:
        return "".join(b.text for b in self.blocks)


def dumps(data: Any) -> bytes:
    """`data` as a compact JSON body, UTF-8 unescaped, as the providers send it.

    pydantic_core's encoder (Rust, already installed for pydantic) writes the same bytes as
    `json.dumps(data, ensure_ascii=False, separators=(",", ":"))` for the bodies the world sends, at a fifth of
    the cost; every call encodes one, so this is a measurable share of what the world adds to a call. Only
    floats may be written differently (`1e-7` for `1e-07`), which every JSON reader parses alike.
    """
    return to_json(data)


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event, framed as the providers frame them."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def error_name(data: Any) -> str:
    """What `world.requests` logs for an API error body: its error's code, else its type ("error" if neither)."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "error"
    return str(error.get("code") or error.get("type") or "error")


def pieces(text: str) -> list[str]:
    """The chunks a stream delivers: a word with its leading space, as token streams look."""
    return _PIECE.findall(text) or [""]
