"""An outage: one provider answers every request with a server error during a window of the scenario.

It draws no die: the scenario's `outage` (provider, start, end) decides alone, so it strikes every
attempt to that provider inside the window and none outside.
"""

from __future__ import annotations

from . import labels
from .kind import Refusal, RefusalFault, ScenarioView, Stage


class _Outage(RefusalFault):
    def strikes(self, die: float | None, scenario: ScenarioView, provider: str, now: float) -> bool:
        window = scenario.outage
        return window is not None and window.provider == provider and window.start <= now < window.end

    def possible(self, scenario: ScenarioView) -> bool:
        return scenario.outage is not None


OUTAGE = _Outage(name=labels.OUTAGE, stage=Stage.CONNECT, refusal=Refusal.SERVER_ERROR, drawn=False)
