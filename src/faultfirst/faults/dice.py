"""Each fault kind's own random streams, and one attempt's roll of them.

Every drawn kind has a stream of its own, `random.Random(f"{seed}:fault:{name}")`, and draws exactly
one die from it on every attempt, whatever else happens: whether it strikes, whether another fault
struck first, whether the attempt ever generates. So the n-th attempt's die of "overload" is the same
with or without any other kind registered, and adding, removing or re-rating one kind never shifts
another's draws (nor the committed notebooks' numbers that hang on them).

What a kind needs once it struck (where a stream is cut, how JSON is broken) comes from a second
stream of its own, `{seed}:fault:{name}:detail`, created on first use, so those draws shift no die.
A request for n > 1 choices rolls its extra choices from a `FaultDice` of their own
(`{seed}:choices:fault:{name}`), so asking for more choices shifts no attempt's draw either.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from .kind import Fault, RefusalFault, ReplyFault, ScenarioView, Stage, StreamFault


class FaultDice:
    """The streams of one world's fault kinds (or of its extra choices': `purpose="choices:fault"`)."""

    def __init__(self, seed: int, kinds: tuple[Fault, ...], *, purpose: str = "fault") -> None:
        self.kinds = kinds
        self.by_stage = {stage: tuple(k for k in kinds if k.stage is stage) for stage in Stage}  # asked every attempt
        self._prefix = f"{seed}:{purpose}"
        self._dice = {kind.name: random.Random(f"{self._prefix}:{kind.name}") for kind in kinds if kind.drawn}
        self._details: dict[str, random.Random] = {}

    def roll(self) -> Roll:
        """One attempt's dice: one draw from each drawn kind's stream."""
        return Roll(self, {name: rng.random() for name, rng in self._dice.items()})

    def detail(self, kind: Fault) -> random.Random:
        """The stream `kind` draws the details of a strike from, created on first use."""
        rng = self._details.get(kind.name)
        if rng is None:
            rng = self._details[kind.name] = random.Random(f"{self._prefix}:{kind.name}:detail")
        return rng


@dataclass(frozen=True)
class Roll:
    """One attempt's dice, and which kinds they make strike."""

    dice: FaultDice
    draws: Mapping[str, float]

    def refusals(self, stage: Stage, scenario: ScenarioView, provider: str, now: float) -> tuple[RefusalFault, ...]:
        """The refusals of `stage` that strike, in registration order (the first one answers)."""
        return tuple(k for k in self._struck(stage, scenario, provider, now) if isinstance(k, RefusalFault))

    def spoilers(self, scenario: ScenarioView, provider: str, now: float) -> tuple[ReplyFault, ...]:
        """The reply faults that strike, in registration order (each spoils what the one before left)."""
        return tuple(k for k in self._struck(Stage.REPLY, scenario, provider, now) if isinstance(k, ReplyFault))

    def breaks(self, scenario: ScenarioView, provider: str, now: float) -> tuple[StreamFault, ...]:
        """The stream faults that strike, in registration order (the first one cuts the stream)."""
        return tuple(k for k in self._struck(Stage.STREAM, scenario, provider, now) if isinstance(k, StreamFault))

    def _struck(self, stage: Stage, scenario: ScenarioView, provider: str, now: float) -> tuple[Fault, ...]:
        return tuple(kind for kind in self.dice.by_stage[stage]
                     if kind.strikes(self.draws.get(kind.name), scenario, provider, now))
