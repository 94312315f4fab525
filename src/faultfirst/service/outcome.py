"""What the simulated API decided about one attempt: the engine's output, the transports' input."""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import RequestRecord


@dataclass
class StreamEvent:
    offset: float  # seconds after the request arrived
    tokens: int  # output tokens generated before this event
    data: bytes


@dataclass
class Outcome:
    """What one attempt receives, and after how long (virtual seconds from arrival)."""

    record: RequestRecord
    delay: float
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: list[StreamEvent] | None = None  # a streamed body, in order
    failure: str | None = None  # 'timeout' or 'reset': raise instead of answering, after `delay`
    stream_failure: str | None = None  # after the last event: 'timeout' (the stream stalls) or 'broken'
    stream_failure_at: float = 0.0
