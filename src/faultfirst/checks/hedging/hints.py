"""The hints of the hedging checks: each one the fix for one mistake, given where a case diagnoses it."""

from __future__ import annotations

START_HEDGE = ("When `asyncio.wait({first}, timeout=delay)` comes back with nothing done, call `attempt()` again "
               "(a new coroutine: one coroutine can be awaited only once) and start it as a second task.")
HEDGE_AT_DELAY = ("Start the second attempt when the delay runs out, not before: wait for the first with "
                  "`asyncio.wait([first], timeout=delay)` and hedge only if it is not done by then.")
NO_HEDGE_IF_ANSWERED = ("If the first attempt answered within the delay, return its result: a second attempt is "
                        "only for a first one that is still running (or has failed).")
HEDGE_ON_FAILURE = ("A failed first attempt is a surer sign than slowness: if it has finished with an exception when "
                    "the wait ends (`tasks[0].exception() is not None`), start the second attempt at once.")
KEEP_WAITING = ("FIRST_COMPLETED returns failures too: if the task that finished raised, keep its exception and "
                "wait for the other one; a failure ends the call only when both attempts have failed.")
TWO_ATTEMPTS = ("Never more than two attempts: the first, and one hedge (started at the delay, or at once when the "
                "first fails). A failed hedge ends the call.")
RERAISE = ("When both attempts fail, `raise` the exception of an attempt (the SDK's own error, e.g. "
           "openai.InternalServerError), not a new one, so that callers can still catch openai.APIError.")
RETURN_RESULT = "Return the winning attempt's result (`task.result()`), not the task or the set asyncio.wait gave back."
CANCEL_LOSER = ("Cancel the attempt that lost (`task.cancel()`) as soon as one succeeds: awaiting it uncancelled "
                "waits for its whole answer, and it is billed in full.")
AWAIT_CANCELLED = ("`task.cancel()` only asks: await the cancelled task (`await asyncio.gather(*tasks, "
                   "return_exceptions=True)`) so that it has finished before you return.")
GATHER_RETURN_EXCEPTIONS = ("`await asyncio.gather(*tasks)` re-raises the first exception among the tasks (the "
                            "CancelledError of the loser you just cancelled, or a failed attempt's error), so the call "
                            "ends in it instead of the winner's result: pass `return_exceptions=True`.")
KEEP_FIRST_RUNNING = ("Do not cancel the first attempt when you start the hedge: both run, and the first to succeed "
                      "wins (the slow first attempt may still answer before the hedge). Cancel only the loser, after "
                      "a success.")
CLEANUP_IN_FINALLY = ("A caller's deadline (asyncio.timeout) cancels `hedged` while it waits, and asyncio.wait does "
                      "not cancel the tasks it waits on: cancel and await them in a `finally:` block.")

MIN_SAMPLES = ("With fewer than `min_samples` latencies recorded the percentile is a guess (or there is none): "
               "return math.inf, and only from `min_samples` on a finite delay.")
WINDOW_LATENCIES = ("Keep only the last `window` latencies (a `collections.deque(maxlen=window)`), so the delay "
                    "follows recent calls and forgets old ones.")
USE_PERCENTILE = ("The delay is `nearest_rank(<the last window latencies>, self.percentile)`: the percentile the "
                  "policy was built with, not a mean, a maximum or a fixed 95.")
BUDGET_SPENT = ("Count the hedged calls among the last `window` recorded; at `budget * window` or more, the budget "
                "is spent: return math.inf.")
BUDGET_SHARE = ("The budget is a share of the window: compare the hedged calls among the last `window` with "
                "`budget * window` (20 for 10% of 200), not with `budget` itself nor with the calls recorded so far.")
NEAREST_RANK = ("Nearest rank: the value at index `math.ceil(p * n / 100) - 1` of the sorted latencies (the "
                "`nearest_rank` of the setup cell), not `int(p * n / 100)`, which is one rank too high.")
OWN_MIN_SAMPLES = ("Compare with `self.min_samples`, the `min_samples` the policy was built with, not a fixed 20: "
                   "with min_samples=5 it hedges from the fifth recorded call on.")
OWN_WINDOW = ("Use the `window` the policy was built with, not a fixed 200: size both deques with it "
              "(`deque(maxlen=window)`) and compare the hedged calls with `self.budget * self.window`.")
OWN_BUDGET = ("Use `self.budget`, the share the policy was built with, not a fixed 10%: with budget=0.2 and "
              "window=50, 10 hedged calls among the last 50 spend it.")
BUDGET_REFILLS = ("Keep the hedged flags of the last `window` calls only (a deque(maxlen=window), one flag per call, "
                  "hedged or not): a hedge older than that no longer counts, so the budget refills.")

