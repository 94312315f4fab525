"""What a kind of fault is: its name, the stage of an attempt where it strikes, and its rate.

The engine (service/engine.py) never names a fault. It asks the registered kinds (faults/registry.py),
stage by stage, which of them strike this attempt, and applies each through the one effect its
stage has: a refusal before generation, a spoiled structured reply, a stream cut short. A new kind
of an existing stage is therefore a module here and one line in the registry; a kind that needs a
new effect needs the engine to learn it.

This layer imports nothing of the service above it, so a scenario is seen through `ScenarioView`:
what a fault may read of the `Scenario` it strikes in.
"""

from __future__ import annotations

import dataclasses
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from ..model.citation_profile import fault_rate
from ..model.prompt import Cited, Quote
from . import labels


class Stage(Enum):
    """Where in an attempt a fault strikes, in the order an attempt meets them."""

    CONNECT = "connect"  # before the rate limiter: the provider is down, or the connection fails
    ADMIT = "admit"  # the rate limiter let it by, and the provider refuses it before generating
    QUOTE = "quote"  # a quote of a grounded answer (in prose, or a rigid claim) is misquoted or misattributed
    REPLY = "reply"  # the reply's structured text (JSON output, a tool call's arguments) is spoiled
    STREAM = "stream"  # a stream fails after it started

    # Every attempt looks its stages' kinds up by stage; a member is its own only instance, so identity hashes
    # it correctly, in C (Enum's own __hash__ is Python code hashing the member's name).
    __hash__ = object.__hash__


class Refusal(Enum):
    """How a fault before generation answers, in the provider's own shape (the engine renders it)."""

    SERVER_ERROR = "server_error"  # OpenAI 503, Anthropic 500
    OVERLOADED = "overloaded"  # OpenAI 503 "overloaded", Anthropic 529
    CONNECTION_RESET = "connection_reset"  # no answer at all: the SDK sees a connection error


class Window(Protocol):
    """A provider's outage, as `service.scenarios.Outage` has it."""

    @property
    def provider(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


class ScenarioView(Protocol):
    """What a fault reads of the scenario: the rates of the kinds without a field of their own, the outage."""

    @property
    def rates(self) -> Mapping[str, float]: ...
    @property
    def outage(self) -> Window | None: ...


@dataclass(frozen=True, kw_only=True)
class Fault:
    """A kind of fault: its label in `record.faults`, which is also the name of its random stream.

    A drawn kind gets one die per attempt, uniform in [0, 1), from its own stream
    (faults/dice.py) and strikes when the die falls under its rate. Its rate is the scenario's
    `rate_field` for the kinds the `Scenario` has always had a field for, else `scenario.rates[name]`
    (0 when absent), so a new kind needs no new field.
    """

    name: str
    stage: Stage
    rate_field: str | None = None
    drawn: bool = True

    def rate(self, scenario: ScenarioView) -> float:
        if self.rate_field is not None:
            return float(getattr(scenario, self.rate_field))
        return float(scenario.rates.get(self.name, 0.0))

    def strikes(self, die: float | None, scenario: ScenarioView, provider: str, now: float) -> bool:
        """Whether this kind strikes an attempt to `provider` at `now`, given its die (None when not drawn)."""
        return die is not None and die < self.rate(scenario)

    def possible(self, scenario: ScenarioView) -> bool:
        """Whether this kind can strike any attempt in `scenario` (asked once per scenario: a kind that cannot
        is not asked on each attempt). A kind that decides by something else than its rate says so here."""
        return self.rate(scenario) > 0


@dataclass(frozen=True, kw_only=True)
class RefusalFault(Fault):
    """A fault before generation (stage CONNECT or ADMIT): the attempt is answered with `refusal`."""

    refusal: Refusal


@dataclass(frozen=True)
class Structured:
    """A structured reply as a reply fault sees it.

    `text` is the JSON (a JSON reply, or a tool call's arguments), `schema` the one it was meant to fit,
    `strict` whether the API guarantees that fit (OpenAI `strict: true` schemas and tools, Anthropic's
    `output_config` JSON schema and `strict` tools), and `source` the prompt's text the reply was drawn from
    (system, user turn, documents), so a fault can tell a value the input holds from one it does not.
    """

    text: str
    schema: dict[str, Any]
    strict: bool = False
    source: str = ""


@dataclass(frozen=True)
class Spoiled:
    """What a reply fault made of a structured reply: its new text, its label, and how the reply now ends.

    `refusal`, when set, is the text of a refusal: the model declined, and the reply is that text
    (OpenAI's `message.refusal`, Anthropic's `stop_reason: "refusal"`) instead of JSON.
    """

    text: str
    label: str
    refusal: bool = False


@dataclass(frozen=True, kw_only=True)
class ReplyFault(Fault, ABC):
    """A fault of the reply (stage REPLY): it spoils a structured reply's text.

    The engine hands it a JSON reply, or a tool call's arguments (`Structured`), with the kind's own
    detail stream; it never sees plain prose. A kind that only rewrites the text implements `spoil`;
    one that reads the prompt or the schema's strictness, may not apply to every reply, or labels what it
    did more precisely than its name, overrides `strike`.
    """

    stage: Stage = Stage.REPLY

    def spoil(self, text: str, schema: dict[str, Any], rng: random.Random) -> str:
        """`text` spoiled; it must differ from `text`."""
        raise NotImplementedError(f"{type(self).__name__} implements neither spoil nor strike")

    def strike(self, reply: Structured, rng: random.Random) -> Spoiled | None:
        """`reply` spoiled and labelled, or None when this kind cannot spoil it (then it does not strike:
        its die was drawn all the same, so its rate reads as a share of the replies it applies to)."""
        return Spoiled(self.spoil(reply.text, reply.schema, rng), self.name)


@dataclass(frozen=True, kw_only=True)
class StreamFault(Fault):
    """A fault of a stream (stage STREAM): it fails after `cut` of its events, with the provider's error event."""

    stage: Stage = Stage.STREAM

    def cut(self, rng: random.Random) -> float:
        """Where the stream fails, as a share of its events, drawn from the kind's detail stream."""
        return rng.uniform(0.25, 0.75)


@dataclass(frozen=True, kw_only=True)
class QuoteFault(Fault, ABC):
    """A citation fault (stage QUOTE): it spoils one quote of a grounded answer that quotes its sources.

    The engine hands it the answer's `Cited` (the quotes, in reply order, and the sources provided, by id):
    prose quoting `"..." [doc-0042]`, or a rigid reply's claims. Anthropic citation blocks never reach it:
    the API guarantees they point into the documents. Its die strikes under the scenario's rate for it (a
    scale: 1 applies the table as it is) times the model's and prompt's rate (model/citation_profile.py).
    Then it picks one quote among those it can spoil, from its detail stream; if a kind before it in this
    reply already spoiled that quote, it leaves the reply alone (so adding a kind never changes which quote
    another picks, only whether it still gets it). The label is `"<name>@<n>"`, n the quote's 1-based place.
    """

    stage: Stage = Stage.QUOTE
    modes: frozenset[str] = frozenset({"prose", "rigid"})

    def chance(self, scenario: ScenarioView, cited: Cited) -> float:
        """The chance this kind strikes `cited`: the scenario's scale times the profile's rate."""
        if cited.mode not in self.modes:
            return 0.0
        return self.rate(scenario) * fault_rate(self.name, cited.model, verbatim=cited.verbatim)

    @abstractmethod
    def spoils(self, cited: Cited) -> tuple[int, ...]:
        """The places (0-based) of the quotes this kind can spoil in `cited`."""

    @abstractmethod
    def spoil(self, cited: Cited, quote: Quote, rng: random.Random) -> Quote:
        """`quote` spoiled; `cited` gives the sources the reply was written from."""

    def strike(self, cited: Cited, rng: random.Random, taken: frozenset[int]) -> tuple[Cited, int] | None:
        """`cited` with one quote spoiled and that quote's place, or None when there is none it may take."""
        places = self.spoils(cited)
        if not places:
            return None
        place = rng.choice(places)
        if place in taken:
            return None
        quotes = list(cited.quotes)
        quotes[place] = self.spoil(cited, quotes[place], rng)
        return dataclasses.replace(cited, quotes=tuple(quotes)), place

    def label(self, place: int) -> str:
        return labels.quoted(self.name, place + 1)
