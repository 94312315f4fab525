"""A quote cut so it says the opposite of its sentence, at `Scenario.rates["reversed_quote"]` (a profile scale).

A real substring of the source, with the right id (and, in a rigid claim, the right offsets of the cut):
exact verification passes it. What it leaves out is the qualifier that turns the sentence ("by only 4.9%", a
contrastive "but", the "only" before "1.1x higher"); model/misquote.py `reversing_cut` says which sentences
allow such a cut (among the gold sentences, the six replication results that say "only"). A reply whose
quotes allow none is left alone, and carries no label. Label "reversed_quote@<n>".
"""

from __future__ import annotations

import random

from ..model.misquote import reversing_cut
from ..model.prompt import Cited, Quote
from . import labels
from .kind import QuoteFault


class _ReversedQuote(QuoteFault):
    def spoils(self, cited: Cited) -> tuple[int, ...]:
        return tuple(place for place, quote in enumerate(cited.quotes) if reversing_cut(quote.text) is not None)

    def spoil(self, cited: Cited, quote: Quote, rng: random.Random) -> Quote:
        cut = reversing_cut(quote.text) or quote.text
        start = quote.start + quote.text.index(cut)
        return Quote(cut, quote.doc, start, start + len(cut))


REVERSED_QUOTE = _ReversedQuote(name=labels.REVERSED_QUOTE)
