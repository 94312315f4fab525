"""The catalogue of simulated models: what a request's `model` field takes.

Lessons name models by these aliases, never by a provider's model id, so that
a model retiring upstream changes one file and no lesson. The prices and
limits are the simulator's own, chosen to resemble the market's fast/cheap and
strong/slow tiers; live mode (a later issue) maps the aliases to real ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

Provider = Literal["openai", "anthropic"]  # each has a dialect: wire/dialects/
PROVIDERS: tuple[Provider, ...] = get_args(Provider)


@dataclass(frozen=True)
class LatencyProfile:
    """How long a model takes, before drift and tail effects.

    A reply of n output tokens takes about `overhead + ttft + n * per_token`
    seconds at the median; each request's time is then multiplied by a
    heavy-tailed random factor (see `service/latency.py`).
    """

    overhead: float  # connection, queueing and response head, seconds
    ttft: float  # time to first token at the median, seconds
    per_token: float  # seconds per output token at the median


@dataclass(frozen=True)
class ModelSpec:
    """One simulated model: its limits, its prices and how fast it is."""

    name: str
    provider: Provider
    tier: Literal["fast", "strong"]
    context_window: int
    max_output_tokens: int
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    latency: LatencyProfile
    encoding: str  # the BPE the simulator counts this model's tokens with

    def __hash__(self) -> int:
        # A spec is part of the key of the parse cache, asked on every attempt: its name identifies it (equal specs
        # have equal names), where the generated hash would hash every field and the latency profile's too.
        return hash(self.name)

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """What a call costs at this model's prices."""
        return (input_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok) / 1_000_000


_MODELS = (
    ModelSpec("gpt-fast", "openai", "fast", 128_000, 16_384, 0.15, 0.60,
              LatencyProfile(0.05, 0.30, 0.008), "o200k_base"),
    ModelSpec("gpt-strong", "openai", "strong", 400_000, 128_000, 2.50, 10.00,
              LatencyProfile(0.08, 0.80, 0.020), "o200k_base"),
    ModelSpec("claude-fast", "anthropic", "fast", 200_000, 64_000, 0.80, 4.00,
              LatencyProfile(0.06, 0.40, 0.010), "cl100k_base"),
    ModelSpec("claude-strong", "anthropic", "strong", 200_000, 32_000, 3.00, 15.00,
              LatencyProfile(0.08, 1.00, 0.022), "cl100k_base"),
)


class Catalog(Mapping[str, ModelSpec]):
    """Model name -> spec, with an error that lists the valid names."""

    def __init__(self, models: tuple[ModelSpec, ...] = _MODELS) -> None:
        self._models = {m.name: m for m in models}

    def __getitem__(self, name: str) -> ModelSpec:
        try:
            return self._models[name]
        except KeyError:
            raise KeyError(unknown_model_message(name, self._models)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def resolve(self, name: object) -> ModelSpec | None:
        """The spec for an alias, or for the real model id live mode sends for it; None if neither."""
        if not isinstance(name, str):
            return None
        alias = name if name in self._models else _ALIAS_OF_LIVE_ID.get(name)
        return self._models.get(alias) if alias else None

    def for_provider(self, provider: str) -> list[ModelSpec]:
        return [m for m in self._models.values() if m.provider == provider]

    def __repr__(self) -> str:
        return f"Catalog({', '.join(self._models)})"


def unknown_model_message(name: object, valid: Mapping[str, ModelSpec] | list[str]) -> str:
    return f"unknown model {name!r}; the simulated models are: {', '.join(sorted(valid))}"


# Live mode sends each alias as a real model id, kept in one file (live_models.json).
LIVE_MODELS: dict[str, dict[str, str]] = {
    provider: ids
    for provider, ids in json.loads(
        (Path(__file__).parents[1] / "live_models.json").read_text(encoding="utf-8")).items()
    if not provider.startswith("_")
}
_ALIAS_OF_LIVE_ID = {real: alias for ids in LIVE_MODELS.values() for alias, real in ids.items()}

CATALOG = Catalog()

# Aliases that once served and have been retired upstream: the API answers 404 saying so. They are
# not in the catalogue, just as a retired model is gone from a provider's list; a fallback chain
# that still names one fails only on the day it is first needed.
RETIRED: dict[str, Provider] = {"gpt-legacy": "openai", "claude-legacy": "anthropic"}
