"""Offsets that miss their quote, in rigid claims, at `Scenario.rates["offset_error"]` (a scale of the profile).

A model filling `start` and `end` counts characters it cannot see; the quote itself is exact, but the
offsets are shifted by a few to a few dozen characters, so `source[start:end]` is other text. Prose carries
no offsets, so only a rigid reply meets it, and more often than any other citation fault
(model/citation_profile.py). Label "offset_error@<n>".
"""

from __future__ import annotations

import dataclasses
import random

from ..model.prompt import Cited, Quote
from . import labels
from .kind import QuoteFault


class _OffsetError(QuoteFault):
    def spoils(self, cited: Cited) -> tuple[int, ...]:
        return tuple(range(len(cited.quotes)))

    def spoil(self, cited: Cited, quote: Quote, rng: random.Random) -> Quote:
        source = dict(cited.sources).get(quote.doc, "")
        while True:
            start = max(0, quote.start + rng.choice((-1, 1)) * rng.randint(1, 40))
            if source[start:start + len(quote.text)] != quote.text:
                return dataclasses.replace(quote, start=start, end=start + len(quote.text))


OFFSET_ERROR = _OffsetError(name=labels.OFFSET_ERROR, modes=frozenset({"rigid"}))
