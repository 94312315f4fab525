"""The hints of the retries checks: each names one mistake, and is given where an observation diagnoses it."""

from __future__ import annotations

from .common import LONGEST_RETRY_AFTER_S, MAX_ATTEMPTS

HINT_SDK_RETRIES = ("call ask(...) without max_retries (it defaults to 0): the SDK's own retries run inside each of "
                    "your attempts, multiply them, and ignore your policy")
HINT_DEADLINE = ("add a bound on time to the stop: stop_after_attempt(MAX_ATTEMPTS) | stop_before_delay(DEADLINE_S); "
                 "five attempts can sleep far past the deadline when the server advises long waits")
HINT_AFTER_DELAY = ("use stop_before_delay(DEADLINE_S), not stop_after_delay: stop_after_delay stops only at the first "
                    "failure past the deadline, so it overshoots by up to one wait plus one attempt")
HINT_LONGEST = (f"retryable() must say False to a 429 whose retry-after is above LONGEST_RETRY_AFTER_S "
                f"({LONGEST_RETRY_AFTER_S:g} s): advice to wait longer than the caller can is advice to give up")
HINT_NO_ADVICE = ("retryable() must say False to a 429 with no retry-after: in the simulator that is a request too "
                  "large for the bucket, which no wait fixes")
HINT_4XX = ("for statuses other than 429, use retryable_status(err.status_code) (408, 409 and every 5xx): a 400 or a "
            "404 is the request's own fault, and sending it again gives the same answer")
HINT_CONNECTION = ("retryable() must say True to a connection error or timeout (openai.APIConnectionError, "
                   "anthropic.APIConnectionError): a reset connection is the most transient failure there is")
HINT_SHORT_ADVICE = (f"retryable() must say True to a 429 whose retry-after is at most LONGEST_RETRY_AFTER_S "
                     f"({LONGEST_RETRY_AFTER_S:g} s): wait what it says, plus jitter, and try again")
HINT_5XX = "retryable() must say True to 408, 409 and every 5xx (Anthropic's 529 included): retryable_status(code)"
HINT_HONOUR_ADVICE = ("pause() must wait at least retry_after(err) when the server gave it: a request sent sooner is "
                      "refused again")
HINT_JITTER_ON_ADVICE = ("add full jitter on top of the advice: retry_after(err) + rng.uniform(0, window); every "
                         "client told the same number otherwise comes back at the same moment")
HINT_JITTER = "draw each wait from the rng you are given: rng.uniform(0, window), not the window itself"
HINT_WINDOW = ("the jitter window after attempt n is min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (n - 1)): 1 s after the "
               "first attempt, then 2, 4, 8, ...")
HINT_RNG = ("draw the jitter from the rng argument, rng.uniform(0, window), not from the random module: the caller's "
            "seeded rng is what makes the waits reproducible, and the check replays it wait by wait")
HINT_CONNECTION_OPENAI = ("retryable() must say True to openai.APIConnectionError as well as "
                          "anthropic.APIConnectionError: the two SDKs' classes are unrelated, so name both")
HINT_408_409 = ("retryable() must say True to 408 and 409, not only to 5xx: for a status other than 429, return "
                "retryable_status(err.status_code), the SDKs' own rule")
HINT_NOT_SDK = ("retryable() must say False to an exception that is neither an SDK connection error nor an SDK status "
                "error (a ValueError, a KeyError): a bug in the code does not go away on the next attempt")
HINT_AT_MOST = (f"a retry-after of exactly LONGEST_RETRY_AFTER_S ({LONGEST_RETRY_AFTER_S:g} s) is still retried: "
                "advice <= LONGEST_RETRY_AFTER_S, not <")
HINT_RERAISE = "pass reraise=True so that the caller gets the SDK's own exception, not tenacity's RetryError"
HINT_ATTEMPTS = f"stop after MAX_ATTEMPTS ({MAX_ATTEMPTS}) attempts: tenacity.stop_after_attempt(MAX_ATTEMPTS)"

B_SHARED = ("create one RetryBudget before the loop, shared by every call, and call earn() once per call, before its "
            "first attempt (not once per attempt)")
B_CAP = ("earn() must never fill the budget past cap (self.tokens = min(self.cap, self.tokens + self.ratio)): quiet "
         "hours must not save up retries for the next outage")
B_SPEND_ORDER = ("ask spend() only for a retry that will happen: last in stop= (tenacity asks stop only after retry= "
                 "said yes), never in the retry predicate, where a 400 or a 404 spends a token too")
B_START_FULL = "the budget starts full (tokens = cap), so the first failures of a bad hour get their retries"
B_FLOAT = ("adding 0.1 ten times gives 0.9999999999999999: compare with slack (tokens >= 1 - 1e-9) or count in "
           "tenths")
B_RETRYABLE = ("retry what the previous exercise's retryable() accepts (5xx, 529 and connection errors) while the "
               "budget allows: retry=tenacity.retry_if_exception(retryable)")
B_NO_4XX = "retry only what retryable() says yes to: a 400 or a 404 fails the same way every time"
B_NEVER_RAISES = ("catch both SDKs' errors around each call, (openai.APIError, anthropic.APIError), and put None in "
                  "its place: ask_all never raises")
B_DEADLINE = ("keep stop_before_delay(DEADLINE_S) in ask_all's stop: a call told retry-after: 30 each time still has "
              "tokens, and without the time bound it sleeps past the deadline: stop_after_attempt(MAX_ATTEMPTS) | "
              "stop_before_delay(DEADLINE_S) | (lambda state: not budget.spend())")
B_ARGUMENTS = ("RetryBudget must use the ratio and cap it is given (self.ratio, self.cap = ratio, cap), not 0.1 and "
               "10: RetryBudget(ratio=0.5, cap=2) starts with 2 tokens and earns half a retry a call")
B_PER_CALL = ("keep the previous exercise's stops before the budget: stop_after_attempt(MAX_ATTEMPTS) | "
              "stop_before_delay(DEADLINE_S) | (lambda state: not budget.spend()); the budget bounds the client, "
              "not one call")


