"""The check of retries-budget, and the mistakes it is tested against.

It replays a retry budget call by call against what the world saw, so a retry the budget did not allow,
or one it allowed and was not taken, is named with the call it belongs to.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...service.records import RequestRecord
from ...service.scenarios import Outage
from ...text import plural
from ...wire.retryable import retryable_status
from ...world import World
from .._framework import Mistake, Report, checked_world, mistakes, register, usage
from .common import DEADLINE_S, EPS, LONG_PROMPT, MAX_ATTEMPTS, SDK_ERRORS, Observer, crowded, scenario_from
from .hints import (
    B_ARGUMENTS,
    B_CAP,
    B_DEADLINE,
    B_FLOAT,
    B_NEVER_RAISES,
    B_NO_4XX,
    B_PER_CALL,
    B_RETRYABLE,
    B_SHARED,
    B_SPEND_ORDER,
    B_START_FULL,
    HINT_CONNECTION,
    HINT_SDK_RETRIES,
)

_RATIO, _CAP = 0.1, 10

@dataclass
class _Batch:
    """What one call of ask_all did: its replies, and its attempts grouped by prompt."""

    replies: list[Any]
    attempts: list[RequestRecord]
    calls: list[list[RequestRecord]]

    @property
    def retries(self) -> int:
        return len(self.attempts) - sum(bool(c) for c in self.calls)


def _prompts(count: int, *, start: int = 0, long: bool = False) -> list[str]:
    if long:
        return [f"#{i}: {LONG_PROMPT}" for i in range(start, start + count)]
    return [f"#{i}: Summarise abstract {i} in one sentence." for i in range(start, start + count)]


def _ask_all(report: Report, fn: Callable[..., Any], world: World, model: str, prompts: list[str], *,
             seed: int, observer: Observer) -> _Batch:
    first = len(world.requests)

    def call() -> Any:
        try:
            return fn(world, model, prompts, rng=random.Random(seed))
        except SDK_ERRORS as err:
            return err

    replies = report.call(call)
    attempts = world.requests[first:]
    calls: list[list[RequestRecord]] = [[] for _ in prompts]
    for record in attempts:
        index = observer.prompt(record)
        if index is not None and 0 <= index < len(prompts):
            calls[index].append(record)
    report.expect(not isinstance(replies, BaseException),
                  f"raised {type(replies).__name__}: {str(replies)[:120]}", hint=B_NEVER_RAISES)
    count = len(prompts)
    report.expect(isinstance(replies, list) and len(replies) == count,
                  f"should return a list with one entry per prompt ({count}), got "
                  f"{type(replies).__name__}{f' of {len(replies)}' if isinstance(replies, list) else ''}")
    odd = [r for r in replies if r is not None and not isinstance(r, str)]
    report.expect(not odd, f"each entry should be the reply's text or None, got {type(odd[0]).__name__}" if odd else "")
    batch = _Batch(replies, attempts, calls)
    report.expect(not observer.sdk_retried(attempts), "the SDK retried by itself (an attempt carried "
                                                      "x-stainless-retry-count > 0)", hint=HINT_SDK_RETRIES)
    longest = max((len(c) for c in calls), default=0)
    report.expect(longest <= MAX_ATTEMPTS, f"one call made {longest} attempts; the policy makes at most {MAX_ATTEMPTS}",
                  hint=B_PER_CALL)
    return batch


def _detail(world: World, batch: _Batch) -> str:
    lost = sum(r is None for r in batch.replies)
    return f"{usage(world, lost=lost)}, {plural(batch.retries, 'retry', 'retries')}"


def _worth_retrying(record: RequestRecord) -> bool:
    return record.error in ("connection reset",
                            "timeout") or (record.status is not None and retryable_status(record.status)
                                                                and record.status != 429)


def _full_use(batch: _Batch, *, start: float) -> bool:
    """Did every call that gave up on a retryable failure do so for want of a token, in a budget starting at `start`?"""
    tokens = float(start)
    for attempts in batch.calls:
        if not attempts:
            continue
        tokens = min(_CAP, tokens + _RATIO) - (len(attempts) - 1)
        last = attempts[-1]
        if not last.ok and _worth_retrying(last) and len(attempts) < MAX_ATTEMPTS and tokens >= 1 - 1e-9:
            return False
    return True


def _violations(batch: _Batch, *, cap: float, start: float = _CAP) -> list[tuple[int, float]]:
    """Replay a budget of 0.1 a call holding at most `cap`: each (call, tokens left) where a retry had no token."""
    tokens, found = float(start), []
    for i, attempts in enumerate(batch.calls):
        if attempts:
            tokens = min(cap, tokens + _RATIO)
            for _ in attempts[1:]:
                if tokens < 1 - 1e-9:
                    found.append((i, tokens))
                tokens -= 1
    return found


def _replay(report: Report, batch: _Batch) -> None:
    """Replay the budget of the statement call by call: no retry without a token, no call given up with one."""
    over = _violations(batch, cap=_CAP)
    if over:
        call, left = over[0]
        uncapped_explains = not _violations(batch, cap=float("inf"))
        report.expect(False, f"call {call} retried when a budget of {_RATIO:g} a call, {_CAP} at most, had {left:.1f} "
                             "retries left", hint=B_CAP if uncapped_explains else B_SHARED)
    tokens, retried_before, failed_before = float(_CAP), False, False
    for i, attempts in enumerate(batch.calls):
        if not attempts:
            continue
        tokens = min(_CAP, tokens + _RATIO) - (len(attempts) - 1)
        last = attempts[-1]
        if not last.ok and _worth_retrying(last) and len(attempts) < MAX_ATTEMPTS and tokens >= 1 - 1e-9:
            if batch.retries == 0:
                hint = HINT_CONNECTION if last.error else B_RETRYABLE
            elif tokens < 1 + 1e-6:
                hint = B_FLOAT
            elif any(not _violations(batch, cap=_CAP, start=start) and _full_use(batch, start=start)
                     for start in range(_CAP)):
                hint = B_START_FULL  # exactly what a correct budget that started with fewer tokens would do
            elif retried_before or failed_before:
                hint = B_SPEND_ORDER
            else:
                hint = B_START_FULL
            report.expect(False,
                          f"call {i} gave up after {plural(len(attempts), 'attempt')} ({last.error or last.status}) "
                                 f"while the budget still had {tokens:.1f} retries", hint=hint)
        retried_before = retried_before or len(attempts) > 1
        failed_before = failed_before or (not last.ok and last.status in (400, 404))


# A calm start, then OpenAI answers 503 for twenty minutes.
_LATE_OUTAGE = scenario_from("outage-after-7-s", outage=Outage("openai", 7.0, 1207.0))
_ROUGH = scenario_from("rough-day", overload_rate=0.3, reset_rate=0.15)


@register("retries-budget")
def check_budget(fn: Callable[..., Any], report: Report) -> None:
    with report.case("the outage (16 calls to gpt-fast): the 10 saved-up retries, then one per ten calls") as notes:
        world = checked_world(seed=62, scenario="outage", max_attempts=400, max_seconds=3600)
        observer = Observer(world)
        batch = _ask_all(report, fn, world, "gpt-fast", _prompts(16), seed=62, observer=observer)
        notes.detail = _detail(world, batch)
        report.expect(all(r is None for r in batch.replies),
                      "a call returned text during the outage; it should be None")
        _replay(report, batch)

    with report.case("a calm start (12 calls), 3 prompts over the context window (400), then the outage (10 calls)") \
            as notes:
        world = checked_world(seed=61, scenario=_LATE_OUTAGE, max_attempts=400, max_seconds=3600)
        observer = Observer(world)
        prompts = _prompts(12) + _prompts(3, start=12, long=True) + _prompts(10, start=15)
        batch = _ask_all(report, fn, world, "gpt-fast", prompts, seed=61, observer=observer)
        notes.detail = _detail(world, batch)
        report.expect(all(len(c) == 1 and c[0].ok for c in batch.calls[:12]),
                      "made more than one attempt for a call that succeeded first time")
        report.expect(all(c and c[0].status == 503 for c in batch.calls[15:]),
                      "the check expected the last 10 calls to meet the outage; please report this as a bug")
        bad = batch.calls[12:15]
        report.expect(all(len(c) == 1 for c in bad), f"made {max(map(len, bad))} attempts at a 400", hint=B_NO_4XX)
        _replay(report, batch)

    with report.case("a rough day (14 calls to gpt-fast: 30% 503s, 15% resets): retries while the budget lasts") \
            as notes:
        world = checked_world(seed=63, scenario=_ROUGH, max_attempts=400, max_seconds=3600)
        observer = Observer(world)
        batch = _ask_all(report, fn, world, "gpt-fast", _prompts(14), seed=63, observer=observer)
        notes.detail = _detail(world, batch)
        _replay(report, batch)

    with report.case(f"every attempt a 429 with retry-after: 30, tokens to spare: no attempt begins more than "
                     f"{DEADLINE_S:g} s after the call's first") as notes:
        world = crowded(seed=66)
        observer = Observer(world)
        batch = _ask_all(report, fn, world, "gpt-fast", _prompts(1), seed=66, observer=observer)
        notes.detail = _detail(world, batch)
        attempts = batch.calls[0]
        report.expect(len(attempts) >= 2,
                      f"made {plural(len(attempts), 'attempt')} at a 429 whose retry-after was 30 s, with "
                                          "a full budget", hint=B_RETRYABLE)
        late = [r.start - attempts[0].start for r in attempts if r.start - attempts[0].start > DEADLINE_S + EPS]
        report.expect(not late, f"an attempt began {late[0] if late else 0:.1f} s after the call's first, past the "
                                f"{DEADLINE_S:g} s deadline", hint=B_DEADLINE)

    with report.case("a retired model (4 calls to claude-legacy): 4 attempts, no retry spent on a 404") as notes:
        world = checked_world(seed=65, max_attempts=100, max_seconds=3600)
        observer = Observer(world)
        batch = _ask_all(report, fn, world, "claude-legacy", _prompts(4), seed=65, observer=observer)
        notes.detail = _detail(world, batch)
        report.expect(all(r is None for r in batch.replies),
                      "a call to a retired model returned text; it should be None")
        report.expect(len(batch.attempts) == 4, f"made {len(batch.attempts)} attempts for 4 calls that cannot succeed",
                      hint=B_NO_4XX)

    with report.case("RetryBudget(ratio=0.5, cap=2) on its own: the ratio and cap it is given"):
        cls = getattr(fn, "__globals__", {}).get("RetryBudget")
        report.expect(isinstance(cls, type), "no class RetryBudget beside ask_all")
        _budget_steps(report, cls)


def _budget_steps(report: Report, cls: Any) -> None:
    """RetryBudget(ratio=0.5, cap=2) on its own: starts full, earns half a token a call, never holds more than 2."""
    budget = report.call(cls, ratio=0.5, cap=2)

    def spends(n: int) -> list[Any]:
        return [report.call(budget.spend) for _ in range(n)]

    def earn(n: int) -> None:
        for _ in range(n):
            report.call(budget.earn)

    got = spends(2)
    report.expect(got == [True, True], f"a new RetryBudget(ratio=0.5, cap=2) allowed {got}: it should start with 2 "
                                       "tokens, two retries", hint=B_START_FULL)
    got = spends(1)
    report.expect(got == [False], "a new RetryBudget(ratio=0.5, cap=2) allowed a third retry: it holds at most cap=2 "
                                  "tokens", hint=B_ARGUMENTS)
    earn(2)
    got = spends(2)
    report.expect(got == [True, False], f"RetryBudget(ratio=0.5, cap=2), empty, then earn() twice: spend() twice gave "
                                        f"{got}, expected [True, False] (2 x 0.5 is one token)", hint=B_ARGUMENTS)
    earn(6)
    got = spends(3)
    report.expect(got == [True, True, False], f"RetryBudget(ratio=0.5, cap=2), empty, then earn() six times: spend() "
                                              f"three times gave {got}, expected [True, True, False]", hint=B_CAP)


_BUDGET = "    budget = RetryBudget(ratio=0.1, cap=10)\n"
_SPEND_STOP = "\n              | (lambda state: not budget.spend())"

mistakes(
    "retries-budget",
    Mistake("never capped", (("self.tokens = min(self.cap, self.tokens + self.ratio)",
                              "self.tokens = self.tokens + self.ratio"),), B_CAP),
    Mistake("spent in the retry predicate, before it (a 400 or a 404 spends a token)",
            (("retry=tenacity.retry_if_exception(retryable),",
              "retry=tenacity.retry_if_exception(lambda err: budget.spend() and retryable(err)),"),
             (_SPEND_STOP, "")), B_SPEND_ORDER),
    Mistake("a new budget for every call", ((_BUDGET, ""), ("        budget.earn()",
                                                            "        budget = RetryBudget(ratio=0.1, cap=10)\n"
                                                             "        budget.earn()")), B_SHARED),
    Mistake("earned once per attempt", (("        budget.earn()\n", ""),
                                        ("policy(ask, world, model, prompt)",
                                         "policy(lambda: budget.earn() or ask(world, model, prompt))")), B_SHARED),
    Mistake("starts empty", (("self.ratio, self.cap, self.tokens = ratio, cap, cap",
                              "self.ratio, self.cap, self.tokens = ratio, cap, 0.0"),), B_START_FULL),
    Mistake("no slack for floating point", (("if self.tokens >= 1 - 1e-9:", "if self.tokens >= 1:"),), B_FLOAT),
    Mistake("stop_before_delay dropped from ask_all's stop",
            (("stop=(tenacity.stop_after_attempt(MAX_ATTEMPTS) | tenacity.stop_before_delay(DEADLINE_S)\n",
              "stop=(tenacity.stop_after_attempt(MAX_ATTEMPTS)\n"),), B_DEADLINE),
    Mistake("RetryBudget ignores its ratio and cap",
            (("self.ratio, self.cap, self.tokens = ratio, cap, cap",
              "self.ratio, self.cap, self.tokens = 0.1, 10.0, 10.0"),), B_ARGUMENTS),
    Mistake("starts one token short of cap",
            (("self.ratio, self.cap, self.tokens = ratio, cap, cap",
              "self.ratio, self.cap, self.tokens = ratio, cap, cap - 1"),), B_START_FULL),
    Mistake("catches only openai's errors", (("except (openai.APIError, anthropic.APIError):",
                                              "except openai.APIError:"),), B_NEVER_RAISES),
    Mistake("the budget as the only stop", (("stop=(tenacity.stop_after_attempt(MAX_ATTEMPTS) | "
                                             "tenacity.stop_before_delay(DEADLINE_S)" + _SPEND_STOP + ")",
                                             "stop=(lambda state: not budget.spend())"),), B_PER_CALL),
    Mistake("every API error retried", (("retry=tenacity.retry_if_exception(retryable),",
                                         "retry=tenacity.retry_if_exception_type((openai.APIError, "
                                         "anthropic.APIError)),"),),
            B_NO_4XX),
)
