"""Checks for the lesson "Parallelism and rate limits" (book/tier2/parallelism.md).

`parallelism-bucket` drives the learner's token bucket with timed acquirers on
a world's virtual-time loop and records when each grant happened, so rate,
burst, order and edge cases are measured, not guessed. `parallelism-documents`
runs the learner's whole job in small seeded worlds, each chosen for one thing
it exercises (the tokens limit binding, a shared allowance that makes
`retry-after` matter, bad-day faults, a document that gets a 400, one that no
bucket can admit), and reads the world's log: every attempt is matched to its
document by the id in its prompt (the check watches the requests as they reach
the simulated API), so lost, duplicated and unjustified failures, retries that
came too soon and retries that should never have been sent can be told apart.

Learner code runs with two bounds: the world's own (attempts, virtual time)
and a real-time watchdog for a coroutine that spins without ever letting the
virtual clock move (`await asyncio.sleep(0)` in a loop). A `time.sleep` on
the world's loop (which would block it in real time) raises at once instead.
Nothing here joins a thread or takes a lock from code the GC may run: the
watchdog is a daemon thread that ends on an event, and leftover learner tasks
are cancelled with one more `world.run` while the world is alive.
"""

# Importing the modules registers the checks and their mistakes.
from . import bucket as bucket
from . import documents as documents
