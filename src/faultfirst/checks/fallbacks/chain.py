"""The check of fallbacks-chain, and the mistakes it is tested against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._framework import Mistake, Report, checked_world, mistakes, register
from .breakers import half_open_case, overloaded_case, rejected_probe_case, shared_breaker_case
from .common import (
    ALWAYS_OVERLOADED,
    BAD_DAY,
    OUTAGE,
    QUESTION,
    SMALL,
    SYSTEM,
    NeutralRequest,
    answer_problem,
    answered_detail,
    is_lesson_error,
    long_prompt,
    per_provider,
    short_error,
)
from .hints import (
    HINT_ALL_FAILED,
    HINT_ALL_FAILED_SAYS,
    HINT_CONSECUTIVE,
    HINT_COOLDOWN_EDGE,
    HINT_DEGRADED,
    HINT_NEXT_MODEL,
    HINT_ONE_PROBE,
    HINT_OPEN_AT,
    HINT_OPENS,
    HINT_PER_PROVIDER,
    HINT_REJECTED_AT_ONCE,
    HINT_REJECTED_NOT_COUNTED,
    HINT_REJECTED_PROBE,
    HINT_TOO_LONG_MOVES_ON,
    HINT_TOO_LONG_NOT_FAILURE,
    HINT_USE_PARAMS,
    HINT_WORLD_CLOCK,
)
from .traffic import drive, expect_answered, expect_degraded_flags, outage_cases, traffic_world
from .wire import LONG_ASKED, scripted


@register("fallbacks-chain")
def check_chain(fn: Callable[..., Any], report: Report) -> None:
    with report.case("calm (seed 51): the primary answers every request, one attempt each") as notes:
        chain = ["claude-strong", "gpt-fast"]
        world = traffic_world(seed=51, scenario="calm", chain=chain, minutes=(0, 1))
        calls = drive(report, fn, world, chain=chain, minutes=(0, 1))
        notes.detail = answered_detail(world, calls)
        expect_answered(report, calls, where="in a calm world")
        elsewhere = [c for c in calls if c.value.model != "claude-strong"]
        report.expect(not elsewhere, f"at t={elsewhere[0].start:.0f} s {elsewhere[0].value.model} answered; in a calm "
                                     "world the first model should answer" if elsewhere else "")
        report.expect(len(world.requests) == len(calls),
                      f"{len(world.requests)} attempts for {len(calls)} requests; a healthy primary needs one each")
        expect_degraded_flags(report, calls, "claude-strong")
    outage_cases(report, fn, seed=52, scenario=OUTAGE, chain=["gpt-fast", "claude-fast"], minutes=(0, 8), strict=True)
    outage_cases(report, fn, seed=55, scenario=BAD_DAY, chain=["claude-fast", "gpt-fast"], minutes=(1, 11),
                 strict=False)
    with report.case("OpenAI down, chain gpt-fast, gpt-strong, claude-fast (failures=2, cooldown=30): one breaker for "
                     "both OpenAI models, half-open exactly 30 s after it opened") as notes:
        notes.detail = shared_breaker_case(report, fn)
    with report.case("a half-open probe refused with a 400 (Rejected) still closes the breaker: the provider is up") \
            as notes:
        notes.detail = rejected_probe_case(report, fn)
    with report.case("half-open (outage, failures=1): requests that arrive while the probe is in flight skip OpenAI"):
        half_open_case(report, fn)
    with report.case("overloaded (seed 60, about one attempt in six refused): a refusal moves to the next model") \
            as notes:
        notes.detail = overloaded_case(report, fn)
    with report.case("a prompt too long for gpt-fast goes to claude-fast, and does not open OpenAI's breaker") as notes:
        world = scripted(checked_world(seed=55, **SMALL), ("Every code repeats.",), system_contains=LONG_ASKED)
        chain, breakers = ["gpt-fast", "claude-fast"], dict[str, Any]()
        long = NeutralRequest(long_prompt(130_000), LONG_ASKED, max_tokens=400)
        value, err = report.outcome(fn, world, long, chain=chain, breakers=breakers, failures=1, cooldown=60.0)
        report.expect(err is None, f"a 130,000-token prompt raised {short_error(err)}; claude-fast (200,000 tokens) "
                                   "could have answered it", hint=HINT_TOO_LONG_MOVES_ON)
        problem = answer_problem(value)
        report.expect(problem is None, problem or "")
        report.expect(value.model == "claude-fast", f"the long prompt was answered by {value.model!r}, expected "
                                                    "claude-fast", hint=HINT_TOO_LONG_MOVES_ON)
        report.expect(bool(value.degraded), "an answer from claude-fast, the chain's second model, is degraded=True",
                      hint=HINT_DEGRADED)
        report.expect(sum(r.model == "gpt-fast" for r in world.requests) <= 1,
                      "sent the long prompt to gpt-fast more than once", hint=HINT_TOO_LONG_MOVES_ON)
        world.clock.sleep(5)
        value, err = report.outcome(fn, world, NeutralRequest(QUESTION, SYSTEM), chain=chain, breakers=breakers,
                                    failures=1, cooldown=60.0)
        notes.detail = per_provider(world)
        report.expect(err is None, f"a short request after the long one raised {short_error(err)}")
        problem = answer_problem(value)
        report.expect(problem is None, problem or "")
        report.expect(value.model == "gpt-fast",
                      f"with failures=1, a short request after the long one went to {value.model}: the "
                      "context-window 400 was counted as an outage and opened OpenAI's breaker",
                      hint=HINT_TOO_LONG_NOT_FAILURE)
    with report.case("a malformed request (max_tokens=-200) raises Rejected after one attempt, and opens no breaker") \
            as notes:
        world = checked_world(seed=56, **SMALL)
        chain, breakers = ["gpt-fast", "gpt-strong", "claude-fast"], {}
        for _ in range(2):
            before = len(world.requests)
            value, err = report.outcome(fn, world, NeutralRequest(QUESTION, max_tokens=-200), chain=chain,
                                        breakers=breakers,
                                        failures=2, cooldown=60.0)
            made = len(world.requests) - before
            report.expect(made == 1, f"the malformed request was sent {made} times, down the chain; a 400 for a "
                                     "malformed request is the same on every model", hint=HINT_REJECTED_AT_ONCE)
            report.expect(is_lesson_error(err, "Rejected"),
                          f"a malformed request should raise Rejected; got {short_error(err)}"
                          if err is not None else f"a malformed request returned {str(value)[:60]!r}; raise Rejected",
                          hint=HINT_REJECTED_AT_ONCE)
        value, err = report.outcome(fn, world, NeutralRequest(QUESTION, SYSTEM), chain=chain, breakers=breakers,
                                    failures=2, cooldown=60.0)
        notes.detail = per_provider(world)
        report.expect(err is None and getattr(value, "model", None) == "gpt-fast",
                      f"a good request after two malformed ones should be answered by gpt-fast; got "
                      f"{short_error(err) if err else getattr(value, 'model', value)}: the 400s opened "
                      "OpenAI's breaker", hint=HINT_REJECTED_NOT_COUNTED)
    with report.case("every model refusing: one attempt each, then a clear AllFailed") as notes:
        world = checked_world(seed=57, scenario=ALWAYS_OVERLOADED, **SMALL)
        chain = ["gpt-fast", "claude-fast", "claude-strong"]
        value, err = report.outcome(fn, world, NeutralRequest(QUESTION, SYSTEM), chain=chain, breakers={})
        notes.detail = f"{per_provider(world)}; raised {short_error(err)}"
        report.expect(err is not None, f"returned {str(value)[:60]!r} although every model refused",
                      hint=HINT_ALL_FAILED)
        report.expect(is_lesson_error(err, "AllFailed"),
                      f"raised {short_error(err)}; raise AllFailed when no model answers",
                      hint=HINT_NEXT_MODEL if is_lesson_error(err, "Unavailable") else HINT_ALL_FAILED)
        tried = [r.model for r in world.requests]
        report.expect(tried == chain, f"tried {tried}; expected each model of the chain once, in order: {chain}")
        unsaid = [m for m in chain if m not in str(err)]
        report.expect(not unsaid, f"AllFailed says {str(err)[:120]!r}, nothing about {', '.join(unsaid)}",
                      hint=HINT_ALL_FAILED_SAYS)


mistakes(
    "fallbacks-chain",
    Mistake("a half-open breaker that admits every call, not one probe",
            changes=(('return self.state == "closed"', 'return self.state != "open"'),),
            hint=HINT_ONE_PROBE),
    Mistake("a breaker that never opens (only a failed probe re-opens it)",
            changes=(('if self.state == "half-open" or self.consecutive >= self.failures:',
                      'if self.state == "half-open":'),),
            hint=HINT_OPENS),
    Mistake("the cool-down measured on the wall clock",
            changes=(("class CircuitBreaker:", "import time\n\n\nclass CircuitBreaker:"),
                     ("self.clock.now() - self.opened_at", "time.monotonic() - self.opened_at"),
                     ('self.state, self.opened_at = "open", self.clock.now()',
                      'self.state, self.opened_at = "open", time.monotonic()')),
            hint=HINT_WORLD_CLOCK),
    Mistake("counts every failure, not consecutive ones (a success does not reset the count)",
            changes=(('self.state, self.consecutive = "closed", 0', 'self.state = "closed"'),),
            hint=HINT_CONSECUTIVE),
    Mistake("breakers made with the default settings, not ask's failures and cooldown",
            changes=(("CircuitBreaker(world.clock, failures=failures, cooldown=cooldown)",
                      "CircuitBreaker(world.clock)"),),
            hint=HINT_USE_PARAMS),
    Mistake("no count first, and TooLong counted as a breaker failure",
            changes=(("if not fits(model):", "if False:"),
                     ("except TooLong as err:\n            breaker.success()",
                      "except TooLong as err:\n            breaker.failure()")),
            hint=HINT_TOO_LONG_NOT_FAILURE),
    Mistake("Rejected tried down the chain like an outage",
            changes=(("except Rejected:\n            breaker.success()\n            raise",
                      "except Rejected as err:\n            breaker.success()\n            what.append(str(err))\n"
                      "            continue"),),
            hint=HINT_REJECTED_AT_ONCE),
    Mistake("Rejected raised at once but counted as a breaker failure",
            changes=(("except Rejected:\n            breaker.success()",
                      "except Rejected:\n            breaker.failure()"),),
            hint=HINT_REJECTED_NOT_COUNTED),
    Mistake("breakers keyed by model, not by provider",
            changes=(("breaker = breakers.setdefault(provider,", "breaker = breakers.setdefault(model,"),),
            hint=HINT_PER_PROVIDER),
    Mistake("Rejected raised without telling the breaker, so a half-open probe refused with a 400 never closes it",
            changes=(("except Rejected:\n            breaker.success()\n            raise",
                      "except Rejected:\n            raise"),),
            hint=HINT_REJECTED_PROBE),
    Mistake("breakers made with a fixed 60 s cool-down, not ask's cooldown",
            changes=(("failures=failures, cooldown=cooldown)", "failures=failures, cooldown=60.0)"),),
            hint=HINT_USE_PARAMS),
    Mistake("AllFailed that does not say what happened to each model",
            changes=(('raise AllFailed("no model answered: " + "; ".join(what))',
                      'raise AllFailed("no model answered")'),),
            hint=HINT_ALL_FAILED_SAYS),
    Mistake("half-opens only after more than `cooldown` seconds",
            changes=(("self.clock.now() - self.opened_at >= self.cooldown",
                      "self.clock.now() - self.opened_at > self.cooldown"),),
            hint=HINT_COOLDOWN_EDGE),
    Mistake("opens one failure late (consecutive > failures)",
            changes=(("self.consecutive >= self.failures", "self.consecutive > self.failures"),),
            hint=HINT_OPEN_AT),
    Mistake("degraded never set",
            changes=(("degraded=model != chain[0]", "degraded=False"),),
            hint=HINT_DEGRADED),
    Mistake("returns None instead of raising AllFailed",
            changes=(('raise AllFailed("no model answered: " + "; ".join(what))', "return None"),),
            hint=HINT_ALL_FAILED),
)
