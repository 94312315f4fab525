"""The names of the faults a world injects, and the rules for when an attempt carries one.

`RequestRecord.faults` is ground truth: the labels of the faults the world put into that
attempt, in the order it put them in, each at most once. Checks, lessons and tests score a
learner's code against it (did the retry fire on every "overload"? did the validator catch
every "malformed_json"?), so a label means "the world did this", never "the client saw
something go wrong". The rules, one per label:

- "rate_limit": a 429 from the world's rate limiter. The scenario sets the limits and the world
  enforces them, so every limiter 429 is labelled, including one the learner's own burst
  provoked: a token bucket has no other way to fail, and what a client must do about it is the
  same either way.
- "overload": a 529 (Anthropic) or 503 (OpenAI) drawn at the scenario's `overload_rate`; in a
  batch, an item failed at that rate.
- "outage": a server error because the scenario takes that provider down at that moment.
- "reset": the connection reset before any answer (`reset_rate`).
- "stream_error": a stream that fails after it started (`stream_error_rate`, or a fixture
  whose scripted ending drops or breaks the stream; in live mode, the injected cut).
- "truncated": the reply was cut at `max_tokens` (finish_reason "length", stop_reason "max_tokens").
- "malformed_json": a structured reply the scenario corrupted (`malformed_output_rate`).
- "injection_obeyed": the model followed an instruction injected into its prompt.
- "timeout": the world held a reply past the client's read timeout on purpose. No scenario
  injects such a stall today, so no record carries it yet: a client timing out on a reply that
  is merely slow (the latency tail, drift) met the world's natural latency, not an injected
  fault, and its record's `faults` stays empty.

An attempt whose reply a check scripts with `attempt.answer()` carries no labels: the world's
reply, and what it injected into it, was replaced.
"""

from __future__ import annotations

RATE_LIMIT = "rate_limit"
OVERLOAD = "overload"
OUTAGE = "outage"
RESET = "reset"
STREAM_ERROR = "stream_error"
TRUNCATED = "truncated"
MALFORMED_JSON = "malformed_json"
INJECTION_OBEYED = "injection_obeyed"


def with_label(labels: tuple[str, ...], *added: str) -> tuple[str, ...]:
    """`labels` followed by each of `added` not already in it: injection order, no duplicates."""
    for label in added:
        if label not in labels:
            labels = (*labels, label)
    return labels
