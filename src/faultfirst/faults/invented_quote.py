"""An invented quote, at the "citations" scenario's scale (`Scenario.rates["invented_quote"]`): words no source holds.

The model writes a sentence in its source's style, about the method the quote names, stating a result no
provided source gives (model/misquote.py `invented`), and puts it in quote marks with the real source's id.
Any quote can be invented; the label "invented_quote@<n>" names which. In a rigid reply the claim keeps the
offsets of the sentence it replaced, which slice to other words.
"""

from __future__ import annotations

import dataclasses
import random

from ..model.corpus import CorpusError, load_corpus
from ..model.misquote import invented
from ..model.prompt import Cited, Quote
from . import labels
from .kind import QuoteFault


class _InventedQuote(QuoteFault):
    def spoils(self, cited: Cited) -> tuple[int, ...]:
        return tuple(range(len(cited.quotes)))

    def spoil(self, cited: Cited, quote: Quote, rng: random.Random) -> Quote:
        try:
            method: str | None = load_corpus().paper(quote.doc).facts.method
        except CorpusError:  # a source the corpus does not know: the name the quote spells like a method
            method = None
        while True:  # a template's sentence is never in an abstract; the check keeps the promise for any source
            text = invented(method, quote.text, rng)
            if not any(text in source for _, source in cited.sources):
                return dataclasses.replace(quote, text=text)


INVENTED_QUOTE = _InventedQuote(name=labels.INVENTED_QUOTE)
