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

from .kind import Fault, QuoteFault, RefusalFault, ReplyFault, ScenarioView, Stage, StreamFault


class FaultDice:
    """The streams of one world's fault kinds (or of its extra choices': `purpose="choices:fault"`)."""

    def __init__(self, seed: int, kinds: tuple[Fault, ...], *, purpose: str = "fault") -> None:
        self.kinds = kinds
        self.by_stage = {stage: tuple(k for k in kinds if k.stage is stage) for stage in Stage}  # asked every attempt
        self._prefix = f"{seed}:{purpose}"
        self._dice = {kind.name: random.Random(f"{self._prefix}:{kind.name}") for kind in kinds if kind.drawn}
        self._draws = tuple((kind.name, rng.random) for kind in kinds if kind.drawn for rng in (self._dice[kind.name],))
        self._details: dict[str, random.Random] = {}
        self._scenario: ScenarioView | None = None
        self._candidates: dict[Stage, tuple[Fault, ...]] = {}

    def candidates(self, stage: Stage, scenario: ScenarioView) -> tuple[Fault, ...]:
        """The kinds of `stage` that can strike in `scenario`: a kind at rate 0 cannot, unless it decides by
        something else than its die (an outage's window). Every attempt asks; a world's scenario is fixed, so
        the answer is worked out once per scenario (the dice are drawn all the same)."""
        if scenario is not self._scenario:
            self._scenario = scenario
            self._candidates = {
                s: tuple(k for k in kinds if type(k).strikes is not Fault.strikes or k.rate(scenario) > 0)
                for s, kinds in self.by_stage.items()}
        return self._candidates[stage]

    def roll(self) -> Roll:
        """One attempt's dice: one draw from each drawn kind's stream."""
        return Roll(self, {name: draw() for name, draw in self._draws})

    def detail(self, kind: Fault) -> random.Random:
        """The stream `kind` draws the details of a strike from, created on first use."""
        rng = self._details.get(kind.name)
        if rng is None:
            rng = self._details[kind.name] = random.Random(f"{self._prefix}:{kind.name}:detail")
        return rng


class Roll:
    """One attempt's dice, and which kinds they make strike. (A plain class: one is made per attempt, and most
    attempts see no fault strike, so each question returns () before building anything.)"""

    __slots__ = ("dice", "draws")

    def __init__(self, dice: FaultDice, draws: Mapping[str, float]) -> None:
        self.dice, self.draws = dice, draws

    def refusals(self, stage: Stage, scenario: ScenarioView, provider: str, now: float) -> tuple[RefusalFault, ...]:
        """The refusals of `stage` that strike, in registration order (the first one answers)."""
        struck = self._struck(stage, scenario, provider, now)
        return tuple(k for k in struck if isinstance(k, RefusalFault)) if struck else ()

    def quoters(self, scenario: ScenarioView) -> tuple[tuple[QuoteFault, float], ...]:
        """The citation faults `scenario` rates, each with its die: whether one strikes depends on the reply's
        quotes and the model (`QuoteFault.chance`), known only once the model has answered."""
        kinds = self.dice.candidates(Stage.QUOTE, scenario)
        return tuple((k, self.draws[k.name]) for k in kinds if isinstance(k, QuoteFault)) if kinds else ()

    def spoilers(self, scenario: ScenarioView, provider: str, now: float) -> tuple[ReplyFault, ...]:
        """The reply faults that strike, in registration order (each spoils what the one before left)."""
        struck = self._struck(Stage.REPLY, scenario, provider, now)
        return tuple(k for k in struck if isinstance(k, ReplyFault)) if struck else ()

    def breaks(self, scenario: ScenarioView, provider: str, now: float) -> tuple[StreamFault, ...]:
        """The stream faults that strike, in registration order (the first one cuts the stream)."""
        struck = self._struck(Stage.STREAM, scenario, provider, now)
        return tuple(k for k in struck if isinstance(k, StreamFault)) if struck else ()

    def _struck(self, stage: Stage, scenario: ScenarioView, provider: str, now: float) -> tuple[Fault, ...]:
        kinds = self.dice.candidates(stage, scenario)
        if not kinds:
            return ()
        return tuple(kind for kind in kinds if kind.strikes(self.draws.get(kind.name), scenario, provider, now))
