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

A die is drawn when it is first read, not when the attempt is rolled: a kind that cannot strike in the
world's scenario (rate 0, as most are in most scenarios) is never asked, and its stream catches up (draws
the dice it skipped) only if it ever is. The n-th attempt's die is the n-th draw of the stream either way;
what laziness saves is a dozen draws on each of the many attempts that no fault can touch.
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
        self._drawn = dict.fromkeys(self._dice, 0)  # how many dice each stream has given
        self._rolls = 0  # attempts rolled
        self._details: dict[str, random.Random] = {}
        self._scenario: ScenarioView | None = None
        self._candidates: dict[Stage, tuple[Fault, ...]] = {}

    def candidates(self, stage: Stage, scenario: ScenarioView) -> tuple[Fault, ...]:
        """The kinds of `stage` that can strike in `scenario` (`Fault.possible`: a kind at rate 0 cannot; an
        outage can when the scenario has its window). Every attempt asks; a world's scenario is fixed, so the
        answer is worked out once per scenario (the dice of the others are still drawn, when first read)."""
        if scenario is not self._scenario:
            self._scenario = scenario
            self._candidates = {stage: tuple(k for k in kinds if k.possible(scenario))
                                for stage, kinds in self.by_stage.items()}
        return self._candidates[stage]

    def roll(self) -> Roll:
        """One attempt's dice: one draw from each drawn kind's stream, made when the roll is read."""
        self._rolls += 1
        return Roll(self, self._rolls)

    def die(self, name: str, attempt: int) -> float | None:
        """The `attempt`-th draw (counting from 1) of kind `name`'s stream, drawing the ones skipped before it
        (None for a kind that draws no die, such as an outage)."""
        drawn = self._drawn.get(name)
        if drawn is None:
            return None
        if drawn >= attempt:
            raise RuntimeError(f"the die of {name!r} for attempt {attempt} was passed over: read an attempt's roll "
                               f"before rolling the next one")
        draw = self._dice[name].random
        for _ in range(attempt - drawn - 1):
            draw()
        self._drawn[name] = attempt
        return draw()

    def detail(self, kind: Fault) -> random.Random:
        """The stream `kind` draws the details of a strike from, created on first use."""
        rng = self._details.get(kind.name)
        if rng is None:
            rng = self._details[kind.name] = random.Random(f"{self._prefix}:{kind.name}:detail")
        return rng


class Roll:
    """One attempt's dice, and which kinds they make strike. (A plain class: one is made per attempt, and most
    attempts see no fault strike, so each question returns () before building anything.)"""

    __slots__ = ("dice", "attempt", "_read")

    def __init__(self, dice: FaultDice, attempt: int) -> None:
        self.dice, self.attempt = dice, attempt
        self._read: dict[str, float] = {}

    def die(self, name: str) -> float | None:
        """Kind `name`'s die for this attempt (None for a kind that draws none, such as an outage)."""
        value = self._read.get(name)
        if value is None and (value := self.dice.die(name, self.attempt)) is not None:
            self._read[name] = value
        return value

    @property
    def draws(self) -> Mapping[str, float]:
        """Every drawn kind's die for this attempt, by name."""
        return {k.name: self._drawn_die(k.name) for k in self.dice.kinds if k.drawn}

    def refusals(self, stage: Stage, scenario: ScenarioView, provider: str, now: float) -> tuple[RefusalFault, ...]:
        """The refusals of `stage` that strike, in registration order (the first one answers)."""
        struck = self._struck(stage, scenario, provider, now)
        return tuple(k for k in struck if isinstance(k, RefusalFault)) if struck else ()

    def quoters(self, scenario: ScenarioView) -> tuple[tuple[QuoteFault, float], ...]:
        """The citation faults `scenario` rates, each with its die: whether one strikes depends on the reply's
        quotes and the model (`QuoteFault.chance`), known only once the model has answered."""
        kinds = self.dice.candidates(Stage.QUOTE, scenario)
        return tuple((k, self._drawn_die(k.name)) for k in kinds if isinstance(k, QuoteFault)) if kinds else ()

    def _drawn_die(self, name: str) -> float:
        die = self.die(name)
        assert die is not None, f"{name} draws no die"  # asked only of drawn kinds (citation faults all are)
        return die

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
        if not kinds:  # most attempts of most scenarios: no kind can strike at this stage
            return ()
        return tuple(kind for kind in kinds if kind.strikes(self.die(kind.name), scenario, provider, now))
