"""The faults a world injects: one module per kind, each drawing from its own random stream.

`kind` says what a kind of fault is (its label, the stage of an attempt where it strikes, its rate
from the scenario); `outage`, `reset`, `overload`, `refusal`, `wrong_meaning`, `schema_violation`,
`malformed_json` and `stream_error` are the kinds, with the citation faults of grounded answers
(`invented_quote`, `paraphrase_as_quote`, `reversed_quote`, `wrong_document`, `unprovided_document`,
`offset_error`);
`registry` lists them in the order they strike; `dice` gives each kind its own seeded stream, one die
per attempt, so that no kind shifts another's draws; `labels` names the labels each attempt's record
carries as ground truth. The engine asks these modules instead of naming any fault (docs/architecture.md,
"Adding a fault"). This layer may read the model's text tools (to spoil a reply) and nothing above.
"""
