"""Fault-First AI Engineering: the simulated model world every lesson runs against.

    from faultfirst import World
    world = World(seed=7, scenario="rate-limited")
    gpt = world.openai()        # a real openai.OpenAI wired to the world
    claude = world.anthropic()  # a real anthropic.Anthropic wired to the world
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .model.attacks import Attack, AttackSetError, CleanText, Criterion, attack_succeeded, load_attacks, load_clean
from .model.catalog import Catalog, ModelSpec
from .model.corpus import (
    Contradiction,
    Corpus,
    CorpusError,
    Facts,
    Paper,
    Question,
    Span,
    gold_text,
    load_corpus,
    load_questions,
)
from .model.request import Message, ModelRequest
from .service.records import RequestRecord
from .service.scenarios import SCENARIOS, Outage, RateLimits, Scenario
from .text import plural
from .wire.retryable import retryable_status

if TYPE_CHECKING:
    from .model.scripted import ResponderFailed
    from .wire.client_errors import SpendCapExceeded
    from .world import World

# These two import both SDKs (about two seconds), so they load on first use: processes that only need the
# package's lighter parts (pytest's controller, `faultfirst lab`, the book's Sphinx extension) skip the cost.
_ON_FIRST_USE = {"World": ".world", "SpendCapExceeded": ".wire.client_errors", "ResponderFailed": ".model.scripted"}

__all__ = ["World", "Catalog", "ModelSpec", "RequestRecord", "Scenario", "SCENARIOS", "RateLimits", "Outage",
           "SpendCapExceeded", "retryable_status", "plural", "ModelRequest", "Message", "ResponderFailed",
           "Attack", "CleanText", "Criterion", "AttackSetError", "load_attacks", "load_clean", "attack_succeeded",
           "load_corpus", "load_questions", "gold_text", "Corpus", "Paper", "Facts", "Question", "Span",
           "Contradiction", "CorpusError"]


def __getattr__(name: str) -> Any:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_ON_FIRST_USE[name], __name__), name)
    globals()[name] = value
    return value
