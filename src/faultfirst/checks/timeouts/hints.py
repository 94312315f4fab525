"""The hints of timeouts-deadline: each names one mistake, and is given where a case diagnoses it."""

from __future__ import annotations

REMAINING = ("Each attempt's timeout is what is left of the deadline when that attempt starts, "
             "`deadline - world.clock.now()` computed just before it (or attempt_timeout_s if that is smaller), "
             "never a fixed number such as deadline_s: after a quick failure and a wait, less is left.")
ATTEMPT_CAP = ("attempt_timeout_s caps every attempt: timeout = min(what is left, attempt_timeout_s), so a slow "
               "attempt is cut early and a retry still fits in the deadline.")
WHOLE_BUDGET = ("Without attempt_timeout_s, give each attempt all that is left of the deadline, not a slice of "
                "it: a slow model that needs most of the budget must get it.")
NO_WAIT_PAST = ("Never wait into the deadline: stop before a wait that would end after it "
                "(tenacity.stop_before_delay(deadline_s), or compare the wait with what is left before sleeping).")
RAISE_DEADLINE = ("When the budget is gone, raise DeadlineExceeded (from the setup cell): not tenacity's RetryError, "
                  "not the SDK's last exception, not a return value.")
RETRY_STATUS = ("A 529, 503 or 429 is transient: retry every failure transient(err) accepts (a timeout or other "
                "connection error, or a status retryable_status accepts: 408, 409, 429, 5xx), not only timeouts.")
RETRY_429 = ("A 429 (RateLimitError) is transient: retry_if_exception(transient) retries it; a rate limit with a "
             "short retry-after is the commonest failure worth another attempt, so do not filter it out.")
RETRY_408_409 = ("A 408 (request timeout) and a 409 (conflict) are transient too: retryable_status accepts them, as "
                 "both SDKs do, so retry every status transient(err) accepts, not only 429 and 5xx.")
PASS_MAX_TOKENS = ("Pass max_tokens on to every attempt: ask(world, model, prompt, timeout=..., "
                   "max_tokens=max_tokens); "
                   "without it each attempt asks for the default 300 tokens, not what the caller asked for.")
RETRY_CONNECTION = ("A connection reset or a timeout (APIConnectionError, and its subclass APITimeoutError) is "
                    "transient: retry it while the budget lasts.")
BACK_OFF = ("Wait between attempts (tenacity.wait_exponential(multiplier=0.5, max=8) with sleep=world.clock.sleep): "
            "a provider that is down answers at once, and a retry loop without waits hammers it.")
NO_RETRY_400 = ("Retry only what transient(err) accepts: a 400 (BadRequestError) fails the same way every time, "
                "so it is not retried.")
PASS_400_THROUGH = ("Let an error that is not transient through unchanged, at once: the caller must see the SDK's "
                    "BadRequestError, not DeadlineExceeded (the budget was not the problem).")


