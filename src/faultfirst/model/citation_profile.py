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
- **Citation faults.** `FAULT_RATES` is the chance, per reply that quotes its sources, that each kind of
  citation fault (faults/: invented_quote, wrong_document, paraphrase_as_quote, unprovided_document,
  reversed_quote, offset_error) spoils one of its quotes, per model: weaker models misquote more. A prompt
  that asks for quotes copied word for word (`VERBATIM_FACTORS`) makes paraphrase and invention rarer; it
  does not fix attribution. `offset_error` strikes rigid claims only (prose carries no offsets), and it is
  the most common: counting characters is what a model does worst. So quoting as it writes scores better on
  verified citations than filling offsets, on top of the answer quality rigid structure costs. A scenario
  scales the table (`Scenario.rates`, by kind; calm and the others leave it at 0); "citations" applies it as
  it is. Rates count the replies a kind can apply to: `reversed_quote` needs a quote a cut can turn
  (model/misquote.py: among gold sentences, the six replication results that say "only"), so it is rated
  higher to be seen at all; `wrong_document` needs a second provided source.

  | kind | gpt-fast | gpt-strong | claude-fast | claude-strong | asked to copy word for word |
  |---|---|---|---|---|---|
  | invented_quote | 0.15 | 0.06 | 0.12 | 0.05 | x0.4 |
  | paraphrase_as_quote | 0.25 | 0.10 | 0.20 | 0.08 | x0.3 |
  | wrong_document | 0.15 | 0.06 | 0.12 | 0.05 | |
  | unprovided_document | 0.15 | 0.05 | 0.12 | 0.04 | |
  | reversed_quote | 0.50 | 0.20 | 0.40 | 0.15 | |
  | offset_error (rigid only) | 0.50 | 0.30 | 0.45 | 0.25 | |
"""

from __future__ import annotations

# The chance a model answers a question it has no source for from memory (else: "The documents do not say.").
# A model not listed (a learner's own catalogue entry) takes the most confident one's.
MEMORY_CHANCE: dict[str, float] = {"gpt-fast": 0.7, "gpt-strong": 0.35, "claude-fast": 0.6, "claude-strong": 0.25}


def memory_chance(model: str) -> float:
    """The chance `model` answers from memory when none of the gold sources reached it."""
    return MEMORY_CHANCE.get(model, max(MEMORY_CHANCE.values()))


FAULT_RATES: dict[str, dict[str, float]] = {
    "invented_quote": {"gpt-fast": 0.15, "gpt-strong": 0.06, "claude-fast": 0.12, "claude-strong": 0.05},
    "paraphrase_as_quote": {"gpt-fast": 0.25, "gpt-strong": 0.10, "claude-fast": 0.20, "claude-strong": 0.08},
    "wrong_document": {"gpt-fast": 0.15, "gpt-strong": 0.06, "claude-fast": 0.12, "claude-strong": 0.05},
    "unprovided_document": {"gpt-fast": 0.15, "gpt-strong": 0.05, "claude-fast": 0.12, "claude-strong": 0.04},
    "reversed_quote": {"gpt-fast": 0.50, "gpt-strong": 0.20, "claude-fast": 0.40, "claude-strong": 0.15},
    "offset_error": {"gpt-fast": 0.50, "gpt-strong": 0.30, "claude-fast": 0.45, "claude-strong": 0.25},
}
VERBATIM_FACTORS: dict[str, float] = {"invented_quote": 0.4, "paraphrase_as_quote": 0.3}


def fault_rate(kind: str, model: str, *, verbatim: bool = False) -> float:
    """The chance a reply of `model` that quotes its sources meets citation fault `kind` (before the scenario's
    scale); a model not listed takes the table's highest rate, a kind not listed 0."""
    rates = FAULT_RATES.get(kind, {})
    rate = rates.get(model, max(rates.values(), default=0.0))
    return rate * VERBATIM_FACTORS.get(kind, 1.0) if verbatim else rate
