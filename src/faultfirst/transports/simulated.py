"""httpx2 transports that carry the real SDKs' requests into the simulated API.

The SDKs build real `httpx2.Request`s and parse real `httpx2.Response`s; only
the network is replaced. The engine says what happens and after how long; a
transport spends that time on the world's clock (directly in sync code, with
`asyncio.sleep` on the world's virtual-time loop in async code) and then
answers, or raises the httpx2 exception a real network failure raises, which
the SDKs turn into their own `APITimeoutError` / `APIConnectionError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx2

from ..service.outcome import Outcome, StreamEvent
from ..service.session import Session
from ..wire.client_errors import NotOnWorldLoop


def transport_failure(kind: str, request: httpx2.Request) -> httpx2.TransportError:
    """The httpx2 error a real network raises for `kind` ('timeout', 'reset' or 'broken').

    The SDKs map it to their own (APITimeoutError, APIConnectionError).
    """
    if kind == "timeout":
        return httpx2.ReadTimeout("The read operation timed out (simulated)", request=request)
    if kind == "broken":
        return httpx2.RemoteProtocolError("peer closed connection without sending complete message body "
                                          "(incomplete chunked read) (simulated)", request=request)
    return httpx2.RemoteProtocolError("Server disconnected without sending a response. (simulated)", request=request)


def _response(outcome: Outcome, request: httpx2.Request,
              stream: httpx2.SyncByteStream | httpx2.AsyncByteStream | None) -> httpx2.Response:
    if stream is None:
        return httpx2.Response(outcome.status, headers=outcome.headers, content=outcome.body, request=request)
    return httpx2.Response(outcome.status, headers=outcome.headers, stream=stream, request=request)


class _StreamProgress:
    """Tracks how far a client read a stream, so an early close is recorded honestly."""

    def __init__(self, session: Session, outcome: Outcome, arrival: float) -> None:
        self.session, self.outcome, self.arrival = session, outcome, arrival
        self.delivered = 0

    def deliver(self, event: StreamEvent) -> bytes:
        self.delivered += 1
        return event.data

    def close(self) -> None:
        events = self.outcome.events or []
        if self.delivered < len(events):
            record = self.outcome.record
            read = events[self.delivered - 1] if self.delivered else events[0]
            record.error = record.error or "closed by client"
            record.latency = max(0.0, self.session.clock.now() - self.arrival)
            record.bill(self.session.catalog[record.model], record.input_tokens, read.tokens)
            self.delivered = len(events)
        self.outcome.record.finish()


class _SyncEvents(httpx2.SyncByteStream):
    def __init__(self, progress: _StreamProgress, request: httpx2.Request) -> None:
        self._progress, self._request = progress, request

    def __iter__(self) -> Iterator[bytes]:
        progress, clock = self._progress, self._progress.session.clock
        for event in progress.outcome.events or []:
            clock.advance_to(progress.arrival + event.offset)
            yield progress.deliver(event)
        if progress.outcome.stream_failure:
            clock.advance_to(progress.arrival + progress.outcome.stream_failure_at)
            raise transport_failure(progress.outcome.stream_failure, self._request)

    def close(self) -> None:
        self._progress.close()


class _AsyncEvents(httpx2.AsyncByteStream):
    def __init__(self, progress: _StreamProgress, request: httpx2.Request) -> None:
        self._progress, self._request = progress, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        progress, clock = self._progress, self._progress.session.clock
        for event in progress.outcome.events or []:
            await asyncio.sleep(progress.arrival + event.offset - clock.now())
            yield progress.deliver(event)
        if progress.outcome.stream_failure:
            await asyncio.sleep(progress.arrival + progress.outcome.stream_failure_at - clock.now())
            raise transport_failure(progress.outcome.stream_failure, self._request)

    async def aclose(self) -> None:
        self._progress.close()


def _finish_unless_streaming(outcome: Outcome) -> None:
    """An attempt with no stream to read is over once its delay is spent: its record is final.

    A stream's record is final when the client closes the stream (`_StreamProgress.close`), which is when
    it is known how much was read.
    """
    if outcome.events is None or outcome.failure:
        outcome.record.finish()


class WorldTransport(httpx2.BaseTransport):
    """Sync transport: the clock jumps forward by each answer's latency."""

    def __init__(self, session: Session, provider: str) -> None:
        self.session, self.provider = session, provider

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        outcome, arrival = self.session.plan(self.provider, request)
        clock = self.session.clock
        clock.advance_to(arrival + outcome.delay)
        _finish_unless_streaming(outcome)
        if outcome.failure:
            raise transport_failure(outcome.failure, request)
        if outcome.events is None:
            return _response(outcome, request, None)
        return _response(outcome, request, _SyncEvents(_StreamProgress(self.session, outcome, arrival), request))


class AsyncWorldTransport(httpx2.AsyncBaseTransport):
    """Async transport: waits with `asyncio.sleep` on the world's virtual-time loop.

    Concurrent requests therefore overlap in virtual time exactly as they
    would in real time, and cancelling a task (a hedged request's loser, an
    `asyncio.timeout`) cancels its wait and is recorded as cancelled.
    """

    def __init__(self, session: Session, provider: str) -> None:
        self.session, self.provider = session, provider

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if asyncio.get_running_loop() is not self.session.runner.loop:
            raise NotOnWorldLoop(
                "This async client belongs to a simulated world: run your coroutine with world.run(main()), "
                "which executes it on the world's virtual-time event loop. Awaiting it on another loop "
                "(for example directly in a Jupyter cell) would wait in real time."
            )
        await request.aread()
        outcome, arrival = self.session.plan(self.provider, request)
        clock = self.session.clock
        try:
            await asyncio.sleep(outcome.delay)
        except asyncio.CancelledError:
            record = outcome.record
            record.status, record.error, record.stop_reason = None, "cancelled", None
            record.latency = clock.now() - arrival
            record.finish()
            raise
        _finish_unless_streaming(outcome)
        if outcome.failure:
            raise transport_failure(outcome.failure, request)
        if outcome.events is None:
            return _response(outcome, request, None)
        return _response(outcome, request, _AsyncEvents(_StreamProgress(self.session, outcome, arrival), request))
