"""`World`: one simulated model API, with its clock, its faults and its log."""

from __future__ import annotations

import asyncio
import math
import operator
import os
import random
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, SupportsIndex, TypeVar

import httpx2
from anthropic import Anthropic, AsyncAnthropic
from openai import AsyncOpenAI, OpenAI

from .clock import sdk_sleep
from .clock.limits import Limits
from .clock.loop import LoopRunner
from .clock.virtual import Clock, RealTimeClock
from .live.keys import api_key
from .live.recording import Recorder
from .live.transport import AsyncLiveTransport, LiveTransport
from .model.catalog import CATALOG, Catalog
from .model.fixtures import FixtureSet, _parse_entry, default_fixtures, load_fixtures
from .model.responders import Responders
from .model.scripted import ResponderFunction, ScriptedResponder
from .service.attempts import Attempt, Hook, HookHandle
from .service.engine import SimulatedAPI
from .service.records import RequestRecord
from .service.scenarios import Scenario, scenario_named
from .service.session import Session
from .service.spend import SpendLedger
from .transports.simulated import AsyncWorldTransport, WorldTransport

T = TypeVar("T")

# Not a key: the SDKs insist on one, and this makes it plain that nothing real is used.
_SIMULATED_KEY = "faultfirst-simulated-no-key-needed"
DEFAULT_LIVE_CAP_USD = 2.00


def _live_from_environment() -> bool:
    """Live mode only when FAULTFIRST_LIVE says so explicitly; a key in the environment is not enough."""
    value = os.environ.get("FAULTFIRST_LIVE", "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"FAULTFIRST_LIVE={value!r}: use 1 to run against the real APIs, or unset it")


def _recording_from_environment() -> str | None:
    """FAULTFIRST_RECORD=path makes every live world record (how lessons' fixtures are refreshed in one run)."""
    return os.environ.get("FAULTFIRST_RECORD", "").strip() or None


class World:
    """A simulated model API that the real `openai` and `anthropic` SDKs talk to.

    Everything is deterministic for a given `seed` and sequence of calls, and
    nothing waits in real time: latency, retries and `asyncio.sleep` move the
    world's virtual `clock`. Every attempt lands in `world.requests`. With
    `spend_cap_usd`, a call whose worst case would take spending past the cap
    is refused before it is sent (`SpendCapExceeded`).

    Live mode (`live=True`, or `FAULTFIRST_LIVE=1` in the environment; never
    the mere presence of a key) keeps the same shape in front of the real APIs:
    real time, real replies, keys from the environment or `.env`, a spend cap
    of $2.00 unless given (DEFAULT_LIVE_CAP_USD), and the scenario's faults injected
    locally. `record_to` (live only; or FAULTFIRST_RECORD=path in the
    environment) saves each real exchange as a fixture the simulated world
    replays. `fixtures` loads extra fixture files (or folders) ahead of the
    package's own, for a simulated world that replays a recording.

    `responder` scripts the model's reply with a plain function, for a lesson, check or test that needs the
    model to say something particular (pydantic-ai's `FunctionModel` does the same for agents). It is asked
    first, before fixtures and the built-in behaviour: it gets a read-only `faultfirst.ModelRequest`
    (provider, model, system, messages, user, max_tokens, schema) and returns a str (one text block), a
    tuple of str (several blocks), or None to let the world's own model answer. Only the text is scripted:
    the scenario's faults, latency, token counts, usage and cost, max_tokens truncation, streaming and stop
    sequences apply to it as to any reply. A responder that raises, or returns anything else, stops the call
    with `faultfirst.ResponderFailed` (a BaseException, so the SDK does not retry it as a connection error),
    what went wrong as its cause. Simulated worlds only.
    """

    def __init__(self, *, seed: SupportsIndex = 0, scenario: str | Scenario = "calm",
                 spend_cap_usd: float | None = None, live: bool | None = None,
                 record_to: str | os.PathLike[str] | None = None,
                 fixtures: str | os.PathLike[str] | list[str | os.PathLike[str]] | None = None,
                 responder: ResponderFunction | None = None) -> None:
        if isinstance(seed, bool) or not hasattr(type(seed), "__index__"):
            raise TypeError(f"seed must be an int, such as World(seed=7); got {type(seed).__name__} {seed!r}")
        self.seed: int = operator.index(seed)  # numpy's integers too, as plain ints (seeds go into strings)
        if spend_cap_usd is not None and not (isinstance(spend_cap_usd, (int, float)) and spend_cap_usd >= 0):
            raise ValueError(f"spend_cap_usd must be a non-negative number of dollars or None, got {spend_cap_usd!r}")
        self.live = _live_from_environment() if live is None else bool(live)
        if record_to is not None and not self.live:
            raise ValueError("record_to saves real replies, so it needs live mode: World(live=True, record_to=...)")
        if responder is not None and self.live:
            raise ValueError("responder scripts the simulated model; a live world's replies come from the real API. "
                             "Use World(live=False, responder=...)")
        lead = ScriptedResponder(responder) if responder is not None else None
        if record_to is None and self.live:
            record_to = _recording_from_environment()
        self.spend_cap_usd = DEFAULT_LIVE_CAP_USD if self.live and spend_cap_usd is None else spend_cap_usd
        self.scenario: Scenario = scenario_named(scenario)
        clock: Clock = RealTimeClock() if self.live else Clock()
        self.catalog: Catalog = CATALOG
        self.requests: list[RequestRecord] = []
        self._spend = SpendLedger(lambda: self.spend_cap_usd, self.catalog, self.requests)
        self._api = SimulatedAPI(seed=self.seed, scenario=self.scenario, catalog=self.catalog, log=self.requests,
                                 responders=Responders(_fixtures_for(fixtures), lead), spend=self._spend)
        self._recorder = Recorder(Path(record_to)) if record_to is not None else None
        self._runner = LoopRunner(clock)
        # What the transports get: the world's traffic, not the world (see service/session.py).
        self._session = Session(clock, self._api, self._spend, self.requests, self.catalog, self._runner,
                                sdk_jitter=random.Random(f"{self.seed}:sdk-jitter"))
        sdk_sleep.install()

    def __repr__(self) -> str:
        mode = ", live" if self.live else ""
        return (f"World(seed={self.seed}, scenario={self.scenario.name!r}{mode}, "
                f"t={self.clock.now():.3f}s, requests={len(self.requests)})")

    @property
    def clock(self) -> Clock:
        """The world's clock: virtual (`Clock`) in a simulated world, real time in a live one."""
        return self._session.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        # `faultfirst serve` runs a simulated world on a RealTimeClock; its transports follow.
        self._session.clock = clock

    # -- clients --------------------------------------------------------------------------------------

    def openai(self, **client_kwargs: Any) -> OpenAI:
        """A real `openai.OpenAI` client wired to this world (`max_retries=0` unless given)."""
        transport = self._transport("openai")
        return OpenAI(**self._client_kwargs("openai", client_kwargs, httpx2.Client(transport=transport)))

    def anthropic(self, **client_kwargs: Any) -> Anthropic:
        """A real `anthropic.Anthropic` client wired to this world (`max_retries=0` unless given)."""
        transport = self._transport("anthropic")
        http = httpx2.Client(transport=transport)
        return Anthropic(**self._client_kwargs("anthropic", client_kwargs, http))

    def async_openai(self, **client_kwargs: Any) -> AsyncOpenAI:
        """A real `openai.AsyncOpenAI` client; use it inside `world.run(...)`."""
        transport = self._async_transport("openai")
        http = httpx2.AsyncClient(transport=transport)
        return _without_platform_thread(AsyncOpenAI(**self._client_kwargs("openai", client_kwargs, http)))

    def async_anthropic(self, **client_kwargs: Any) -> AsyncAnthropic:
        """A real `anthropic.AsyncAnthropic` client; use it inside `world.run(...)`."""
        transport = self._async_transport("anthropic")
        http = httpx2.AsyncClient(transport=transport)
        client = AsyncAnthropic(**self._client_kwargs("anthropic", client_kwargs, http))
        return _without_platform_thread(client)

    def _transport(self, provider: str) -> httpx2.BaseTransport:
        if self.live:
            return LiveTransport(self._session, provider, recorder=self._recorder)
        return WorldTransport(self._session, provider)

    def _async_transport(self, provider: str) -> httpx2.AsyncBaseTransport:
        if self.live:
            return AsyncLiveTransport(self._session, provider, recorder=self._recorder)
        return AsyncWorldTransport(self._session, provider)

    def _client_kwargs(self, provider: str, given: dict[str, Any], http_client: Any) -> dict[str, Any]:
        if "http_client" in given:
            raise TypeError("a world supplies its own http_client; pass other client options only")
        key = api_key(provider) if self.live and "api_key" not in given else _SIMULATED_KEY
        return {"api_key": key, "max_retries": 0, **given, "http_client": http_client}

    # -- watching and bounding --------------------------------------------------------------------------

    def on_attempt(self, *, before: Hook | None = None, after: Hook | None = None) -> HookHandle:
        """Call `before(attempt)` as each attempt arrives and `after(attempt)` once the world has answered it.

        The public way to watch or script the wire, so checks and tests need none of the engine's parts.
        Each gets an `Attempt` (provider, the `httpx2.Request` as sent, its JSON, the virtual time; after
        the decision also the record, status, headers and body). `before` may make more requests through
        this world: they arrive, are answered and are logged before this one, as concurrent requests would
        be. `after` may replace the reply with `attempt.answer(status, message)`. Hooks run in the order
        they were added, on every attempt of every client of this world (batch items excepted: a batch is
        one attempt). The world's own draws are the same with hooks as without.

        A hook that raises stops the call being made with `HookFailed` (a BaseException, so the SDK does not
        retry it as a connection error), the hook's exception as its cause. Returns a handle: `.remove()`
        it, or use it in a `with` block to remove it on exit.
        """
        return self._api.hooks.add(before, after)

    @contextmanager
    def watching(self) -> Iterator[list[Attempt]]:
        """`with world.watching() as attempts:` every attempt answered inside the block, in order, as `Attempt`s."""
        attempts: list[Attempt] = []
        with self.on_attempt(after=attempts.append):
            yield attempts

    def limits(self, *, max_attempts: int | None = None, max_seconds: float | None = None) -> LimitsSwitch:
        """Bound this world: past either bound, the code running in it gets `Runaway`.

        What a check puts around learner code, so that an endless retry loop stops (`Runaway` is a
        BaseException, which `except Exception:` cannot swallow). `max_attempts` counts every attempt in
        `world.requests`, `max_seconds` is virtual time since the world began; a bound left out is no bound,
        and `world.limits()` with neither lifts them (to clean up after a runaway). The bounds hold from this
        call on; used as `with world.limits(...):`, the bounds in force before come back on exit, even by an
        exception, so blocks nest. `active_limits` says what holds now.
        """
        return LimitsSwitch(self, _bounds(max_attempts, max_seconds))

    @property
    def active_limits(self) -> Limits | None:
        """The bounds in force (`max_attempts`, `max_seconds`), or None: see `limits`."""
        return self._api.limits

    def _set_limits(self, bounds: Limits | None) -> None:
        self.clock.limits = self._api.limits = bounds

    def script_reply(self, reply: str | tuple[str, ...], **match: str) -> None:
        """Answer requests that match with `reply`, ahead of the world's fixtures and its own behaviour
        (a `responder=` function still comes first).

        A fixture added in code, for one world: `reply` is the text (a tuple of strings: one text block each),
        `match` the conditions a fixture file's "match" takes (`contains=`, `equals=`, `system_contains=`,
        `provider=`, `model=`; at least one about the text). For when a check or test needs the model to say
        one exact thing that a fixture file would make every world say.
        """
        entry = _parse_entry({"match": match, "reply": list(reply) if isinstance(reply, tuple) else reply},
                             "world.script_reply")
        self._api.responders = self._api.responders.with_fixtures_first(FixtureSet((entry,)))

    # -- time ---------------------------------------------------------------------------------------------

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run a coroutine on the world's virtual-time event loop and return its result.

        Works in scripts and inside Jupyter (where a loop is already running):
        the world's loop runs in a thread of its own while this call waits.
        """
        return self._runner.run(awaitable)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The world's virtual-time event loop (as `asyncio.Runner.get_loop()` gives a runner's).

        For what concerns the loop itself: `set_exception_handler`, `is_running()`. Run coroutines on it with
        `world.run(...)`, which works from any thread and under Jupyter.
        """
        return self._runner.loop

    # -- closing ----------------------------------------------------------------------------------------

    def close(self) -> None:
        """End the thread that runs this world's event loop, and close the loop. Idempotent.

        Optional: a world that is simply dropped ends its thread when it is collected. Close it (or use
        `with World(...) as world:`) where a long-running process makes many worlds and wants their threads
        gone at a known moment. A closed world keeps its log and clock; `run` then raises.
        """
        self._runner.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LimitsSwitch:
    """The bounds `World.limits` set: in force at once; as a context manager, the previous ones come back on exit."""

    def __init__(self, world: World, bounds: Limits | None) -> None:
        self.world, self.bounds, self.previous = world, bounds, world.active_limits
        world._set_limits(bounds)

    def __enter__(self) -> Limits | None:
        return self.bounds

    def __exit__(self, *exc_info: object) -> None:
        self.world._set_limits(self.previous)


def _bounds(max_attempts: int | None, max_seconds: float | None) -> Limits | None:
    """Validated bounds for `World.limits` (None: no bounds at all)."""
    if max_attempts is not None and (isinstance(max_attempts, bool) or not isinstance(max_attempts, int)
                                     or max_attempts < 0):
        raise ValueError(f"max_attempts must be a whole number of attempts (0 or more) or None, got {max_attempts!r}")
    if max_seconds is not None and (isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float))
                                    or not max_seconds >= 0):
        raise ValueError(f"max_seconds must be a number of virtual seconds (0 or more) or None, got {max_seconds!r}")
    if max_attempts is None and max_seconds is None:
        return None
    return Limits(math.inf if max_attempts is None else max_attempts,  # type: ignore[arg-type]
                  math.inf if max_seconds is None else float(max_seconds))


def _fixtures_for(extra: str | os.PathLike[str] | list[str | os.PathLike[str]] | None) -> FixtureSet:
    """The package's fixtures, after any the caller gave (first match wins, so theirs take precedence)."""
    if extra is None:
        return default_fixtures()
    paths = [Path(p) for p in (extra if isinstance(extra, list) else [extra])]
    return FixtureSet(load_fixtures(*paths).entries + default_fixtures().entries)


def _without_platform_thread(client: T) -> T:
    """Fill in the platform headers the async SDKs would otherwise look up in a worker thread.

    Both async clients call `asyncify(get_platform)` on their first request
    (openai/_base_client.py, anthropic/_base_client.py). A thread hop inside
    the virtual-time loop would let timers fire while the thread runs, which
    makes runs differ; computing it here, synchronously, avoids the hop.
    """
    module = __import__(type(client).__module__.split(".")[0])._base_client
    client._platform = module.get_platform()  # type: ignore[attr-defined]
    return client
