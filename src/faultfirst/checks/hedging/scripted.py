"""Scripted attempts for hedging-call: fakes that sleep a set number of virtual seconds, then answer or raise.

A `Script` is the `attempt` the learner's `hedged` receives; each call of it is a `ScriptedAttempt` whose
start, end and outcome the check reads afterwards. `call_once` awaits the learner's function once and notes
what it left running, telling a task never cancelled from one cancelled but not awaited.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from ...clock.limits import Runaway
from .._async import NotAsync, cancel_and_wait, require_awaitable

MODEL = "gpt-fast"
PROMPT = "Summarise in a few sentences why a search page should not wait for a slow model call."
MAX_TOKENS = 300
REPLY_TOKENS = 80  # how long a modelled reply is, for attempts timed by the latency model
EPS = 1e-6
WATCHDOG = 600.0  # virtual seconds one call may take before it is stopped (none needs more than a minute)


# -- reference implementations ------------------------------------------------------------------------------------

async def reference_hedged(attempt: Callable[[], Any], *, delay: float) -> Any:
    """What a correct `hedged` does (the lesson's solution)."""
    tasks = [asyncio.ensure_future(attempt())]
    try:
        done, _ = await asyncio.wait(tasks, timeout=delay)
        if not done or tasks[0].exception() is not None:
            tasks.append(asyncio.ensure_future(attempt()))
        error: BaseException | None = None
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is None:
                    return task.result()
                error = task.exception()
        assert error is not None
        raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# -- scripted attempts ------------------------------------------------------------------------------------------------

def connection_error() -> openai.APIConnectionError:
    return openai.APIConnectionError(request=httpx2.Request("POST", "https://api.openai.com/v1/chat/completions"))


def overloaded_error() -> openai.InternalServerError:
    request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")
    body = {"error": {"message": "The server is overloaded.", "type": "server_error"}}
    return openai.InternalServerError("Error code: 503", response=httpx2.Response(503, request=request, json=body),
                                      body=body)


Plan = tuple[float, BaseException | None]  # (seconds, the exception it raises then, or None to answer)


@dataclass
class ScriptedAttempt:
    start: float | None = None  # None: the coroutine was created but never ran
    end: float | None = None
    outcome: str = "never ran"  # 'running', 'answered', 'failed', 'cancelled'
    planned: float = math.inf  # how long it would have taken, had nobody cancelled it (scripted attempts)


@dataclass(frozen=True)
class Answer:
    """What a scripted attempt returns: a value whose identity says which attempt answered."""

    number: int

    def __repr__(self) -> str:
        return f"<answer of attempt {self.number}>"


class Guard:
    """Stops a function that starts attempts without end, even one that swallows the exceptions of its tasks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.tripped = False
        self.driver: asyncio.Task[Any] | None = None

    def count(self, started: int) -> None:
        if started > self.limit:
            self.tripped = True
            if self.driver is not None:
                self.driver.cancel()
            raise Runaway(f"started more than {self.limit} attempts")


@dataclass
class Script:
    """A fake `attempt`: the i-th call sleeps plan[i][0] virtual seconds, then answers or raises plan[i][1].

    Past the end of `plan`, `draw(now, i)` gives the next attempt's plan (by default a 1,000 s answer).
    """

    plan: list[Plan]
    draw: Callable[[float, int], Plan] | None = None
    guard: Guard | None = None
    attempts: list[ScriptedAttempt] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)  # an Answer each; a real call's completion in real worlds
    errors: list[BaseException] = field(default_factory=list)
    at_return: list[str] = field(default_factory=list)  # each attempt's outcome when the function returned

    def snapshot(self) -> None:
        self.at_return = [a.outcome for a in self.attempts]

    def __call__(self) -> Any:
        i = len(self.attempts)
        if self.guard is not None:
            self.guard.count(i + 1)
        state = ScriptedAttempt()
        self.attempts.append(state)
        answer = Answer(i + 1)
        self.answers.append(answer)
        planned = self.plan[i] if i < len(self.plan) else None

        async def run() -> Answer:
            loop = asyncio.get_running_loop()
            state.start, state.outcome = loop.time(), "running"
            latency, error = planned if planned is not None else (
                self.draw(state.start, i) if self.draw is not None else (1_000.0, None))
            state.planned = latency
            try:
                await asyncio.sleep(latency)
            except asyncio.CancelledError:
                state.end, state.outcome = loop.time(), "cancelled"
                raise
            state.end = loop.time()
            if error is not None:
                state.outcome = "failed"
                self.errors.append(error)
                raise error
            state.outcome = "answered"
            return answer

        return run()


@dataclass
class Run:
    """How one call of the learner's function ended, seen from the caller."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False  # the case's own deadline (asyncio.timeout around the call) fired
    hung: bool = False  # it had not returned after WATCHDOG virtual seconds
    began: float = 0.0
    finished_at: float = 0.0
    left_cancelling: int = 0  # tasks it started that were asked to cancel but had not finished when it returned
    left_uncancelled: int = 0  # tasks it started that nobody had cancelled, still running when it returned


async def call_once(fn: Callable[..., Any], attempt: Callable[[], Any], delay: float, *,
                    deadline: float | None = None, on_return: Callable[[], None] | None = None) -> Run:
    """Await the learner's function once; note what it left running; then cancel and await that, to clean up."""
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    before = {t for t in asyncio.all_tasks() if t is not me}
    run = Run(began=loop.time())
    try:
        async with asyncio.timeout(WATCHDOG) as watchdog:
            try:
                if deadline is None:
                    run.value = await _learner_coroutine(fn(attempt, delay=delay))
                else:
                    async with asyncio.timeout(deadline):
                        run.value = await _learner_coroutine(fn(attempt, delay=delay))
            except TimeoutError:
                if deadline is None or watchdog.expired():
                    raise
                run.timed_out = True
    except (NotImplementedError, NotAsync):
        raise
    except TimeoutError as err:
        run.hung = watchdog.expired()
        run.error = err
    except asyncio.CancelledError as err:
        if me is not None and me.cancelling():
            raise  # this task was cancelled (a guard stopping a runaway): not the learner's
        run.error = err  # the learner's own: a task it cancelled, re-raised by an await or a gather
    except Exception as err:
        run.error = err
    run.finished_at = loop.time()
    leftover = [t for t in asyncio.all_tasks() if t is not me and t not in before and not t.done()]
    run.left_cancelling = sum(t.cancelling() > 0 for t in leftover)
    run.left_uncancelled = len(leftover) - run.left_cancelling
    if on_return is not None:
        on_return()
    await cancel_and_wait(leftover)
    return run


def _learner_coroutine(value: Any) -> Any:
    return require_awaitable(value, f"calling it returned {type(value).__name__}, not a coroutine: write it as "
                                    "`async def`")


def describe(script: Script, began: float = 0.0) -> str:
    parts = []
    for i, a in enumerate(script.attempts, 1):
        then = script.at_return[i - 1] if i <= len(script.at_return) else a.outcome
        if a.start is None:
            parts.append(f"attempt {i} was created but never awaited")
        elif then == "running":
            parts.append(f"attempt {i} started at t={a.start - began:g}, still running when the function returned")
        else:
            parts.append(f"attempt {i} started at t={a.start - began:g}, {then} at t={(a.end or 0) - began:g}")
    return "; ".join(parts) if parts else "no attempt was started"

