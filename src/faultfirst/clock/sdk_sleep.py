"""Route third-party sleeps and clocks to the world they serve: the SDKs' retries and tenacity's timing.

SDKs
----

Both SDKs' sync clients wait between retries with `time.sleep` and draw their
back-off jitter from `random.random`, both looked up as globals of their
`_base_client` module (openai 3.x and anthropic 2.x: `_sleep_for_retry` and
`_calculate_retry_timeout`). We replace those two module globals with stand-ins
that look at the client making the call: a client whose HTTP transport belongs
to a simulated world sleeps on that world's clock and draws jitter from the
world's seeded stream; any other client gets the real `time.sleep` and
`random.random`, unchanged. Async clients need none of this: they sleep with
`anyio.sleep`, which the world's event loop already runs in virtual time.

tenacity
--------
tenacity waits through the `sleep=` it is given (`world.clock.sleep`), but
measures elapsed time for `stop_after_delay` with `time.monotonic()`, a global
of its package. The stand-in answers with the world's clock when the caller is
a tenacity object whose `sleep` is a world clock's, or when the code runs on a
world's virtual-time loop (`AsyncRetrying` under `world.run`); otherwise with
the real monotonic clock.
"""

from __future__ import annotations

import asyncio
import importlib
import random as _random
import sys
import time as _time
from types import FrameType, ModuleType
from typing import Any

from .loop import VirtualTimeLoop
from .virtual import Clock

# The module of each SDK whose `time` and `random` globals its retry loop uses: one per provider SDK
# (an OpenAI-compatible provider reached through the `openai` SDK needs no entry of its own).
SDK_BASE_CLIENTS = ("openai._base_client", "anthropic._base_client")


def _session_of_caller(frame: FrameType | None) -> Any:
    """The world's session (`service/session.py`) behind the SDK client whose method called us, or None."""
    client = frame.f_locals.get("self") if frame is not None else None
    http_client = getattr(client, "_client", None)
    transport = getattr(http_client, "_transport", None)
    return getattr(transport, "session", None)


class _TimeStandIn(ModuleType):
    """A `time` module look-alike: everything not overridden is the real `time`'s."""

    def __init__(self) -> None:
        super().__init__("time")

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


class _TimeForSDK(_TimeStandIn):
    """Stands in for `time` inside an SDK's `_base_client`; only `sleep` differs."""

    @staticmethod
    def sleep(seconds: float) -> None:
        session = _session_of_caller(sys._getframe(1))
        if session is None:
            _time.sleep(seconds)
        else:
            session.clock.sleep(seconds)


def _random_for_sdk() -> float:
    session = _session_of_caller(sys._getframe(1))
    return _random.random() if session is None else session.sdk_jitter.random()


class _TimeForTenacity(_TimeStandIn):
    """Stands in for `time` inside tenacity; only `monotonic` differs."""

    @staticmethod
    def monotonic() -> float:
        local = sys._getframe(1).f_locals
        caller = local.get("self")
        # Retrying.begin (self is the Retrying); RetryCallState.__init__ (retry_object is still a local);
        # RetryCallState.set_result / set_exception (self.retry_object).
        for retrying in (local.get("retry_object"), getattr(caller, "retry_object", None), caller):
            clock = getattr(getattr(retrying, "sleep", None), "__self__", None)
            if isinstance(clock, Clock):
                return clock.now()
        loop = asyncio._get_running_loop()
        if isinstance(loop, VirtualTimeLoop):
            return loop.time()
        return _time.monotonic()


def install() -> None:
    """Idempotent: point every SDK's `_base_client` (`SDK_BASE_CLIENTS`), and tenacity, at the routing stand-ins."""
    import tenacity

    # The SDKs import `time` and `random` as private module globals (no re-export, hence the ignores).
    for module in map(importlib.import_module, SDK_BASE_CLIENTS):
        if not isinstance(module.time, _TimeForSDK):
            module.time = _TimeForSDK()  # type: ignore[attr-defined]
            module.random = _random_for_sdk  # type: ignore[attr-defined]
    if not isinstance(tenacity.time, _TimeForTenacity):
        tenacity.time = _TimeForTenacity()
