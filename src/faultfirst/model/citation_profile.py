"""How the simulated model answers and cites from sources: the simulator's assumptions, in one table.

Nothing here is a measurement of a real model. The numbers are chosen to give Tier 4's lessons the shape
the literature and practice agree on, and nothing finer; a lesson that quotes one says it is the
simulator's, and shows how to measure the same rate against a live model.

- **Answering from memory.** Asked a corpus question without the gold document(s) among its sources
  (retrieval missed, or no sources at all), a model either answers from "memory" (plausible and wrong,
  `model/recall.py`; label "from_memory") or says the documents do not say. `MEMORY_CHANCE` is the
  share that answers anyway: weaker models guess more. An unanswerable question meets the same choice.
- **Rigid structure costs answer quality.** A model forced to fill `{"answer", "claims": [...]}` with
  offsets commits to its first claim: a two-paper answer (a comparison, two datasets, a contradiction)
  keeps only the first paper's claim, and the answer is written from that claim alone. So the rigid
  mode scores worse against gold on exactly the questions that need two sources, and as well on the rest.
"""

from __future__ import annotations

# The chance a model answers a question it has no source for from memory (else: "The documents do not say.").
# A model not listed (a learner's own catalogue entry) takes the most confident one's.
MEMORY_CHANCE: dict[str, float] = {"gpt-fast": 0.7, "gpt-strong": 0.35, "claude-fast": 0.6, "claude-strong": 0.25}


def memory_chance(model: str) -> float:
    """The chance `model` answers from memory when none of the gold sources reached it."""
    return MEMORY_CHANCE.get(model, max(MEMORY_CHANCE.values()))
