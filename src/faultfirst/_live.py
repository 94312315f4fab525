"""Live mode: the same World in front of the real OpenAI and Anthropic APIs.

The clients are real SDK clients whose transport goes to the real API (or to
whatever `base_url` says, which is how the tests aim it at `faultfirst serve`).
On the way out, the live transport maps the catalogue alias to the real model
id from `live_models.json`, refuses calls the spend cap cannot afford, and
injects the scenario's faults that happen before generation (so a 429 storm
costs nothing). On the way back it records the attempt in `world.requests`,
with tokens from the real usage and cost at catalogue prices, and, in record
mode, saves the exchange as a fixture the simulated world will replay.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx2

from ._catalog import LIVE_MODELS
from ._errors import ClientSideError
from ._outcome import Outcome
from ._parse import GENERATING_ROUTES, InvalidRequest, decode_body, parse_request
from ._records import RequestRecord
from ._spend import check_spend
from ._transport import transport_failure

if TYPE_CHECKING:
    from ._world import World



class UnknownAlias(ClientSideError, KeyError):
    """Live mode was asked for a model that has no real id in live_models.json."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class _Exchange:
    """One live attempt: the request as sent, and the record it fills in as the answer arrives."""

    def __init__(self, world: World, provider: str, request: httpx2.Request) -> None:
        self.world, self.provider, self.request = world, provider, request
        self.endpoint = GENERATING_ROUTES.get(request.url.path) if request.method == "POST" else None
        self.body = decode_body(request.content or b"{}") if self.endpoint else None
        self.alias = str((self.body or {}).get("model", ""))
        self.record: RequestRecord | None = None

    def outgoing(self) -> httpx2.Request:
        """The request to send: the real model id in the body, and no compression (so usage can be read)."""
        headers = [(k, v) for k, v in self.request.headers.multi_items()
                   if k.lower() not in ("content-length", "accept-encoding")] + [("accept-encoding", "identity")]
        content = self.request.content
        if self.body is not None and self.alias:
            ids = LIVE_MODELS[self.provider]
            if self.alias not in ids:
                raise UnknownAlias(f"live mode has no real model for {self.alias!r} ({self.provider}); the aliases are: "
                                   f"{', '.join(ids)} (see src/faultfirst/live_models.json)")
            content = json.dumps({**self.body, "model": ids[self.alias]}).encode()
        return httpx2.Request(self.request.method, self.request.url, headers=headers, content=content,
                              extensions=self.request.extensions)

    def start(self) -> None:
        self.record = RequestRecord(self.provider, self.alias, self.endpoint or self.request.url.path,
                                    self.world.clock.now(), stream=bool((self.body or {}).get("stream")))
        self.world.requests.append(self.record)

    def failed(self, error: str) -> None:
        assert self.record is not None
        self.record.error, self.record.latency = error, self.world.clock.now() - self.record.start

    def finished(self, status: int, content: bytes, content_type: str) -> None:
        """Fill in the record from the answer's usage; in record mode, save the exchange."""
        record = self.record
        assert record is not None
        record.status, record.latency = status, self.world.clock.now() - record.start
        if status >= 400:
            record.error = _error_name(content)
            return
        used_in, used_out, text = _usage_and_text(self.provider, content, "event-stream" in content_type)
        record.input_tokens, record.output_tokens = used_in, used_out
        spec = self.world.catalog.get(self.alias)
        if spec is not None:
            record.cost_usd = spec.cost_usd(used_in, used_out)
        if self.world._recorder is not None and text is not None and self.endpoint and spec is not None:
            try:
                prompt = parse_request(self.endpoint, spec, self.request.content or b"{}").prompt
            except InvalidRequest:
                return
            self.world._recorder.save(prompt, text)


class _Tee:
    """Passes a response body through unchanged while keeping a copy, and reports when it is done."""

    def __init__(self, done: Callable[[bytes], None]) -> None:
        self._done, self._chunks, self._reported = done, [], False

    def keep(self, chunk: bytes) -> bytes:
        self._chunks.append(chunk)
        return chunk

    def close(self) -> None:
        if not self._reported:
            self._reported = True
            self._done(b"".join(self._chunks))


class _SyncTee(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, tee: _Tee) -> None:
        self._inner, self._tee = inner, tee

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            yield self._tee.keep(chunk)

    def close(self) -> None:
        self._inner.close()
        self._tee.close()


class _AsyncTee(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, tee: _Tee) -> None:
        self._inner, self._tee = inner, tee

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield self._tee.keep(chunk)

    async def aclose(self) -> None:
        await self._inner.aclose()
        self._tee.close()


def _answer_locally(outcome: Outcome, request: httpx2.Request) -> httpx2.Response:
    """An injected fault, answered without contacting the API."""
    if outcome.failure is not None:
        raise transport_failure(outcome.failure, request)
    return httpx2.Response(outcome.status, headers=outcome.headers, content=outcome.body, request=request)


def _before_sending(world: World, provider: str, request: httpx2.Request
                    ) -> tuple[_Exchange, httpx2.Request, Outcome | None]:
    """Map the alias, check the spend cap, and roll the scenario's faults; log the attempt if it goes out."""
    exchange = _Exchange(world, provider, request)
    outgoing = exchange.outgoing()
    check_spend(world.spend_cap_usd, world.requests, world.catalog, request)
    injected = world._api.inject_fault(provider, request, world.clock.now())
    if injected is None:
        exchange.start()
    return exchange, outgoing, injected


def _passed_through(response: httpx2.Response, request: httpx2.Request, exchange: _Exchange,
                    tee_type: type[_SyncTee] | type[_AsyncTee]) -> httpx2.Response:
    """The real response, handed to the SDK unchanged while the record is filled in from a copy."""
    content_type = response.headers.get("content-type", "")
    tee = _Tee(lambda body: exchange.finished(response.status_code, body, content_type))
    return httpx2.Response(response.status_code, headers=response.headers, request=request,
                           stream=tee_type(response.stream, tee), extensions=response.extensions)  # type: ignore[arg-type]


class LiveTransport(httpx2.BaseTransport):
    """Sync live transport around a real httpx2 transport."""

    def __init__(self, world: World, provider: str, inner: httpx2.BaseTransport | None = None) -> None:
        self.world, self.provider = world, provider
        self.inner = inner or httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        exchange, outgoing, injected = _before_sending(self.world, self.provider, request)
        if injected is not None:
            self.world.clock.sleep(injected.delay)
            return _answer_locally(injected, request)
        try:
            response = self.inner.handle_request(outgoing)
        except httpx2.TransportError as err:
            exchange.failed("timeout" if isinstance(err, httpx2.TimeoutException) else type(err).__name__)
            raise
        return _passed_through(response, request, exchange, _SyncTee)

    def close(self) -> None:
        self.inner.close()


class AsyncLiveTransport(httpx2.AsyncBaseTransport):
    """Async live transport around a real httpx2 transport."""

    def __init__(self, world: World, provider: str, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.world, self.provider = world, provider
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        exchange, outgoing, injected = _before_sending(self.world, self.provider, request)
        if injected is not None:
            await asyncio.sleep(injected.delay)
            return _answer_locally(injected, request)
        try:
            response = await self.inner.handle_async_request(outgoing)
        except httpx2.TransportError as err:
            exchange.failed("timeout" if isinstance(err, httpx2.TimeoutException) else type(err).__name__)
            raise
        return _passed_through(response, request, exchange, _AsyncTee)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _error_name(content: bytes) -> str:
    try:
        error = json.loads(content).get("error") or {}
    except (ValueError, AttributeError):
        return "error"
    return str(error.get("code") or error.get("type") or "error") if isinstance(error, dict) else "error"


def _usage_and_text(provider: str, content: bytes, streamed: bool) -> tuple[int, int, str | None]:
    """Tokens in and out from a response's usage, and its text when it was not streamed."""
    if streamed:
        used_in = used_out = 0
        for line in content.decode("utf-8", "replace").splitlines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            try:
                event = json.loads(line[6:])
            except ValueError:
                continue
            usage = (event.get("message") or {}).get("usage") or event.get("usage") or {}
            used_in = usage.get("input_tokens") or usage.get("prompt_tokens") or used_in
            used_out = usage.get("output_tokens") or usage.get("completion_tokens") or used_out
        return used_in, used_out, None
    try:
        data = json.loads(content)
    except ValueError:
        return 0, 0, None
    usage: dict[str, Any] = data.get("usage") or {}
    used_in = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    used_out = usage.get("completion_tokens", usage.get("output_tokens", 0))
    if "choices" in data:
        text = (data["choices"][0].get("message") or {}).get("content")
    elif data.get("object") == "response":
        text = "".join(part.get("text", "") for item in data.get("output", []) for part in item.get("content", []))
    else:
        text = "".join(block.get("text", "") for block in data.get("content", []) if block.get("type") == "text")
    return used_in, used_out, text
