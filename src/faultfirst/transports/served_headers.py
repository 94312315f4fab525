"""Rate-limit headers in real time, for a world served at `speed` simulated seconds per real second.

The engine states waits in the world's time: `retry-after: 30` and `x-ratelimit-reset-tokens: 30s` mean 30
simulated seconds, and Anthropic's `anthropic-ratelimit-*-reset` are instants of the world's calendar. A
client of `faultfirst serve --speed 100` waits in real time, so honouring those as sent it would wait 100
times too long. Over HTTP they are restated in real time: waits divided by the speed (`retry-after` rounded
up to whole seconds, `retry-after-ms` exact, which both SDKs read first: `_parse_retry_after_header` in
openai 3.57.0 and anthropic 2.14.0 `_base_client.py`), and reset instants as real UTC times measured from
the same instant as the response's `Date` header, so `reset - Date` is the real wait.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from typing import Any

from ..wire.framing import EPOCH
from ..wire.openai_render import duration

_DURATION = re.compile(r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?|(?P<ms>\d+)ms")
_RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


def _seconds(text: str) -> float | None:
    """The seconds in OpenAI's reset format ('1s', '6m0s', '120ms'; see `_openai_wire.duration`), or None."""
    match = _DURATION.fullmatch(text)
    if match is None or not text:
        return None
    if match["ms"]:
        return int(match["ms"]) / 1000
    return int(match["m"] or 0) * 60 + float(match["s"] or 0)


def real_time_headers(headers: dict[str, str], *, speed: float, arrival: float, wall: float) -> dict[str, str]:
    """`headers` with their waits in real seconds and reset instants in real UTC.

    `arrival` is the world time the engine answered at (its `now`), `wall` the real Unix time the response's
    `Date` header states.
    """
    out: dict[str, Any] = dict(headers)
    if (after := headers.get("retry-after")) is not None and after.isdigit():
        real = int(after) / speed
        out["retry-after"] = str(max(1, math.ceil(real)))
        out["retry-after-ms"] = str(max(1, round(real * 1000)))
    for name, value in headers.items():
        if name.startswith("x-ratelimit-reset-") and (sim := _seconds(value)) is not None:
            out[name] = duration(sim / speed)
        elif name.startswith("anthropic-ratelimit-") and name.endswith("-reset"):
            world_instant = calendar.timegm(time.strptime(value, _RFC3339)) - EPOCH
            real_wait = max(0.0, world_instant - arrival) / speed
            out[name] = time.strftime(_RFC3339, time.gmtime(math.ceil(wall + real_wait)))
    return out
