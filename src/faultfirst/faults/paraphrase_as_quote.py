"""A paraphrase presented as a quote, at `Scenario.rates["paraphrase_as_quote"]` (a scale of the profile).

The source's sentence reworded (model/misquote.py `paraphrase`: synonyms for its verbs and connectives) and
put in quote marks with the right id: the meaning survives, the words are not the source's, so an exact
check fails it and a fuzzy one scores it high. A prompt that asks for quotes copied word for word makes it
rarer (model/citation_profile.py). Label "paraphrase_as_quote@<n>".
"""

from __future__ import annotations

import dataclasses
import random

from ..model.misquote import paraphrase
from ..model.prompt import Cited, Quote
from . import labels
from .kind import QuoteFault


class _ParaphraseAsQuote(QuoteFault):
    def spoils(self, cited: Cited) -> tuple[int, ...]:
        return tuple(place for place, quote in enumerate(cited.quotes) if paraphrase(quote.text) is not None)

    def spoil(self, cited: Cited, quote: Quote, rng: random.Random) -> Quote:
        return dataclasses.replace(quote, text=paraphrase(quote.text) or quote.text)


PARAPHRASE_AS_QUOTE = _ParaphraseAsQuote(name=labels.PARAPHRASE_AS_QUOTE)
