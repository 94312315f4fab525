"""A citation to a document never provided, at `Scenario.rates["unprovided_document"]` (a scale of the profile).

The words are the source's, the id is a corpus paper's that the request did not send (a model "remembering"
where a sentence came from): checking the id against the ids sent catches it. Label "unprovided_document@<n>".
"""

from __future__ import annotations

import dataclasses
import random

from ..model.corpus import load_corpus
from ..model.prompt import Cited, Quote
from . import labels
from .kind import QuoteFault


class _UnprovidedDocument(QuoteFault):
    def spoils(self, cited: Cited) -> tuple[int, ...]:
        return tuple(range(len(cited.quotes)))

    def spoil(self, cited: Cited, quote: Quote, rng: random.Random) -> Quote:
        sent = {doc for doc, _ in cited.sources}
        return dataclasses.replace(quote, doc=rng.choice([p.id for p in load_corpus().papers if p.id not in sent]))


UNPROVIDED_DOCUMENT = _UnprovidedDocument(name=labels.UNPROVIDED_DOCUMENT)
