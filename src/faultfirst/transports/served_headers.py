"""Rate-limit headers in real time, for a world served at `speed` simulated seconds per real second.

The engine states waits in the world's time: `retry-after: 30` and `x-ratelimit-reset-tokens: 30s` mean 30
simulated seconds, and Anthropic's `anthropic-ratelimit-*-reset` are instants of the world's calendar. A
client of `faultfirst serve --speed 100` waits in real time, so honouring those as sent it would wait 100
times too long. Over HTTP they are restated in real time: waits divided by the speed (`retry-after` rounded
up to whole seconds, `retry-after-ms` exact, which both SDKs read first: `_parse_retry_after_header` in
openai 3.57.0 and anthropic 2.14.0 `_base_client.py`), and reset instants as real UTC times measured from
the same instant as the response's `Date` header, so `reset - Date` is the real wait. `retry-after` is
every API's; each provider's own reset headers are restated by its dialect (`Dialect.real_time`).
"""

from __future__ import annotations

import math

from ..wire.dialects import DIALECTS


def real_time_headers(headers: dict[str, str], *, speed: float, arrival: float, wall: float) -> dict[str, str]:
    """`headers` with their waits in real seconds and reset instants in real UTC.

    `arrival` is the world time the engine answered at (its `now`), `wall` the real Unix time the response's
    `Date` header states.
    """
    out = dict(headers)
    if (after := headers.get("retry-after")) is not None and after.isdigit():
        real = int(after) / speed
        out["retry-after"] = str(max(1, math.ceil(real)))
        out["retry-after-ms"] = str(max(1, round(real * 1000)))
    for dialect in DIALECTS.values():
        out |= dialect.real_time(headers, speed=speed, arrival=arrival, wall=wall)
    return out
