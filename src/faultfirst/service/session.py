"""The narrow part of a world that carries its traffic: what a transport, live mode or the server needs.

A `World` is the learner's object: clients, hooks, limits, `run`. Its transports need much less - the
clock that says when things happen, the engine that decides each attempt, the spend ledger that admits
and bills it, the request log, the catalogue and the event loop async clients must run on. Giving them
this session instead of the World keeps the layers honest (transports sit below the world and import
nothing of it) and lists in one place everything a new transport may touch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx2

from ..clock.loop import LoopRunner
from ..clock.virtual import Clock
from ..model.catalog import Catalog
from .engine import SimulatedAPI
from .outcome import Outcome
from .records import RequestRecord
from .spend import SpendLedger


@dataclass
class Session:
    """One world's traffic: its clock, engine, spend ledger, request log, catalogue and loop.

    `sdk_jitter` is the stream the SDKs' retry jitter draws from when their sleeps are routed to this
    world (clock/sdk_sleep.py finds a client's session through its transport). `clock` is replaceable
    (`faultfirst serve` runs a world on a real-time clock); everything else is fixed when the world is made.
    """

    clock: Clock
    api: SimulatedAPI
    spend: SpendLedger
    requests: list[RequestRecord]
    catalog: Catalog
    runner: LoopRunner
    sdk_jitter: random.Random

    def plan(self, provider: str, request: httpx2.Request) -> tuple[Outcome, float]:
        """Admit the request past the spend cap, let the engine decide it, and settle the hold: (outcome, arrival).

        The engine bills a call when it plans it, so the call's hold on the cap can go at once; an
        accepted batch keeps its hold until its items are billed.
        """
        hold = self.spend.admit(request)
        arrival = self.clock.now()
        outcome = self.api.plan(provider, request, arrival)
        self.spend.settle(hold, request, None if outcome.failure else outcome.status, outcome.body)
        return outcome, arrival
