"""Live mode: the same World in front of the real OpenAI and Anthropic APIs.

The clients are real SDK clients whose transport goes to the real API (or to
whatever `base_url` says, which is how the tests aim it at `faultfirst serve`).
On the way out, the live transport maps the catalogue alias to the real model
id from `live_models.json`, holds the call's worst case against the spend cap
(refusing it if the cap cannot afford it), and injects the scenario's faults
that happen before generation (so a 429 storm costs nothing). On the way back
it records the attempt in `world.requests`, with tokens from the real usage
(counted with the catalogue's tokenizer when a stream carries none) and cost
at catalogue prices, releases the hold, and, in record mode, saves the
exchange as a fixture the simulated world will replay. An attempt that fails
after it may have reached the API (a timeout, a cancellation) is booked at its
worst case: it may have been billed, and nobody will say for how much.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2

from ..faults.labels import STREAM_ERROR, with_label
from ..model.catalog import LIVE_MODELS
from ..model.tokens import count_tokens
from ..service.engine import LiveFaults
from ..service.outcome import Outcome
from ..service.records import RequestRecord
from ..service.session import Session
from ..service.spend import Hold
from ..transports.simulated import transport_failure
from ..wire.client_errors import ClientSideError
from ..wire.dialects import GENERATING_ROUTES, parse_request
from ..wire.framing import error_name
from ..wire.parse import InvalidRequest, ParsedRequest, decode_body
from .recording import Recorder, kept_request_headers, kept_response_headers, sse_events


class UnknownAlias(ClientSideError, KeyError):
    """Live mode was asked for a model that has no real id in live_models.json."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class _Exchange:
    """One live attempt: the request as sent, its hold on the spend cap, and the record it fills in."""

    def __init__(self, session: Session, recorder: Recorder | None, provider: str, request: httpx2.Request) -> None:
        self.session, self.recorder, self.provider, self.request = session, recorder, provider, request
        self.endpoint = GENERATING_ROUTES.get(request.url.path) if request.method == "POST" else None
        self.body = decode_body(request.content or b"{}") if self.endpoint else None
        self.alias = str((self.body or {}).get("model", ""))
        self.spec = self.session.catalog.get(self.alias)
        self.record: RequestRecord | None = None
        self.hold: Hold | None = None

    def outgoing(self) -> httpx2.Request:
        """The request to send: the real model id in the body, and no compression (so usage can be read)."""
        headers = [(k, v) for k, v in self.request.headers.multi_items()
                   if k.lower() not in ("content-length", "accept-encoding")] + [("accept-encoding", "identity")]
        content = self.request.content
        if self.body is not None and self.alias:
            content = json.dumps({**self.body, "model": self.real_model()}).encode()
        return httpx2.Request(self.request.method, self.request.url, headers=headers, content=content,
                              extensions=self.request.extensions)

    def real_model(self) -> str:
        """The real id to send: this provider's for the alias; another provider's, sent on so that the API
        refuses it as the simulation does (a lesson's deliberate mistake); a real id as it is."""
        own = LIVE_MODELS.get(self.provider, {})  # a provider without real ids in live_models.json has none
        for ids in (own, *LIVE_MODELS.values()):
            if self.alias in ids:
                return ids[self.alias]
        if any(self.alias in ids.values() for ids in LIVE_MODELS.values()):
            return self.alias
        raise UnknownAlias(f"live mode has no real model for {self.alias!r} ({self.provider}); the aliases are: "
                           f"{', '.join(own) or 'none'} (see src/faultfirst/live_models.json)")

    def start(self, hold: Hold | None) -> None:
        self.hold = hold
        self.record = RequestRecord(self.provider, self.alias, self.endpoint or self.request.url.path,
                                    self.session.clock.now(), stream=bool((self.body or {}).get("stream")))
        self.session.requests.append(self.record)

    def failed(self, error: str, sent: bool) -> None:
        """No answer came. If the request may have reached the API, it may be billed: book its worst case."""
        assert self.record is not None
        self.record.error, self.record.latency = error, self.session.clock.now() - self.record.start
        if sent and self.hold is not None and not self.hold.batch:
            self.record.cost_usd = self.hold.usd  # the ledger's worst case: what the API may bill
        self.record.finish()
        self.session.spend.release(self.hold)

    def finished(self, status: int, content: bytes, headers: httpx2.Headers, *, broken: bool = False) -> None:
        """Fill in the record from the answer's usage; release the hold; in record mode, save the exchange.

        `broken`: the stream was cut by an injected error event; it is logged as the simulation logs one,
        and costed from the text that arrived (never recorded as a fixture: it is not a whole reply).
        """
        record = self.record
        assert record is not None
        record.status, record.latency = status, self.session.clock.now() - record.start
        if broken:
            record.error = "stream error"
            record.faults = with_label(record.faults, STREAM_ERROR)
        if status >= 400:
            record.error = error_name(decode_body(content))
        elif self.endpoint is not None and self.spec is not None:
            streamed = "event-stream" in headers.get("content-type", "")
            events = sse_events(content) if streamed else None
            used_in, used_out, text = _usage_and_text(events, content)
            parsed = self.parsed()
            if parsed is not None and not (used_in and used_out):
                # A stream without usage (OpenAI's, unless stream_options.include_usage is set): count it ourselves.
                used_in = used_in or parsed.input_tokens
                used_out = used_out or count_tokens(text or "", self.spec.encoding)
            record.bill(self.spec, used_in, used_out)
            if self.recorder is not None and text is not None and parsed is not None and not broken:
                self.recorder.save(parsed.prompt, text, self.pair(status, headers, content, events))
        record.finish()
        self.session.spend.settle(self.hold, self.request, status, b"" if record.stream else content)

    def parsed(self) -> ParsedRequest | None:
        """The request as the simulation reads it; None for one it would refuse but the real API took."""
        assert self.spec is not None and self.endpoint is not None
        try:
            return parse_request(self.endpoint, self.spec, self.request.content or b"{}")
        except InvalidRequest:
            return None

    def pair(self, status: int, headers: httpx2.Headers, content: bytes, events: list[Any] | None) -> dict[str, Any]:
        """The exchange as a fixture keeps it: allow-listed headers, the bodies as JSON, the stream as events."""
        answer: dict[str, Any] = {"status": status, "headers": kept_response_headers(headers.multi_items())}
        answer["events" if events is not None else "body"] = events if events is not None else json.loads(content)
        return {"live_model": self.real_model(),
                "request": {"method": self.request.method, "path": self.request.url.path,
                            "headers": kept_request_headers(self.request.headers.multi_items()), "body": self.body},
                "response": answer}


class _Tee:
    """Passes a response body on while keeping a copy, reports when it is done, and cuts it where told.

    With `cut_after`, the body is passed on event by event and, after that many events, the injected
    error event takes the place of the rest (the real stream is closed).
    """

    def __init__(self, done: Callable[[bytes, bool], None], faults: LiveFaults) -> None:
        self._done, self._faults, self._reported = done, faults, False
        self._chunks: list[bytes] = []
        self._pending, self._events, self.cut = b"", 0, False

    def keep(self, chunk: bytes) -> bytes:
        """The bytes to hand on for this chunk of the real body."""
        if self._faults.cut_after is None:
            self._chunks.append(chunk)
            return chunk
        passed = b""
        self._pending += chunk
        while not self.cut and b"\n\n" in self._pending:
            event, self._pending = self._pending.split(b"\n\n", 1)
            passed += event + b"\n\n"
            self._events += b"data:" in event
            if self._events >= self._faults.cut_after:
                passed, self.cut = passed + self._faults.error_event, True
        self._chunks.append(passed)
        return passed

    def close(self) -> None:
        if not self._reported:
            self._reported = True
            self._done(b"".join(self._chunks), self.cut)


class _SyncTee(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, tee: _Tee) -> None:
        self._inner, self._tee = inner, tee

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            yield self._tee.keep(chunk)
            if self._tee.cut:
                return

    def close(self) -> None:
        self._inner.close()
        self._tee.close()


class _AsyncTee(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, tee: _Tee) -> None:
        self._inner, self._tee = inner, tee

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield self._tee.keep(chunk)
            if self._tee.cut:
                return

    async def aclose(self) -> None:
        await self._inner.aclose()
        self._tee.close()


def _answer_locally(outcome: Outcome, request: httpx2.Request) -> httpx2.Response:
    """An injected fault, answered without contacting the API."""
    outcome.record.finish()
    if outcome.failure is not None:
        raise transport_failure(outcome.failure, request)
    return httpx2.Response(outcome.status, headers=outcome.headers, content=outcome.body, request=request)


def _before_sending(session: Session, recorder: Recorder | None, provider: str, request: httpx2.Request
                    ) -> tuple[_Exchange, httpx2.Request, LiveFaults]:
    """Map the alias, hold the worst case against the spend cap, and roll the scenario's faults.

    An injected fault is answered locally, so its hold goes at once; otherwise the attempt is logged and
    holds its worst case until the answer (or the failure) comes back.
    """
    exchange = _Exchange(session, recorder, provider, request)
    outgoing = exchange.outgoing()
    hold = session.spend.admit(request)
    injected = session.api.inject_fault(provider, request, session.clock.now())
    if injected.before is None:
        exchange.start(hold)
    else:
        session.spend.release(hold)
    return exchange, outgoing, injected


def _passed_through(response: httpx2.Response, request: httpx2.Request, exchange: _Exchange, faults: LiveFaults,
                    tee_type: type[_SyncTee] | type[_AsyncTee]) -> httpx2.Response:
    """The real response, handed to the SDK as it came (or cut short) while the record is filled in from a copy."""
    tee = _Tee(lambda body, cut: exchange.finished(response.status_code, body, response.headers, broken=cut), faults)
    return httpx2.Response(response.status_code, headers=response.headers, request=request,
                           stream=tee_type(response.stream, tee), extensions=response.extensions)  # type: ignore[arg-type]


class LiveTransport(httpx2.BaseTransport):
    """Sync live transport around a real httpx2 transport."""

    def __init__(self, session: Session, provider: str, inner: httpx2.BaseTransport | None = None, *,
                 recorder: Recorder | None = None) -> None:
        self.session, self.provider, self.recorder = session, provider, recorder
        self.inner = inner or httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        exchange, outgoing, injected = _before_sending(self.session, self.recorder, self.provider, request)
        if injected.before is not None:
            self.session.clock.sleep(injected.before.delay)
            return _answer_locally(injected.before, request)
        try:
            response = self.inner.handle_request(outgoing)
        except BaseException as err:
            exchange.failed(*_failure(err))
            raise
        return _passed_through(response, request, exchange, injected, _SyncTee)

    def close(self) -> None:
        self.inner.close()


class AsyncLiveTransport(httpx2.AsyncBaseTransport):
    """Async live transport around a real httpx2 transport."""

    def __init__(self, session: Session, provider: str, inner: httpx2.AsyncBaseTransport | None = None, *,
                 recorder: Recorder | None = None) -> None:
        self.session, self.provider, self.recorder = session, provider, recorder
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        exchange, outgoing, injected = _before_sending(self.session, self.recorder, self.provider, request)
        if injected.before is not None:
            await asyncio.sleep(injected.before.delay)
            return _answer_locally(injected.before, request)
        try:
            response = await self.inner.handle_async_request(outgoing)
        except BaseException as err:  # a transport error, or a cancellation (a hedge's loser, a timeout)
            exchange.failed(*_failure(err))
            raise
        return _passed_through(response, request, exchange, injected, _AsyncTee)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _failure(err: BaseException) -> tuple[str, bool]:
    """How a failed attempt is logged, and whether the request may have reached the API (and be billed)."""
    sent = not isinstance(err, (httpx2.ConnectError, httpx2.ConnectTimeout))
    if isinstance(err, httpx2.TimeoutException):
        return "timeout", sent
    if isinstance(err, asyncio.CancelledError):
        return "cancelled", sent
    return type(err).__name__, sent


def _usage_and_text(events: list[Any] | None, content: bytes) -> tuple[int, int, str | None]:
    """Tokens in and out from an answer's usage (0 where it gave none), and its text."""
    if events is not None:
        used_in = used_out = 0
        pieces: list[str] = []
        for event in events:
            if not isinstance(event, dict):
                continue
            usage = ((event.get("message") or {}).get("usage") or (event.get("response") or {}).get("usage")
                     or event.get("usage") or {})
            used_in = usage.get("input_tokens") or usage.get("prompt_tokens") or used_in
            used_out = usage.get("output_tokens") or usage.get("completion_tokens") or used_out
            pieces.append(_delta_text(event))
        return used_in, used_out, "".join(pieces)
    try:
        data = json.loads(content)
    except ValueError:
        return 0, 0, None
    billed: dict[str, Any] = data.get("usage") or {}
    used_in = billed.get("prompt_tokens", billed.get("input_tokens", 0))
    used_out = billed.get("completion_tokens", billed.get("output_tokens", 0))
    if "choices" in data:
        text = (data["choices"][0].get("message") or {}).get("content")
    elif data.get("object") == "response":
        text = "".join(part.get("text", "") for item in data.get("output", []) for part in item.get("content", []))
    else:
        text = "".join(block.get("text", "") for block in data.get("content", []) if block.get("type") == "text")
    return used_in, used_out, text


def _delta_text(event: dict[str, Any]) -> str:
    """The text one stream event adds: a Chat Completions chunk, a Responses delta or a Messages delta."""
    if event.get("choices"):
        return (event["choices"][0].get("delta") or {}).get("content") or ""
    if event.get("type") == "response.output_text.delta":
        return event.get("delta") or ""
    if event.get("type") == "content_block_delta" and (event.get("delta") or {}).get("type") == "text_delta":
        return event["delta"].get("text") or ""
    return ""
