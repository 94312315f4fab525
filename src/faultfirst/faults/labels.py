"""The names of the faults a world injects, and the rules for when an attempt carries one.

`RequestRecord.faults` is ground truth: the labels of the faults the world put into that
attempt, in the order it put them in, each at most once. Checks, lessons and tests score a
learner's code against it (did the retry fire on every "overload"? did the validator catch
every "malformed_json"?), so a label means "the world did this", never "the client saw
something go wrong". The rules, one per label:

- "rate_limit": a 429 from the world's rate limiter. The scenario sets the limits and the world
  enforces them, so every limiter 429 is labelled, including one the learner's own burst
  provoked: a token bucket has no other way to fail, and what a client must do about it is the
  same either way.
- "overload": a 529 (Anthropic) or 503 (OpenAI) drawn at the scenario's `overload_rate`; in a
  batch, an item failed at that rate.
- "outage": a server error because the scenario takes that provider down at that moment.
- "reset": the connection reset before any answer (`reset_rate`).
- "stream_error": a stream that fails after it started (`stream_error_rate`, or a fixture
  whose scripted ending drops or breaks the stream; in live mode, the injected cut).
- "truncated": the reply was cut at `max_tokens` (finish_reason "length", stop_reason "max_tokens").
- "malformed_json": a structured reply the scenario corrupted (`malformed_output_rate`).
- "injection_obeyed": the model followed an instruction injected into its prompt.
- "from_memory": the model answered a corpus question (docs/corpus.md) without its gold document(s) among
  the sources (retrieval missed, or none were sent): a plausible, wrong answer of the gold answer's shape
  (model/recall.py), perhaps quoting a provided, irrelevant source. Whether it does, or says the documents
  do not say, is the model's choice at a chance per model (model/citation_profile.py), drawn per attempt
  from `{seed}:fault:from_memory`; it is no scenario's fault, so every scenario has it.
- "wrong_meaning:<kind>@<field>": valid JSON, fitting its schema, with one top-level field made false
  against the prompt (`Scenario.rates["wrong_meaning"]`, faults/wrong_meaning.py). `<kind>` is one of
  "date_not_in_source", "id_not_in_input", "total_mismatch", "enum_mismatch"; `<field>` is the
  property's name. It is the one label with parts: `parse_label` splits any label into its
  kind, detail and field ("rate_limit" gives ("rate_limit", None, None)).
- "schema_violation": a JSON reply the API does not hold to its schema (JSON mode, a non-strict schema
  or tool) came back missing a required field or with a field of the wrong type
  (`Scenario.rates["schema_violation"]`). Never on a strict schema: the real APIs guarantee those.
- "refusal": the model declined a structured request (`Scenario.rates["refusal"]`): OpenAI's
  `message.refusal` with `content: null`, Anthropic's `stop_reason: "refusal"`.
- "<citation fault>@<n>": a grounded answer that quotes its sources (quotes in prose, `"..." [doc-0042]`, or
  rigid claims with offsets; never Anthropic citation blocks, which the API guarantees) had its n-th quote
  (1-based, in reply order) spoiled, at `Scenario.rates[<kind>]` times the model's and prompt's rate
  (model/citation_profile.py; scenario "citations"): "invented_quote" (words no provided source holds),
  "wrong_document" (a provided source's exact words under another provided source's id),
  "paraphrase_as_quote" (the sentence reworded), "unprovided_document" (an id the request never sent),
  "reversed_quote" (a real substring cut so it says the opposite of its sentence) and, rigid only,
  "offset_error" (`start`/`end` that do not slice to the quote). At most one kind spoils a quote (the first
  registered); a kind with nothing to spoil in a reply leaves no label. `parse_label` gives the quote's
  number as the field: "wrong_document@2" -> ("wrong_document", None, "2").
- "timeout": the world held a reply past the client's read timeout on purpose. No scenario
  injects such a stall today, so no record carries it yet: a client timing out on a reply that
  is merely slow (the latency tail, drift) met the world's natural latency, not an injected
  fault, and its record's `faults` stays empty.

An attempt whose reply a check scripts with `attempt.answer()` carries no labels: the world's
reply, and what it injected into it, was replaced.
"""

from __future__ import annotations

from typing import NamedTuple

RATE_LIMIT = "rate_limit"
OVERLOAD = "overload"
OUTAGE = "outage"
RESET = "reset"
STREAM_ERROR = "stream_error"
TRUNCATED = "truncated"
MALFORMED_JSON = "malformed_json"
INJECTION_OBEYED = "injection_obeyed"
FROM_MEMORY = "from_memory"
WRONG_MEANING = "wrong_meaning"
SCHEMA_VIOLATION = "schema_violation"
REFUSAL = "refusal"
# The citation faults (stage QUOTE), labelled "<name>@<n>" with n the spoiled quote's 1-based place in the reply
INVENTED_QUOTE = "invented_quote"
WRONG_DOCUMENT = "wrong_document"
PARAPHRASE_AS_QUOTE = "paraphrase_as_quote"
UNPROVIDED_DOCUMENT = "unprovided_document"
REVERSED_QUOTE = "reversed_quote"
OFFSET_ERROR = "offset_error"

# The kinds of wrong meaning, the <kind> of "wrong_meaning:<kind>@<field>"
DATE_NOT_IN_SOURCE = "date_not_in_source"
ID_NOT_IN_INPUT = "id_not_in_input"
TOTAL_MISMATCH = "total_mismatch"
ENUM_MISMATCH = "enum_mismatch"


class Label(NamedTuple):
    """A label's parts: the fault's name, and for a semantic fault what it did (`detail`) to which `field`."""

    name: str
    detail: str | None = None
    field: str | None = None


def semantic(name: str, detail: str, field: str) -> str:
    """The label of a fault that made `field` wrong in the way `detail` says: "<name>:<detail>@<field>"."""
    return f"{name}:{detail}@{field}"


def quoted(name: str, number: int) -> str:
    """The label of a citation fault that spoiled the reply's `number`-th quote (1-based): "<name>@<number>"."""
    return f"{name}@{number}"


def parse_label(label: str) -> Label:
    """`label`'s parts: "wrong_meaning:total_mismatch@total" gives ("wrong_meaning", "total_mismatch", "total");
    "invented_quote@2" gives ("invented_quote", None, "2"); a plain label gives (label, None, None). The field
    is what follows the first "@", so it may hold any text."""
    head, at, field = label.partition("@")
    name, colon, detail = head.partition(":")
    return Label(name, detail if colon else None, field if at else None)


def with_label(labels: tuple[str, ...], *added: str) -> tuple[str, ...]:
    """`labels` followed by each of `added` not already in it: injection order, no duplicates."""
    for label in added:
        if label not in labels:
            labels = (*labels, label)
    return labels
