"""The ways a model gets a quotation wrong, as text: reworded, cut to say the opposite, or made up.

The citation faults (faults/invented_quote.py and its siblings) decide when a quote is spoiled; this module
says what the spoiled words are, from the quoted sentence alone, so a lesson's verifier meets the same
shapes of error a real model produces:

- `paraphrase`: the sentence with its verbs and connectives swapped for synonyms ("cuts" for "reduces",
  "relative to" for "compared with"): close enough that a fuzzy match scores it high, not the source's words;
- `reversing_cut`: a real substring that leaves out the words which turn the sentence against it: it ends
  before "by only" (the replication's "reduces detection time by only 4.9%" cut to "reduces detection time":
  a result the sentence calls marginal, quoted as a plain win) or a contrastive "but" ("capture paraphrases
  ... but fail on rare terms": the claim kept, its limit dropped), or starts after "only" ("delivers only 1.1x
  higher deduplication throughput" cut to "1.1x higher deduplication throughput ..."). Other qualifiers
  ("without", "no", "while") leave cuts that merely omit, so they do not count. Among the corpus's gold
  sentences, only the six replication results that say "only" allow such a cut (contradictions con-01, 04,
  06, 09, 10, 14); twenty-odd context and design sentences with "but" do too, which a reply quotes only as
  the decoy of an answer from memory. Every other sentence has no such cut, and the fault leaves it alone;
- `invented`: a sentence in the style of an abstract that no source holds (about the quoted paper's method).
"""

from __future__ import annotations

import random
import re

_SYNONYMS = {
    "reduces": "cuts", "lowers": "reduces", "cuts": "lowers", "improves": "raises", "increases": "raises",
    "reaches": "attains", "obtains": "achieves", "achieves": "attains", "delivers": "provides", "sustains": "keeps",
    "Compared with": "Relative to", "compared with": "relative to", "relative to": "compared with",
    "measured against": "compared with", "Measured against": "Compared with", "over": "compared with",
    "comprising": "containing", "covers": "contains", "Experiments use": "The experiments are run on",
    "Our evaluation runs on": "We evaluate on", "We evaluate": "We test", "is evaluated on": "is tested on",
    "In our runs": "In our experiments", "Across all runs": "In all runs", "in our setting": "in our experiments",
    "while": "whereas",
}
_SYNONYM_RE = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in sorted(_SYNONYMS, key=len, reverse=True)) + r")\b")
_QUALIFIER_RE = re.compile(r",?\s+(?:by only|but)\b")
_ONLY_RE = re.compile(r"\bonly\s+")
_METHOD_RE = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b")  # CamelCase: the corpus's method names
_MIN_CUT_WORDS = 4
_INVENTIONS = (
    "{m} outperforms every baseline on all {n} benchmarks we tried.",
    "During a {n}-week production deployment, {m} never missed its latency target.",
    "{m} halves the cost of the strongest baseline while matching its accuracy.",
    "In every configuration we measured, {m} improved the headline metric by at least {p}%.",
)


def paraphrase(sentence: str) -> str | None:
    """`sentence` reworded (every phrase the synonym table knows swapped), or None if it knows none."""
    reworded = _SYNONYM_RE.sub(lambda m: _SYNONYMS[m.group(0)], sentence)
    return None if reworded == sentence else reworded


def reversing_cut(sentence: str) -> str | None:
    """The part of `sentence` before its first "by only" or "but", else the part after its "only", or None.

    The cut keeps at least a few words, so it reads as a claim of its own: "Dense retrievers capture
    paraphrases that BM25 misses but fail on rare terms" gives "Dense retrievers capture paraphrases that
    BM25 misses".
    """
    cuts = []
    if (qualifier := _QUALIFIER_RE.search(sentence)) is not None:
        cuts.append(sentence[:qualifier.start()])
    if (only := _ONLY_RE.search(sentence)) is not None:
        cuts.append(sentence[only.end():].rstrip())
    return next((cut for cut in cuts if len(cut.split()) >= _MIN_CUT_WORDS), None)


def invented(method: str | None, quote: str, rng: random.Random) -> str:
    """A sentence about `method` (else a name the quote spells like a method, else "The method") that states a
    result no source gives."""
    named = _METHOD_RE.search(quote)
    name = method or (named.group(0) if named else "The method")
    return rng.choice(_INVENTIONS).format(m=name, n=rng.randint(3, 12), p=rng.randint(5, 40))
