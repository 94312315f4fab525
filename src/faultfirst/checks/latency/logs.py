"""What both latency checks measure against: the reference answers, and logs of attempts, probed from a
world or made to order.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx2

from ...service.records import RequestRecord
from ...world import World
from .._helpers import as_number, nearest_rank

PERCENTILES = (50, 90, 99)
_QUESTION = "How should I paginate through 10,000 invoices?"


# -- reference implementations -------------------------------------------------------------------------------

def reference_percentiles(records: list[RequestRecord]) -> dict[int, float]:
    """What a correct `percentile_report` returns."""
    values = sorted(r.latency for r in records if r.ok)
    if not values:
        raise ValueError("no successful attempts in the log")
    return {p: nearest_rank(values, p) for p in PERCENTILES}


def by_window(records: list[RequestRecord], window: float) -> dict[int, list[float]]:
    found: dict[int, list[float]] = {}
    for record in records:
        if record.ok:
            found.setdefault(int(record.start // window), []).append(record.latency)
    return found


def reference_drift(records: list[RequestRecord], *, window: float = 300.0, factor: float = 3.0,
                    min_samples: int = 10) -> list[float]:
    """What a correct `detect_drift` returns."""
    windows = by_window(records, window)
    full = sorted(k for k, values in windows.items() if len(values) >= min_samples)
    if not full:
        return []
    baseline = nearest_rank(sorted(windows[full[0]]), 50)
    return [k * window for k in full if nearest_rank(sorted(windows[k]), 50) > factor * baseline]


# -- logs ---------------------------------------------------------------------------------------------------------

@cache
def probe_log(seed: int, scenario: str, model: str, *, minutes: float = 40.0, every: float = 20.0,
              max_tokens: int = 300, timeout: float | None = None,
              idle: tuple[tuple[float, float], ...] = ()) -> tuple[RequestRecord, ...]:
    """A canary's log: a request to `model` every `every` seconds (or as soon as the last one ends), for `minutes`.

    `idle=((a, b), ...)` leaves minutes a to b without traffic. Failures are caught and logged, as a canary's are.
    """
    world = World(seed=seed, scenario=scenario)
    # The canary posts each API's JSON through the client's own HTTP layer, skipping the SDK's request building
    # and response parsing (a tenth of the time): the world logs exactly the records an SDK canary gets
    # (tests/test_mistakes.py runs these checks; the logs were compared record for record when this changed).
    on_openai = world.catalog[model].provider == "openai"
    sdk: Any = world.openai() if on_openai else world.anthropic()
    url = str(sdk.base_url).rstrip("/") + ("/chat/completions" if on_openai else "/v1/messages")
    body = {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": _QUESTION}]}
    headers = {"authorization": "Bearer x"} if on_openai else {"x-api-key": "x", "anthropic-version": "2023-06-01"}
    limit = httpx2.Timeout(600.0, connect=5.0) if timeout is None else httpx2.Timeout(timeout)  # as the SDKs send it
    while world.clock.now() < minutes * 60:
        quiet = [b for a, b in idle if a * 60 <= world.clock.now() < b * 60]
        if quiet:
            world.clock.sleep(quiet[0] * 60 - world.clock.now())
            continue
        start = world.clock.now()
        with contextlib.suppress(httpx2.HTTPError):  # a reset or a timeout: the world logged it, as a canary's does
            sdk._client.post(url, json=body, headers=headers, timeout=limit)
        world.clock.sleep(max(0.0, start + every - world.clock.now()))
    return tuple(world.requests)


def ok_record(start: float, latency: float, model: str = "gpt-fast") -> RequestRecord:
    return RequestRecord("openai", model, "chat.completions", start, status=200, latency=latency,
                         input_tokens=14, output_tokens=97, stop_reason="stop")


def failed_record(start: float, latency: float, *, status: int | None, error: str) -> RequestRecord:
    return RequestRecord("openai", "gpt-fast", "chat.completions", start, status=status, error=error, latency=latency)


def steady_records(start: float, end: float, every: float, latency: Callable[[int], float]) -> list[RequestRecord]:
    """Successful attempts every `every` seconds in [start, end), the i-th taking latency(i) seconds."""
    count = int(round((end - start) / every))
    return [ok_record(start + i * every, latency(i)) for i in range(count)]


def wobble(i: int) -> float:
    """A calm, deterministic spread of latencies around 1 s."""
    return 0.8 + 0.05 * ((i * 7) % 9)


# -- running learner code -------------------------------------------------------------------------------------

def close(value: Any, expected: float) -> bool:
    number = as_number(value)
    return number is not None and math.isclose(number, expected, rel_tol=1e-9, abs_tol=1e-12)


