"""How much the simulated world adds to the SDK's own cost per call.

Baseline: the same SDK call through an `httpx2.MockTransport` that returns a
canned copy of the world's own answer (so both sides parse the same bytes).
The two sides run interleaved in rounds, in one process, so machine noise
hits both alike; the ratio is total simulated time over total baseline time.

    uv run python benchmarks/sdk_overhead.py            # the budgets: <= 1.3x per call, <= 1.5x over 10,000 drift calls
    uv run python benchmarks/sdk_overhead.py --quick    # fewer rounds
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import openai

from faultfirst import World

# Sent through both SDKs, whose message TypedDicts differ: typed by neither.
MESSAGES: list[Any] = [{"role": "user", "content": "Summarise why retries need jitter, in two sentences."}]


def canned_transport(raw: httpx2.Response) -> httpx2.MockTransport:
    body, headers = raw.content, dict(raw.headers)
    return httpx2.MockTransport(lambda request: httpx2.Response(raw.status_code, headers=headers, content=body))


def openai_pair(scenario: str) -> tuple[Callable[[], object], Callable[[], object]]:
    world = World(seed=0, scenario=scenario)
    simulated = world.openai()
    raw = simulated.chat.completions.with_raw_response.create(model="gpt-fast", messages=MESSAGES,
                                                              max_tokens=200).http_response
    bare = openai.OpenAI(api_key="benchmark", max_retries=0, http_client=httpx2.Client(transport=canned_transport(raw)))
    return (lambda: bare.chat.completions.create(model="gpt-fast", messages=MESSAGES, max_tokens=200),
            lambda: simulated.chat.completions.create(model="gpt-fast", messages=MESSAGES, max_tokens=200))


def anthropic_pair(scenario: str) -> tuple[Callable[[], object], Callable[[], object]]:
    world = World(seed=0, scenario=scenario)
    simulated = world.anthropic()
    raw = simulated.messages.with_raw_response.create(model="claude-fast", max_tokens=200,
                                                      messages=MESSAGES).http_response
    bare = anthropic.Anthropic(api_key="benchmark", max_retries=0,
                               http_client=httpx2.Client(transport=canned_transport(raw)))
    return (lambda: bare.messages.create(model="claude-fast", max_tokens=200, messages=MESSAGES),
            lambda: simulated.messages.create(model="claude-fast", max_tokens=200, messages=MESSAGES))


def interleaved(bare: Callable[[], object], simulated: Callable[[], object], *, calls: int,
                rounds: int) -> tuple[float, float]:
    """Seconds per call for each side, alternating blocks of `calls // rounds` so drift hits both."""
    block = calls // rounds
    totals = [0.0, 0.0]
    for _ in range(3):  # warm up both (imports, caches, tokenizer load)
        bare(), simulated()
    gc.disable()
    try:
        for r in range(rounds):
            order = ((0, bare), (1, simulated)) if r % 2 == 0 else ((1, simulated), (0, bare))
            for side, call in order:
                start = time.perf_counter()
                for _ in range(block):
                    call()
                totals[side] += time.perf_counter() - start
            gc.collect()
    finally:
        gc.enable()
    return totals[0] / (block * rounds), totals[1] / (block * rounds)


def main() -> int:
    """Print the table; exit status 1 when any case is over its budget, so a script or CI can act on it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scale = 5 if args.quick else 1
    rows = []
    for label, pair, scenario, calls, budget in (
        ("openai chat, calm", openai_pair, "calm", 4000, 1.3),
        ("anthropic messages, calm", anthropic_pair, "calm", 4000, 1.3),
        ("openai chat, 10,000 sequential latency-drift", openai_pair, "latency-drift", 10_000, 1.5),
    ):
        bare, simulated = pair(scenario)
        base, sim = interleaved(bare, simulated, calls=calls // scale, rounds=20)
        rows.append((label, base, sim, sim / base, budget))
    print(f"{'case':48} {'bare ms':>8} {'world ms':>9} {'ratio':>6} {'budget':>7}")
    for label, base, sim, ratio, budget in rows:
        verdict = "ok" if ratio <= budget else "OVER"
        print(f"{label:48} {base * 1000:8.3f} {sim * 1000:9.3f} {ratio:6.2f} {budget:6.1f}x {verdict}")
    return 0 if all(ratio <= budget for *_, ratio, budget in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
