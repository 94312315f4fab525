"""Checks for the lesson "Fallbacks" (book/tier2/fallbacks.md).

`fallbacks-adapter` sends neutral requests through the learner's adapter and
reads what reached the API: one attempt, in the provider's shape (a system
message for OpenAI, `system=` for Anthropic, no system role among Anthropic's
messages, no system prompt at all when the request has none), the request's
instructions and user text carried word for word somewhere in the right place,
the output limit passed on, and the reply's text returned whole (a Claude reply
of several text blocks included). The adapter may wrap the instructions in its
own per-provider template (the lesson's point: different models need different
prompts), so the check never compares the prompt, the reply or the token count
with a reference adapter's. Then it makes each failure shape happen (an outage,
an overload, a reset, a 429, a 408 and a 409, prompts over the window, a prompt
whose `max_tokens` does not fit beside it, a malformed request, a 404) and checks which
of the lesson's neutral exceptions comes out, chained from the SDK's.

`fallbacks-chain` drives traffic through the learner's chain, one request every
15 or 20 simulated seconds, under `calm`, `overloaded`, and `outage` and
`bad-day` with their outages shortened to a few minutes (as many requests as
show a breaker open, probe and close, and no more: each costs the SDKs
milliseconds), and judges it by what the world saw: attempts per provider inside and outside the
outage window, which model answered when, how many requests were answered and
how many lost, and what was raised. The driver is sequential, so it cannot see
a half-open breaker that admits every call (each probe's outcome is known before
the next call); one case therefore sends requests *while* the probe is in
flight (from inside the simulated API, as it plans the probe), and counts how
many reach the recovering provider. Two short cases pin what long traffic
cannot: two OpenAI models in an OpenAI outage share one breaker, whose
`allow()` the check then calls on the world's clock at exactly `cooldown`
seconds after it opened; and a half-open probe answered with a 400 closes it.

The lesson's types (`Request`, `Answer`, `Unavailable`, `TooLong`, `Rejected`,
`AllFailed`) live in the notebook's setup cell, so the check builds requests of
its own with the same fields and recognises the exceptions by class name.
"""

# Importing the modules registers the checks and their mistakes.
from . import adapter as adapter
from . import chain as chain
