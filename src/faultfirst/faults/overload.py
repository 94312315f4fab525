"""An overloaded provider, at the scenario's `overload_rate`: Anthropic's 529, OpenAI's 503.

It strikes after the rate limiter admitted the attempt, as a real API's capacity check comes after
its quota check; in a batch, it fails an item.
"""

from __future__ import annotations

from . import labels
from .kind import Refusal, RefusalFault, Stage

OVERLOAD = RefusalFault(name=labels.OVERLOAD, stage=Stage.ADMIT, refusal=Refusal.OVERLOADED,
                        rate_field="overload_rate")
