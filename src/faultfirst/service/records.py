"""The world's request log: one record per attempt, in the order attempts start."""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def end(self) -> float:
        """Virtual time the attempt finished."""
        return self.start + self.latency

    @property
    def ok(self) -> bool:
        """True when the attempt got a 2xx answer and no error."""
        return self.status is not None and 200 <= self.status < 300 and self.error is None
