"""The hints of the fallbacks checks: each names one mistake, and is given where a check observes it."""

from __future__ import annotations

HINT_OPENAI_SYSTEM = ("Chat Completions takes the instructions as a message with role 'system' before the user "
                      "message, not folded into the user's text.")
HINT_ANTHROPIC_SYSTEM = ("The Messages API takes the instructions in the top-level system= parameter; a message with "
                         "role 'system' is OpenAI's shape, and the API refuses it with a 400.")
HINT_WORD_FOR_WORD = ("Your template may wrap the instructions in sections or tags of its own, but it must carry "
                      "request.system word for word: those are the product's instructions.")
HINT_NO_SYSTEM = ("When request.system is empty, send no system prompt at all: no system message to OpenAI, no "
                  "system= to Anthropic, not even your template's frame around nothing.")
HINT_USER = "Send request.user, word for word, as the one user message."
HINT_LIMIT = ("Pass request.max_tokens on: max_completion_tokens (or max_tokens) to OpenAI, the required max_tokens "
              "to Anthropic.")
HINT_ONE_ATTEMPT = ("One call of complete makes one request. The world's clients come with max_retries=0: do not "
                    "raise it, and do not retry in the adapter (retries and fallbacks are the chain's job).")
HINT_ANSWER = "Return Answer(text, model) from the setup cell, with the reply's text as a str."
HINT_ALL_BLOCKS = ("A Claude reply can hold several text blocks: join the text of every block whose type is 'text', "
                   "not only content[0].text.")
HINT_SCHEMA = ("OpenAI: response_format={'type': 'json_schema', 'json_schema': {'name': ..., 'schema': ...}}. "
               "Anthropic: output_config={'format': {'type': 'json_schema', 'schema': ...}}, or a forced tool whose "
               "input you return as JSON text.")
HINT_RETRYABLE = ("Unavailable is for the statuses worth another attempt: 408, 409, 429 and every 5xx, the rule both "
                  "SDKs retry by (faultfirst.retryable_status(err.status_code)).")
HINT_CONNECTION = ("A dropped connection or a timeout raises APIConnectionError (APITimeoutError is a subclass), "
                   "which is not an APIStatusError: catch it from both SDKs and raise Unavailable.")
HINT_BOTH_SDKS = ("Catch both SDKs' exceptions (openai.APIStatusError and anthropic.APIStatusError, "
                  "openai.APIConnectionError and anthropic.APIConnectionError) and raise the lesson's exception "
                  "instead.")
HINT_TOO_LONG_OPENAI = ("OpenAI refuses a prompt over the window with a 400 whose err.code is "
                        "'context_length_exceeded': raise TooLong.")
HINT_TOO_LONG_ANTHROPIC = ("Anthropic sends no code for a prompt over the window: its err.api_message says "
                           "'prompt is too long'. Raise TooLong.")
HINT_EXCEED = ("When the prompt fits but prompt plus max_tokens does not, Anthropic's 400 says the input and "
               "max_tokens 'exceed context limit': that is TooLong too, since a larger window fixes it.")
HINT_REJECTED = "Any other 4xx is the request's fault, not the provider's: raise Rejected."
HINT_NOT_FOUND = ("A 404 (a retired or misspelt model) says the configuration is wrong, which no fallback should "
                  "hide: retryable_status(404) is False, so it is Rejected like any other 4xx.")
HINT_CHAINED = ("Raise the lesson's exception with `raise ... from err`, so that the SDK's exception stays readable "
                "as its __cause__.")

HINT_NEXT_MODEL = ("On Unavailable, move on to the next model of the chain; raise AllFailed only when every model "
                   "failed or was skipped.")
HINT_ALL_FAILED = "When no model answers, raise AllFailed (from the setup cell), saying what happened to each model."
HINT_DEGRADED = "degraded is True exactly when the model that answered is not chain[0]."
HINT_OPENS = ("After `failures` consecutive Unavailable from a provider, open its breaker: skip that provider, "
              "without a request, until the cool-down has passed.")
HINT_USE_PARAMS = ("Create each breaker with the failures and cooldown that ask was given: "
                   "CircuitBreaker(world.clock, failures=failures, cooldown=cooldown).")
HINT_OPEN_AT = ("Open the breaker at the `failures`-th consecutive failure (`consecutive >= failures`), not one "
                "failure later: failures=1 opens it at the first.")
HINT_PER_PROVIDER = ("One breaker per provider, keyed by `world.catalog[model].provider`, not one per model: an "
                     "outage takes down every model of the provider, and the next OpenAI model is just as dead.")
HINT_COOLDOWN_EDGE = ("Half-open once `cooldown` seconds have passed: `now - opened_at >= cooldown`; at exactly "
                      "`cooldown` seconds the probe may go.")
HINT_REJECTED_PROBE = ("Call breaker.success() on Rejected before raising it: the provider answered. A half-open "
                       "breaker whose probe got a 400 and never heard back stays half-open and refuses the provider "
                       "for good.")
HINT_ALL_FAILED_SAYS = ("AllFailed's message should say what happened to each model of the chain, by name (its "
                        "error, 'breaker open', 'too long'): that line is all the on-call engineer gets.")
HINT_CONSECUTIVE = ("Count consecutive failures: a success resets the count. Otherwise random overloads add up over "
                    "the day and open the breaker of a healthy provider.")
HINT_WORLD_CLOCK = ("Measure the cool-down on world.clock.now(), not on the wall clock: simulated minutes pass in no "
                    "real time, so a wall-clock cool-down never ends.")
HINT_ONE_PROBE = ("Half-open lets exactly one call through, the probe; every other call skips the provider until the "
                  "probe's outcome closes the breaker or opens it again.")
HINT_CLOSES = "A successful probe closes the breaker: traffic goes back to the chain's first model."
HINT_TOO_LONG_NOT_FAILURE = ("TooLong is not an outage (the provider answered): move on to a model with a larger "
                             "window without counting a failure against the provider.")
HINT_TOO_LONG_MOVES_ON = ("A prompt too long for one model may fit the next: on TooLong (or a count that says it will "
                          "not fit) move on down the chain.")
HINT_REJECTED_AT_ONCE = ("Rejected means the request is wrong, and every other model would refuse it too: raise it "
                         "at once instead of trying the next model.")
HINT_REJECTED_NOT_COUNTED = "A 4xx means the provider is up: Rejected is no failure for its breaker."


