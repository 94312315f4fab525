"""The world's request log: one record per attempt, in the order attempts start.

A record is filled in while its attempt is in flight (the engine decides it, a hook may rewrite it, the
transport learns how much of a stream was read) and is final once the attempt is over: from then on it
refuses changes, so the log a check scores against cannot be edited by the code being checked, and tokens
and cost are set together, by `bill`, the one place a record's cost is computed.

Finality is a class, not a flag: `finish()` turns the record into a `_FinalRecord`, the one class that refuses
assignments. An attempt makes about two dozen assignments to its record while in flight, and a guard on every
one of them (a `__setattr__` that asks "am I final?") was a visible share of what the world adds to a call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model.catalog import ModelSpec


@dataclass(eq=False)  # equality by fields, whichever class (in flight or final): see __eq__
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

    __hash__ = None  # type: ignore[assignment]  # mutable while in flight, like any dataclass with eq

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RequestRecord):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def bill(self, spec: ModelSpec, input_tokens: int, output_tokens: int, *, discount: float = 1.0) -> None:
        """Set the tokens the provider bills and their cost at `spec`'s prices (`discount`: batch pricing)."""
        self.input_tokens, self.output_tokens = input_tokens, output_tokens
        self.cost_usd = spec.cost_usd(input_tokens, output_tokens) * discount

    def finish(self) -> None:
        """The attempt is over: the record takes no more changes. Idempotent."""
        object.__setattr__(self, "__class__", _FinalRecord)

    @property
    def final(self) -> bool:
        """True once the attempt is over and the record takes no more changes."""
        return False

    @property
    def end(self) -> float:
        """Virtual time the attempt finished."""
        return self.start + self.latency

    @property
    def ok(self) -> bool:
        """True when the attempt got a 2xx answer and no error."""
        return self.status is not None and 200 <= self.status < 300 and self.error is None


class _FinalRecord(RequestRecord):
    """A record whose attempt is over (what `RequestRecord.finish` makes of it): it refuses changes.

    Named `RequestRecord` in its repr, since that is what it is. `dataclasses.replace` on it (the way the
    refusal names) makes an ordinary, changeable `RequestRecord`: the copy is new, so nothing happened to it yet.
    `copy` and `pickle` make final copies.
    """

    __slots__ = ()  # the same layout as RequestRecord's, so finish() can change an instance's class

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return RequestRecord(*args, **kwargs)  # called by dataclasses.replace only: the new record is in flight

    def __reduce__(self) -> tuple[Any, ...]:
        return _final_copy, (dict(self.__dict__),)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"this record is final (its attempt is over), so {name} cannot change: world.requests is what "
            f"happened. To work with a changed copy, use dataclasses.replace(record, {name}=...)")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)  # refused alike

    @property
    def final(self) -> bool:
        return True


_FinalRecord.__qualname__ = _FinalRecord.__name__ = "RequestRecord"


def _final_copy(fields: dict[str, Any]) -> RequestRecord:
    """A final record with these fields (what copying or unpickling a final record gives)."""
    record = RequestRecord(**fields)
    record.finish()
    return record
