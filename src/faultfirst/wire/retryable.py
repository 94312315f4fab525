"""Which HTTP statuses are worth another attempt: the rule both SDKs apply, in one place for every lesson.

openai 3.x and anthropic 2.x (`_base_client.py`, `_should_retry`) retry 408 (request timeout), 409
(conflict, e.g. a lock held elsewhere), 429 (rate limited) and every 5xx (Anthropic's 529 "overloaded"
included), unless the server says otherwise in an `x-should-retry` header; openai also gives up at once on a
response whose retry-after exceeds 120 s (`MAX_RETRY_AFTER_DELAY`). Every other 4xx says the request itself
is wrong, and sending it again gives the same answer. tests/test_sdk_facts_retries.py pins this rule against
both SDKs' own code.
"""

from __future__ import annotations

RETRIED_4XX = frozenset({408, 409, 429})


def retryable_status(status_code: int) -> bool:
    """True for the statuses both SDKs retry by themselves: 408, 409, 429 and every 5xx."""
    return status_code in RETRIED_4XX or 500 <= status_code <= 599
