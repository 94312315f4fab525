"""A real quote attributed to the wrong document, at `Scenario.rates["wrong_document"]` (a scale of the profile).

The words are exact, from one provided source, and the id in the brackets (or the claim's `doc`) is another
provided source's, one whose text does not hold them: a verifier that only checks the words against all the
sources passes it. It needs a second provided source with an id; a reply with one source is left alone, and
carries no label. Label "wrong_document@<n>".
"""

from __future__ import annotations

import dataclasses
import random

from ..model.prompt import Cited, Quote
from . import labels
from .kind import QuoteFault


def _others(cited: Cited, quote: Quote) -> list[str]:
    """The provided ids a quote could be misattributed to: other sources, whose text does not hold it."""
    return [doc for doc, text in cited.sources if doc != quote.doc and quote.text not in text]


class _WrongDocument(QuoteFault):
    def spoils(self, cited: Cited) -> tuple[int, ...]:
        return tuple(place for place, quote in enumerate(cited.quotes) if _others(cited, quote))

    def spoil(self, cited: Cited, quote: Quote, rng: random.Random) -> Quote:
        return dataclasses.replace(quote, doc=rng.choice(_others(cited, quote)))


WRONG_DOCUMENT = _WrongDocument(name=labels.WRONG_DOCUMENT)
