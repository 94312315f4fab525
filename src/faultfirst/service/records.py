"""The world's request log: one record per attempt, in the order attempts start.

A record is filled in while its attempt is in flight (the engine decides it, a hook may rewrite it, the
transport learns how much of a stream was read) and is final once the attempt is over: from then on it
refuses changes, so the log a check scores against cannot be edited by the code being checked, and tokens
and cost are set together, by `bill`, the one place a record's cost is computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model.catalog import ModelSpec


@dataclass
class RequestRecord:
    """One attempt as the simulated API saw it.

    `status` is the HTTP status, or None when the attempt never got one (a
    timeout, a connection reset, a cancelled call). `latency` is the virtual
    time from the request reaching the API to the last byte of its answer, or
    to the moment the attempt failed. Tokens and cost are what the provider
    would bill; a timed-out request is billed too, because the provider went
    on generating after the client stopped listening. `faults` names the faults
    the world injected into the attempt, in order (see `faultfirst.faults.labels` for what
    each label means and when it is given); empty when none.
    """

    provider: str
    model: str
    endpoint: str
    start: float
    stream: bool = False
    status: int | None = None
    error: str | None = None
    latency: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    stop_reason: str | None = None
    faults: tuple[str, ...] = ()

    _final = False  # not a field: set on the instance by finish(), read on every assignment (so kept cheap)

    def __setattr__(self, name: str, value: Any) -> None:
        if self._final:
            raise AttributeError(
                f"this record is final (its attempt is over), so {name} cannot change: world.requests is what "
                f"happened. To work with a changed copy, use dataclasses.replace(record, {name}=...)")
        object.__setattr__(self, name, value)  # not super(): every attempt makes about two dozen assignments

    def bill(self, spec: ModelSpec, input_tokens: int, output_tokens: int, *, discount: float = 1.0) -> None:
        """Set the tokens the provider bills and their cost at `spec`'s prices (`discount`: batch pricing)."""
        self.input_tokens, self.output_tokens = input_tokens, output_tokens
        self.cost_usd = spec.cost_usd(input_tokens, output_tokens) * discount

    def finish(self) -> None:
        """The attempt is over: the record takes no more changes. Idempotent."""
        object.__setattr__(self, "_final", True)

    @property
    def final(self) -> bool:
        """True once the attempt is over and the record takes no more changes."""
        return self._final

    @property
    def end(self) -> float:
        """Virtual time the attempt finished."""
        return self.start + self.latency

    @property
    def ok(self) -> bool:
        """True when the attempt got a 2xx answer and no error."""
        return self.status is not None and 200 <= self.status < 300 and self.error is None
