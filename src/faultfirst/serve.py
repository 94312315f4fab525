"""`faultfirst serve`: the simulated world as an HTTP server on loopback.

Other tools (curl, another language's SDK, an app under development) can talk
to the simulated OpenAI and Anthropic routes over real HTTP. Time here is real
time, optionally sped up: a 2-second simulated reply takes 2 s, or 20 ms at
`speed=100`. The same engine decides every answer, so the scenarios, limits and
faults are the ones the lessons use. The server binds to loopback only: it is a
test double, not a service.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2

from .clock.virtual import RealTimeClock
from .service.outcome import Outcome
from .transports.served_headers import real_time_headers
from .wire.dialects import dialect_for
from .world import World


def provider_of(path: str, headers: httpx2.Headers) -> str:
    """Which API a request is for: the path decides wherever only one API has it (`wire.dialects.dialect_for`)."""
    return dialect_for(path, headers).provider  # httpx2.Headers: case-insensitive


class WorldServer(ThreadingHTTPServer):
    """A threading HTTP server around one world; the engine decides under a lock, the waiting happens outside it."""

    daemon_threads = True
    # socketserver's default backlog is 5: a burst of concurrent clients (a lesson's 80-request storm)
    # overflows it and the kernel resets connections before the world ever sees them.
    request_queue_size = 256

    def __init__(self, world: World, host: str, port: int, *, quiet: bool = True) -> None:
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError(f"faultfirst serve binds to loopback only (127.0.0.1 or ::1), not {host!r}")
        if not isinstance(world.clock, RealTimeClock):
            raise ValueError("a served world needs a RealTimeClock; use serve_world()")
        self.world, self.quiet, self.lock = world, quiet, threading.Lock()
        self.session = world._session  # the engine and clock requests go to, as a transport's (service/session.py)
        try:
            super().__init__((host, port), _Handler)
        except OSError as err:
            raise OSError(err.errno, f"cannot listen on {host}:{port} ({err.strerror}); "
                                     "is another server using that port? Choose another with --port") from None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host  # typeshed allows bytes (AF_UNIX); ours is IP
        return f"http://{host}:{port}"


def serve_world(*, seed: int = 0, scenario: str = "calm", host: str = "127.0.0.1", port: int = 8000,
                speed: float = 1.0, quiet: bool = True, fixtures: str | Path | None = None) -> WorldServer:
    """A server (not yet serving: call serve_forever) around a fresh world running in real time x speed.

    `fixtures` is a fixture file (or folder) whose scripted replies the served world gives first.
    """
    if not speed > 0:
        raise ValueError(f"speed must be a positive number of simulated seconds per real second, got {speed!r}")
    world = World(seed=seed, scenario=scenario, live=False, fixtures=fixtures)
    world.clock = RealTimeClock(speed)
    return WorldServer(world, host, port, quiet=quiet)


@contextlib.contextmanager
def serving(**options: Any) -> Iterator[WorldServer]:
    """A served world on a background thread for the duration of a `with` block (options as serve_world's)."""
    server = serve_world(**options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _Handler(BaseHTTPRequestHandler):
    server: WorldServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle's algorithm on, the second waits for the
    # client's delayed ACK (about 40 ms on Linux) on every response.
    disable_nagle_algorithm = True
    _sent_at: float | None = None  # when the response being sent was answered (None: no response of the world's)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header: the instant the response's reset headers are measured from."""
        return super().date_time_string(self._sent_at if timestamp is None else timestamp)  # None: now

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        request = httpx2.Request(self.command, f"{self.server.base_url}{self.path}",
                                 headers=list(self.headers.items()), content=body)
        session = self.server.session
        with self.server.lock:
            arrival = session.clock.now()
            outcome = session.api.plan(provider_of(request.url.path, request.headers), request, arrival)
        session.clock.advance_to(arrival + outcome.delay)
        try:
            if outcome.failure is not None:  # a reset: hang up without a response
                self.close_connection = True
            elif outcome.events is None:
                self._send_head(outcome, arrival, {"content-length": str(len(outcome.body))})
                self.wfile.write(outcome.body)
            else:
                self._stream(outcome, arrival)
        except (BrokenPipeError, ConnectionResetError):
            outcome.record.error = outcome.record.error or "closed by client"
            self.close_connection = True
        finally:
            outcome.record.finish()

    def _send_head(self, outcome: Outcome, arrival: float, extra: dict[str, str]) -> None:
        """Status and headers, waits and reset instants restated in real time from the instant `Date` states."""
        self._sent_at = time.time()
        self.send_response(outcome.status)
        speed = self.server.world.clock.speed  # type: ignore[attr-defined]  # a RealTimeClock (WorldServer checks)
        headers = real_time_headers(outcome.headers, speed=speed, arrival=arrival, wall=self._sent_at)
        for name, value in (headers | extra).items():
            self.send_header(name, value)
        self.end_headers()

    def _stream(self, outcome: Outcome, arrival: float) -> None:
        """Server-sent events, each written when its simulated time comes, with chunked transfer encoding."""
        self._send_head(outcome, arrival, {"transfer-encoding": "chunked"})
        clock = self.server.world.clock
        for event in outcome.events or []:
            clock.advance_to(arrival + event.offset)
            self.wfile.write(f"{len(event.data):x}\r\n".encode() + event.data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
