"""`faultfirst serve`: the simulated world over real HTTP on loopback, for the real SDKs and for curl."""

from __future__ import annotations

import calendar
import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from faultfirst.serve import WorldServer, serve_world, serving
from tests.conftest import ask, first_text

pytestmark = pytest.mark.loopback
ASK = ask("Say this is a test")


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[WorldServer]:
    scenario, speed = getattr(request, "param", ("calm", 1000))
    with serving(seed=0, scenario=scenario, port=0, speed=speed) as running:
        yield running


def test_openai_sdk_over_http(server):
    """The real OpenAI client with base_url at the server: create, stream with usage, and the Responses API."""
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="any", max_retries=0)
    completion = client.chat.completions.create(model="gpt-fast", messages=ASK)
    assert completion.choices[0].message.content == "This is a test."
    chunks = list(client.chat.completions.create(model="gpt-fast", messages=ASK, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "This is a test."
    assert chunks[-1].usage and completion.usage
    assert chunks[-1].usage.completion_tokens == completion.usage.completion_tokens
    assert client.responses.create(model="gpt-strong", input="Say this is a test").output_text == "This is a test."
    assert [r.endpoint for r in server.world.requests] == ["chat.completions", "chat.completions", "responses"]


def test_anthropic_sdk_over_http(server):
    """The real Anthropic client with base_url at the server: create, the stream helper and count_tokens."""
    client = anthropic.Anthropic(base_url=server.base_url, api_key="any", max_retries=0)
    message = client.messages.create(model="claude-fast", max_tokens=50, messages=ASK)
    with client.messages.stream(model="claude-fast", max_tokens=50, messages=ASK) as stream:
        assert "".join(stream.text_stream) == first_text(message) == "This is a test."
    assert client.messages.count_tokens(model="claude-fast", messages=ASK).input_tokens == message.usage.input_tokens


def test_errors_keep_their_shape_over_http(server):
    """Unknown models and routes get the APIs' 404s, raised by each SDK as NotFoundError."""
    with pytest.raises(openai.NotFoundError, match="gpt-fast, gpt-strong"):
        openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="any", max_retries=0).chat.completions.create(
            model="gpt-huge", messages=ASK)
    with pytest.raises(anthropic.NotFoundError):
        anthropic.Anthropic(base_url=server.base_url, api_key="any", max_retries=0).post(
            "/v1/complete", cast_to=object, body={})


@pytest.mark.parametrize("server", [("rate-limited", 5)], indirect=True)
def test_rate_limits_over_http(server):
    """A concurrent burst of 80 against the rate-limited world (60 per minute) gets 429s with retry-after.

    The burst arrives over about 0.5 real seconds on an idle machine; at 5x real time nothing would be
    refused only if a loaded machine spread it over 4 seconds, when the bucket has refilled by 20.
    """
    from concurrent.futures import ThreadPoolExecutor

    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="any", max_retries=0)

    def one(i):
        try:
            return client.chat.completions.create(model="gpt-fast", max_tokens=5,
                                                  messages=[{"role": "user", "content": f"q{i}"}])
        except openai.RateLimitError as err:
            return err

    with ThreadPoolExecutor(max_workers=80) as pool:
        results = list(pool.map(one, range(80)))
    limited = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert 0 < len(limited) < 80 and int(limited[0].response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("server", [("overloaded", 1000)], indirect=True)
def test_connection_reset_over_http(server):
    """A reset closes the connection without a response; the SDK raises APIConnectionError."""
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="any", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        for i in range(150):  # 2% resets: one comes within the first few dozen calls
            with contextlib.suppress(openai.InternalServerError):
                client.chat.completions.create(model="gpt-fast", messages=[{"role": "user", "content": f"{i}"}],
                                               max_tokens=5)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_plain_curl(server):
    """curl gets the same JSON the SDK parses."""
    body = json.dumps({"model": "gpt-fast", "messages": ASK})
    out = subprocess.run(["curl", "-s", f"{server.base_url}/v1/chat/completions", "-H",
                          "content-type: application/json",
                          "-d", body], capture_output=True, text=True, check=True, timeout=30).stdout
    assert json.loads(out)["choices"][0]["message"]["content"] == "This is a test."


def test_port_in_use_is_a_clear_error():
    """Starting on a port that is taken says so and suggests --port."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(OSError, match="--port"):
            serve_world(port=taken.getsockname()[1])
    finally:
        taken.close()


def test_only_loopback():
    """The server refuses to listen anywhere but loopback."""
    with pytest.raises(ValueError, match="loopback only"):
        serve_world(host="0.0.0.0", port=0)


def test_cli_reports_a_port_in_use(capsys):
    """`faultfirst serve` on a taken port exits with status 2 and a readable message (no traceback)."""
    from faultfirst.cli import main

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        status = main(["serve", "--port", str(taken.getsockname()[1])])
    finally:
        taken.close()
    assert status == 2 and "--port" in capsys.readouterr().err


def test_both_sdks_list_their_own_models(server):
    """GET /v1/models is one path for two APIs: each SDK gets its own provider's models, in its own shape."""
    gpt = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="any", max_retries=0)
    claude = anthropic.Anthropic(base_url=server.base_url, api_key="any", max_retries=0)
    assert {m.id for m in gpt.models.list()} == {m.name for m in server.world.catalog.for_provider("openai")}
    listed = list(claude.models.list())
    assert {m.id for m in listed} == {m.name for m in server.world.catalog.for_provider("anthropic")}
    assert all(m.type == "model" for m in listed)


@pytest.fixture
def served_by_the_cli(tmp_path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`faultfirst serve` as a learner starts it, on a free port, in the outage scenario (OpenAI down from t=0).

    At 10x the outage's 20 simulated minutes last two real minutes: margin enough for a loaded CI machine
    (at 1000x they lasted 1.2 s, and a busy run saw OpenAI answer again before curl asked).
    """
    import sys
    from pathlib import Path

    command = [str(Path(sys.executable).with_name("faultfirst")), "serve", "--scenario", "outage", "--seed", "5",
               "--speed", "10", "--port", "0", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None  # stdout=PIPE
        banner = process.stdout.readline()
        assert "scenario 'outage'" in banner and "seed 5" in banner and "10x real time" in banner, banner
        yield banner.rsplit(" on ", 1)[1].strip(), process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_the_serve_command_end_to_end(served_by_the_cli):
    """The command serves the scenario it was given, to both SDKs and to curl, and stops cleanly on Ctrl-C."""
    import signal

    url, process = served_by_the_cli
    gpt = openai.OpenAI(base_url=f"{url}/v1", api_key="any", max_retries=0)
    with pytest.raises(openai.InternalServerError):  # the outage: OpenAI is down for the first 20 minutes
        gpt.chat.completions.create(model="gpt-fast", messages=ASK)
    claude = anthropic.Anthropic(base_url=url, api_key="any", max_retries=0)
    assert first_text(claude.messages.create(model="claude-fast", max_tokens=50, messages=ASK)) == "This is a test."
    if shutil.which("curl"):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{url}/v1/chat/completions",
                              "-H", "content-type: application/json", "-d", json.dumps({"model": "gpt-fast",
                              "messages": ASK})], capture_output=True, text=True, check=True, timeout=30).stdout
        assert out == "503"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0 and "Traceback" not in process.stderr.read()


def test_cli_refuses_a_speed_that_is_not_positive(capsys):
    """`faultfirst serve --speed 0` would never answer; it exits with status 2 and says why."""
    from faultfirst.cli import main

    assert main(["serve", "--port", "0", "--speed", "0"]) == 2 and "speed must be a positive" in capsys.readouterr().err


def test_served_waits_and_resets_are_restated_in_real_time():
    """At speed 10: retry-after 30 simulated seconds is 3 real (retry-after-ms 3000); OpenAI's reset durations are
    divided by the speed; Anthropic's reset instants are real UTC, the world's wait after the `Date` instant."""
    from faultfirst.transports.served_headers import real_time_headers
    from faultfirst.wire.framing import EPOCH

    world_reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH + 130))
    headers = {"retry-after": "30", "x-ratelimit-reset-tokens": "6m0s", "x-ratelimit-reset-requests": "500ms",
               "anthropic-ratelimit-tokens-reset": world_reset, "request-id": "req_1"}
    real = real_time_headers(headers, speed=10, arrival=100.0, wall=1_800_000_000.2)
    assert real == {"retry-after": "3", "retry-after-ms": "3000", "x-ratelimit-reset-tokens": "36s",
                    "x-ratelimit-reset-requests": "50ms", "request-id": "req_1",
                    "anthropic-ratelimit-tokens-reset": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_800_000_004))}


@pytest.mark.parametrize("server", [("rate-limited", 100)], indirect=True)
def test_a_fast_served_world_tells_clients_real_waits(server):
    """Over HTTP at speed 100, a 429's retry-after-ms is what both SDKs wait (read before retry-after, openai 3.57.0 and
    anthropic 2.14.0 `_parse_retry_after_header`), under the 600 ms a simulated minute takes; every reset instant
    lies between the response's Date and that minute later."""
    from email.utils import parsedate_to_datetime

    ask_a_lot: dict[str, Any] = {"max_tokens": 60_000, "messages": ASK}
    limited = {}
    for name, client, model, error in (
            ("openai", openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="any", max_retries=0), "gpt-strong",
             openai.RateLimitError),
            ("anthropic", anthropic.Anthropic(base_url=server.base_url, api_key="any", max_retries=0, timeout=60),
             "claude-fast", anthropic.RateLimitError)):
        with pytest.raises(error) as caught:
            for _ in range(3):  # 60,000 tokens each against 100,000 a minute: the second or third is refused
                if isinstance(client, openai.OpenAI):
                    client.chat.completions.create(model=model, **ask_a_lot)
                else:
                    client.messages.create(model=model, **ask_a_lot)
        refused = caught.value
        assert isinstance(refused, (openai.RateLimitError, anthropic.RateLimitError))
        limited[name] = (client, refused.response.headers)
    for client, headers in limited.values():
        wait_ms = int(headers["retry-after-ms"])
        assert 0 < wait_ms <= 600 and headers["retry-after"] == "1"
        assert client._parse_retry_after_header(headers) == wait_ms / 1000
    date = parsedate_to_datetime(limited["anthropic"][1]["date"]).timestamp()
    for name in ("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset"):
        reset = calendar.timegm(time.strptime(limited["anthropic"][1][name], "%Y-%m-%dT%H:%M:%SZ"))
        assert date <= reset <= date + 2, name  # 0.6 real seconds at most, rounded up, Date rounded down
