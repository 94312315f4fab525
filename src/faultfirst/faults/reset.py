"""A connection reset before any answer, at the scenario's `reset_rate`: the SDK sees a connection error."""

from __future__ import annotations

from . import labels
from .kind import Refusal, RefusalFault, Stage

RESET = RefusalFault(name=labels.RESET, stage=Stage.CONNECT, refusal=Refusal.CONNECTION_RESET,
                     rate_field="reset_rate")
