"""Route the sync SDKs' retry sleeps and jitter to the world that owns the client.

Both SDKs' sync clients wait between retries with `time.sleep` and draw their
back-off jitter from `random.random`, both looked up as globals of their
`_base_client` module (openai 3.x and anthropic 2.x: `_sleep_for_retry` and
`_calculate_retry_timeout`). We replace those two module globals with stand-ins
that look at the client making the call: a client whose HTTP transport belongs
to a simulated world sleeps on that world's clock and draws jitter from the
world's seeded stream; any other client gets the real `time.sleep` and
`random.random`, unchanged. Async clients need none of this: they sleep with
`anyio.sleep`, which the world's event loop already runs in virtual time.
"""

from __future__ import annotations

import random as _random
import sys
import time as _time
from types import FrameType, ModuleType
from typing import Any


def _world_of_caller(frame: FrameType | None) -> Any:
    """The world behind the SDK client whose method called us, or None."""
    client = frame.f_locals.get("self") if frame is not None else None
    http_client = getattr(client, "_client", None)
    transport = getattr(http_client, "_transport", None)
    return getattr(transport, "world", None)


class _TimeForSDK(ModuleType):
    """Stands in for `time` inside an SDK's `_base_client`; only `sleep` differs."""

    def __init__(self) -> None:
        super().__init__("time")

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        world = _world_of_caller(sys._getframe(1))
        if world is None:
            _time.sleep(seconds)
        else:
            world.clock.sleep(seconds)


def _random_for_sdk() -> float:
    world = _world_of_caller(sys._getframe(1))
    return _random.random() if world is None else world._sdk_jitter.random()


def install() -> None:
    """Idempotent: point both SDKs' `_base_client` at the routing stand-ins."""
    import anthropic._base_client
    import openai._base_client

    for module in (openai._base_client, anthropic._base_client):
        if not isinstance(module.time, _TimeForSDK):
            module.time = _TimeForSDK()
            module.random = _random_for_sdk
