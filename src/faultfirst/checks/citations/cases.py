"""The labelled answers the citations check scores a verifier on, as `write_cases.py` writes them.

Each is an answer that quotes its sources in the contract's prose format (`"exact words" [doc-0042]`), the
ids of the sources it was given (corpus documents; their texts come from the corpus when the check runs, unless
the case sends one as other text, as a document copied from a PDF would be),
how many quotes it holds, and which of them are wrong: its `faults`, in the world's label format
`"<kind>@<n>"`, n counting quotes from 1 in reply order. The world's answers come from held-out questions
and carry the world's own labels; the hand-made ones (look-alike letters, whitespace games, a quote spanning
two documents ...) carry the kind their builder gave them (a faithful one carries none), and the name of
the hint in `hints.py` that a verifier failing on them needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ...faults.labels import parse_label

CASES_FILE = "cases.json"
WORLD = "world"  # the origin of an answer the simulated model wrote


@dataclass(frozen=True)
class LabelledAnswer:
    """An answer with its sources and the truth about each of its quotes."""

    origin: str  # WORLD, or the name of the hand-made case
    answer: str
    sources: tuple[str, ...]  # corpus ids, in the order the prompt gave them
    quotes: int
    faults: tuple[str, ...]  # "<kind>@<n>"
    hint: str | None  # hand-made cases: the name of the hint (in hints.py) that a failure on it diagnoses
    texts: tuple[tuple[str, str], ...] = ()  # (id, text) of a source sent as other text than the corpus's abstract

    def wrong(self) -> dict[int, str]:
        """The quotes that are wrong, by number (1-based): each one's kind."""
        labels = map(parse_label, self.faults)  # "from_memory" spoils the answer, not a quote, and names none
        return {int(n): kind for kind, _, n in labels if n is not None and n.isdigit()}


@cache
def load() -> tuple[LabelledAnswer, ...]:
    """Every labelled answer, world's first, then the hand-made ones."""
    data = json.loads(resources.files(__package__).joinpath(CASES_FILE).read_text(encoding="utf-8"))
    return tuple(LabelledAnswer(origin=item["origin"], answer=item["answer"], sources=tuple(item["sources"]),
                                quotes=item["quotes"], faults=tuple(item["faults"]), hint=item.get("hint"),
                                texts=tuple(item.get("texts", {}).items()))
                 for item in data["answers"])
