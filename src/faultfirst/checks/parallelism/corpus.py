"""The documents parallelism-documents summarises, the worlds it runs them in, and the watch on the attempts.

Every attempt is matched to its document by the id in its prompt, as the request reaches the simulated
API, so lost, duplicated and unjustified failures can be told apart.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...service.attempts import Attempt
from ...service.records import RequestRecord
from ...service.scenarios import RateLimits, Scenario
from ...world import World
from .._helpers import reply_text

_FIELDS = ("retrieval", "protein folding", "crop yields", "sleep", "battery chemistry", "malaria", "urban heat",
           "language acquisition", "microplastics", "gene editing", "wind power", "antibiotic resistance")
_SENTENCES = (
    "We measure {f} across {n} sites over {y} years.",
    "The effect of the intervention on {f} was small but consistent.",
    "Prior studies of {f} relied on self-reported data.",
    "A randomised trial with {n} participants confirms the result.",
    "Confidence intervals are wide for the smallest groups.",
    "Results replicate in a second cohort of {n} cases.",
    "We discuss limitations, including selection bias and missing data.",
    "Table {y} lists every measurement with its uncertainty.",
)
_ID = re.compile(rb"doc-\d{4}")
GIANT = "doc-9999"  # about 150,000 tokens: past gpt-fast's context window (128,000)
LARGE = "doc-8888"  # about 25,000 tokens: inside the context window, larger than TIGHT's tokens bucket
# `rate-limited` with a fifth of its tokens: a handful of long documents make the tokens limit bind, so the
# check tokenizes (in pure Python, on first use) a few tens of thousands of tokens, not hundreds of thousands.
TIGHT = Scenario("rate-limited, 20k TPM", "60 requests and 20,000 tokens per minute per model.",
                 RateLimits(60, 20_000))
# Every attempt reset, under a requests limit that a job's retries exceed unless each one takes from the buckets.
RESETS = Scenario("resets, 3 RPM", "3 requests per minute, and every connection reset.", RateLimits(3, 1_000_000),
                  reset_rate=1.0)


@lru_cache(maxsize=8)
def documents(n: int, seed: int, *, long_first: int = 0, giant: bool = False,
              large: bool = False) -> tuple[tuple[str, str], ...]:
    """`n` short papers with ids doc-0000... and numbered titles, the first `long_first` of them with a long table.

    The long ones (about 2,000 tokens each) make a 20,000 tokens-per-minute limit bind before the requests limit
    does. `giant` adds one document longer than gpt-fast's context window; `large` one larger than 20,000 tokens.
    Those two are a dump of one made-up word, 7 tokens each, which a pure-Python tokenizer counts several times
    faster than prose of as many tokens (the lesson's request_tokens counts each prompt in every fresh kernel).
    """
    rng = random.Random(f"parallelism:{seed}")
    found = []
    for i in range(n):
        field_ = rng.choice(_FIELDS)
        body = " ".join(rng.choice(_SENTENCES).format(f=field_, n=rng.randint(12, 4000), y=rng.randint(2, 12))
                        for _ in range(rng.randint(3, 8)))
        if i < long_first:  # rows from a pool of 400 short sentences: each is tokenized once, then counted from cache
            body += " Appendix table. " + " ".join(
                f"Site {rng.randint(1, 40)} reads {rng.randint(0, 9)}." for _ in range(300))
        found.append((f"doc-{i:04d}", f"Paper {seed}-{i} studies {field_}. {body}"))
    if giant:  # about 150,000 tokens
        found.append((GIANT, "Appendix, raw instrument dump:" + " Qxzjvbrwkq" * 21_500))
    if large:  # about 25,000 tokens
        found.append((LARGE, "Appendix, raw instrument dump:" + " Qxzjvbrwkq" * 3_600))
    return tuple(found)


@dataclass
class WatchedAttempt:
    record: RequestRecord
    doc: str | None
    retry_after: float | None  # seconds, from a 429's header
    sdk_retry: bool  # the SDK sent it as its own retry (x-stainless-retry-count > 0)


class Watch:
    """Tags each attempt with the document id in its body, and keeps the text of every successful reply."""

    def __init__(self, world: World) -> None:
        self.attempts: list[WatchedAttempt] = []
        self.texts: dict[int, str | None] = {}

        def watched(attempt: Attempt) -> None:
            request, record = attempt.request, attempt.record
            assert record is not None  # an after hook: the world has answered
            ids = set(_ID.findall(request.content or b""))
            doc = ids.pop().decode() if len(ids) == 1 else None
            after = attempt.headers.get("retry-after") if attempt.status == 429 else None
            retried = request.headers.get("x-stainless-retry-count", "0") not in ("", "0")
            self.attempts.append(WatchedAttempt(record, doc, float(after) if after else None, retried))
            if doc is not None and attempt.status == 200 and attempt.body and attempt.failure is None:
                self.texts[id(record)] = reply_text(attempt.body)

        world.on_attempt(after=watched)  # this world only; it is thrown away after the case


def max_in_flight(records: list[RequestRecord]) -> int:
    """The most attempts that were open at the same virtual moment (an attempt ending as another starts counts once)."""
    edges = sorted([(r.start, 1) for r in records] + [(r.end, -1) for r in records], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def is_failure(value: Any) -> bool:
    return not isinstance(value, str) and hasattr(value, "attempts") and hasattr(value, "error")


def sample(ids: list[str], n: int = 3) -> str:
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def leaf_errors(err: BaseException) -> list[BaseException]:
    """The exceptions inside an exception group, however nested (or the exception itself)."""
    if isinstance(err, BaseExceptionGroup):
        return [leaf for inner in err.exceptions for leaf in leaf_errors(inner)]
    return [err]


def spend_tokens(world: World, tokens: int) -> None:
    """Another job on the same key spends `tokens` of this minute's tokens allowance, just before ours starts."""
    client = world.openai()
    while tokens > 1_000:
        wanted = min(16_000, tokens - 20)
        client.chat.completions.create(model="gpt-fast", max_tokens=wanted,
                                       messages=[{"role": "user", "content": "Another job's request."}])
        tokens -= world.requests[-1].input_tokens + wanted


