"""The wire's shared formatting, written by hand for speed, against the library calls it stands in for."""

from __future__ import annotations

import json
import time

from faultfirst import World
from faultfirst.wire.framing import EPOCH, RFC3339, dumps, rfc3339


def test_rfc3339_agrees_with_strftime_across_days_and_years() -> None:
    instants = [0, 0.9, 1, 59, 60, 3599, 3600, 86_399, 86_400, 86_401, 31_535_999, 31_536_000, 10**8 + 0.5]
    instants += [k * 7_919 + 13 for k in range(2_000)]  # every time of day over a few months, irregularly
    instants += [5, 5.5, 5, 86_405, 5.9, 86_405.1]  # the last second is remembered: repeats, and back and forth
    for t in instants:
        assert rfc3339(t) == time.strftime(RFC3339, time.gmtime(EPOCH + int(t))), t


def test_reply_bodies_are_the_bytes_compact_json_dumps_writes() -> None:
    """Every body kind the world sends through `dumps`: replies of both APIs, non-ASCII text, errors."""
    world = World(seed=3)
    bodies = [
        world.openai().chat.completions.with_raw_response.create(
            model="gpt-fast", messages=[{"role": "user", "content": "Déjà vu — why do retries need jitter? ✓"}],
        ).http_response.content,
        world.anthropic().messages.with_raw_response.create(
            model="claude-fast", max_tokens=50, messages=[{"role": "user", "content": "naïve 日本語 reply"}],
        ).http_response.content,
    ]
    for body in bodies:
        data = json.loads(body)
        assert dumps(data) == json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: « trop »"}}
    assert dumps(error) == json.dumps(error, ensure_ascii=False, separators=(",", ":")).encode()
