"""What a provider's wire is: the questions the engine, the batch service, the server and live mode ask it.

Everything that differs between two providers' APIs is an answer to one of these: which paths it serves
and what each does, how a request's body is read and which limits it is refused by, how a reply, a stream,
an error and a rate-limit header look, how it names a request, how its models are listed and how a batch
item is wrapped. One `Dialect` per provider answers them all (`wire/dialects/openai.py`,
`wire/dialects/anthropic.py`), so the layers above ask `DIALECTS[provider]` and never test a provider's
name; a new provider is a new dialect, not a new branch in each of them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from ...model.catalog import ModelSpec
from ..framing import Answer
from ..parse import InvalidRequest, ParsedRequest


class Bucket(Protocol):
    """One of the rate limiter's token buckets, as its headers and messages report it."""

    @property
    def capacity(self) -> int: ...

    @property
    def level(self) -> float: ...

    def reset_after(self, now: float) -> float: ...


class Admission(Protocol):
    """The rate limiter's verdict on one request (`service/rate_limits.py`), as the wire reports it."""

    @property
    def limited_by(self) -> str | None: ...  # 'requests', 'tokens' or 'requests-per-day'; None: admitted

    @property
    def retry_after(self) -> float: ...  # seconds; inf when the request can never fit

    @property
    def requests(self) -> Bucket: ...

    @property
    def tokens(self) -> Bucket: ...

    @property
    def tokens_requested(self) -> int: ...

    @property
    def limiting(self) -> Bucket | None: ...


class Generation(NamedTuple):
    """One generated reply, everything a dialect renders it from (a NamedTuple: cheap to build, one per attempt)."""

    rid: str  # the world's id of the attempt; each API prefixes it its own way
    created: int  # Unix seconds: when the request arrived (a batch item: when its batch ended)
    model: str  # the catalogue's name for the model
    answer: Answer  # choice 0
    parsed: ParsedRequest
    body: dict[str, Any]  # the request's JSON, for the fields a reply echoes
    more: tuple[Answer, ...] = ()  # choices 1 to n-1 of a request for n > 1


class Dialect(ABC):
    """One provider's API on the wire. Subclasses set the class attributes and answer the methods.

    `generating` maps each POST path that generates (and bills) a reply to its endpoint name, `counting`
    each POST path that only counts a prompt's tokens. An endpoint's name (the record's `endpoint`) means
    one wire: a provider that speaks another's reuses its names and reads them alike. `batch_api` names
    the batch API the provider speaks (`service/batches.py` serves each), or None for a provider without
    one; `batch_routes` matches its paths, with the groups that API's service reads. `api_key_env` is the
    variable live mode reads its key from, `request_id_header` the header that carries a request's id,
    `sdk_header` a header the provider's SDK always sends and no other does (None if there is none),
    which tells `faultfirst serve` whose a request to a shared path (GET /v1/models) is.
    """

    provider: str
    generating: Mapping[str, str]
    counting: Mapping[str, str] = {}
    batch_api: str | None = None
    batch_routes: re.Pattern[str] | None = None
    api_key_env: str
    request_id_header: str
    sdk_header: str | None = None

    @abstractmethod
    def parse(self, endpoint: str, body: dict[str, Any], spec: ModelSpec) -> ParsedRequest:
        """Read a request's body for one of this API's endpoints; raise `InvalidRequest` as the API would."""

    def endpoint(self, method: str, path: str) -> str | None:
        """The endpoint a request is for, or None for a path this API does not serve (batches aside)."""
        if method != "POST":
            return None
        return self.generating.get(path) or self.counting.get(path)

    def serves(self, path: str) -> bool:
        """Whether the path is one of this API's own (for `faultfirst serve`, which must tell APIs apart)."""
        return (path in self.generating or path in self.counting
                or (self.batch_routes is not None and self.batch_routes.match(path) is not None))

    # -- refusals before generation ------------------------------------------------------------------

    @abstractmethod
    def check_limits(self, spec: ModelSpec, parsed: ParsedRequest) -> None:
        """Raise `InvalidRequest` with this API's message for too much output asked, or too long a request."""

    @abstractmethod
    def token_count(self, endpoint: str, input_tokens: int) -> dict[str, Any]:
        """The body a counting endpoint answers with."""

    # -- replies -----------------------------------------------------------------------------------------

    @abstractmethod
    def reply(self, endpoint: str, generation: Generation) -> dict[str, Any]:
        """The JSON body of a reply that is not streamed."""

    @abstractmethod
    def stream(self, endpoint: str, generation: Generation) -> list[tuple[int, bytes]]:
        """The SSE events of a streamed reply, each tagged with how many output tokens precede it."""

    @abstractmethod
    def stream_error_event(self, rid: str) -> bytes:
        """The event this API sends when a stream fails after it started (simulated, or injected live)."""

    @abstractmethod
    def stop_reason(self, answer: Answer) -> str:
        """Why the reply ended, in this API's words (what `world.requests` logs as `stop_reason`)."""

    @abstractmethod
    def model_list(self, models: list[ModelSpec]) -> dict[str, Any]:
        """GET /v1/models: the catalogue's models for this provider, in its list shape."""

    # -- errors ------------------------------------------------------------------------------------------

    @abstractmethod
    def error(self, status: int, message: str, rid: str, error_type: str | None = None) -> dict[str, Any]:
        """An error body for `status` (`attempt.answer`); `error_type` defaults to this API's usual one for it."""

    @abstractmethod
    def invalid(self, err: InvalidRequest, rid: str) -> dict[str, Any]:
        """The 400 body for a request this API refuses."""

    @abstractmethod
    def not_found(self, method: str, path: str, rid: str) -> dict[str, Any]:
        """The 404 body for a path this API does not serve."""

    @abstractmethod
    def no_such_object(self, what: str, rid: str) -> dict[str, Any]:
        """The 404 body for a file or batch that does not exist."""

    @abstractmethod
    def unknown_model(self, model: object, *, valid: list[str], retired: bool, rid: str) -> dict[str, Any]:
        """The 404 body for a model this provider does not serve (`retired`: one it served once)."""

    @abstractmethod
    def server_error(self, rid: str, *, overloaded: bool) -> tuple[int, dict[str, Any]]:
        """The status and body of an outage (`overloaded=False`) or an overload."""

    @abstractmethod
    def rate_limited(self, model: str, admission: Admission, rid: str) -> dict[str, Any]:
        """The 429 body for a request the rate limiter refused."""

    # -- headers -----------------------------------------------------------------------------------------

    def request_id(self, rid: str) -> dict[str, str]:
        """The header that names the request."""
        return {self.request_id_header: f"req_{rid}"}

    @abstractmethod
    def limit_headers(self, admission: Admission, now: float) -> dict[str, str]:
        """The rate-limit headers every generating answer carries (a 429's `retry-after` is the engine's)."""

    def real_time(self, headers: Mapping[str, str], *, speed: float, arrival: float, wall: float) -> dict[str, str]:
        """This API's rate-limit headers among `headers` restated for a world served at `speed` (the changed ones).

        `faultfirst serve --speed N` answers in real time: a wait the engine states in simulated seconds is
        N times shorter in real ones, and an instant of the world's calendar is a real UTC time measured
        from `wall`, the Unix time the response's `Date` header states (`arrival` is the world time the
        engine answered at). `transports/served_headers.py` asks every dialect. None by default: an API
        whose headers state no waits or instants.
        """
        return {}

    # -- batch items -------------------------------------------------------------------------------------

    def batch_result(self, reply: dict[str, Any]) -> dict[str, Any]:
        """A batch item's result, from the reply a direct call would have had."""
        return reply

    def batch_error(self, error: dict[str, Any]) -> dict[str, Any]:
        """A batch item's result, from the error body a direct call would have had."""
        return error

    @abstractmethod
    def batch_cancelled(self) -> dict[str, Any]:
        """The result of an item whose batch was cancelled before it ran."""
