"""Pins the SDK and tenacity facts the lesson "Retries, backoff and jitter" (book/tier2/retries.md) states.

Facts already pinned elsewhere are referenced by the lesson and not repeated here:
the retried statuses, the back-off formula and the 120-second retry-after limit
(tests/test_sdk_facts.py), the world's SDK and tenacity sleeps on the virtual
clock (tests/test_virtual_time.py), and the daily quota that openai will not
wait for (tests/test_faults.py). Facts about an SDK's own code are pinned
against `httpx2.MockTransport`; facts about tenacity against tenacity alone.
"""

from __future__ import annotations

import email.utils
import random
import types

import anthropic
import httpx2
import openai
import pytest
import tenacity

from faultfirst import World
from tests.conftest import ask

SDKS = [pytest.param(openai, openai.OpenAI, id="openai"), pytest.param(anthropic, anthropic.Anthropic, id="anthropic")]


def _scripted(cls, answers: list, *, max_retries: int = 2, seen: list | None = None):
    """A real SDK client whose transport plays `answers` in order: a status code, or an exception to raise."""
    script = list(answers)

    def handler(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(request)
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if answer == 200:
            return httpx2.Response(200, json=_OK[cls], request=request)
        return httpx2.Response(answer, json={"error": {"type": "api_error", "message": "scripted"}}, request=request)

    return cls(api_key="test", max_retries=max_retries,
               http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


_OK = {
    openai.OpenAI: {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "ok"}}]},
    anthropic.Anthropic: {"id": "m", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
                          "stop_sequence": None, "content": [{"type": "text", "text": "ok"}],
                          "usage": {"input_tokens": 1, "output_tokens": 1}},
}


def _call(client):
    if isinstance(client, openai.OpenAI):
        return client.chat.completions.create(model="m", messages=ask("hi"))
    return client.messages.create(model="m", max_tokens=5, messages=ask("hi"))


def _headers(**values: str) -> httpx2.Headers:
    return httpx2.Headers({name.replace("_", "-"): value for name, value in values.items()})


@pytest.fixture
def no_sleep(monkeypatch):
    """Record the SDKs' retry sleeps instead of sleeping (both sync clients sleep through `_base_client.time`)."""
    World()  # installs the world's routing, whose stand-in calls the real time.sleep for non-world clients
    slept: list[float] = []
    import time

    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


# -- what the SDKs retry by themselves ---------------------------------------------------------------


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_sdks_retry_connection_errors_and_timeouts(sdk, cls, no_sleep):
    """A refused connection and a read timeout are retried like a 5xx, and the call then succeeds."""
    request = httpx2.Request("POST", "https://example.invalid")
    seen: list = []
    client = _scripted(cls, [httpx2.ConnectError("refused", request=request),
                             httpx2.ReadTimeout("slow", request=request), 200], seen=seen)
    assert _call(client) is not None and len(seen) == 3 and len(no_sleep) == 2


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_timeouts_are_connection_errors_and_overload_is_a_server_error(sdk, cls):
    """APITimeoutError subclasses APIConnectionError; 429 is RateLimitError; anthropic's 529 is an
    InternalServerError."""
    assert issubclass(sdk.APITimeoutError, sdk.APIConnectionError)
    assert issubclass(sdk.RateLimitError, sdk.APIStatusError)
    assert issubclass(sdk.InternalServerError, sdk.APIStatusError)
    assert issubclass(anthropic.OverloadedError, anthropic.InternalServerError)
    assert issubclass(sdk.APIStatusError, sdk.APIError) and issubclass(sdk.APIConnectionError, sdk.APIError)


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_first_retry_waits_half_a_second_then_doubles(sdk, cls, no_sleep):
    """n in min(0.5 * 2**n, 8) is the number of retries already taken: 0.375-0.5 s, then 0.75-1 s."""
    client = _scripted(cls, [503, 503, 200])
    _call(client)
    first, second = no_sleep
    assert 0.375 <= first <= 0.5 and 0.75 <= second <= 1.0


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_attempts_are_numbered_in_a_header(sdk, cls, no_sleep):
    """Each attempt carries x-stainless-retry-count: 0 on the first, 1 on the first retry, and so on."""
    seen: list = []
    _call(_scripted(cls, [503, 503, 200], seen=seen))
    assert [r.headers["x-stainless-retry-count"] for r in seen] == ["0", "1", "2"]


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_retry_after_is_waited_exactly_without_jitter(sdk, cls):
    """A retry-after of 7 s (within openai's 120 s limit) is slept exactly: no jitter is added."""
    client = _scripted(cls, [])
    options = sdk._models.FinalRequestOptions(method="post", url="/x", max_retries=2)
    for _ in range(20):
        assert client._calculate_retry_timeout(2, options, _headers(retry_after="7")) == 7


@pytest.mark.parametrize("cls, retried", [(openai.OpenAI, False), (anthropic.Anthropic, True)],
                         ids=["openai", "anthropic"])
def test_x_should_retry_true_does_not_override_openais_long_retry_after_refusal(cls, retried):
    """x-should-retry: true with retry-after 200 s: openai refuses first (120 s limit), anthropic obeys the header."""
    response = httpx2.Response(429, headers=_headers(retry_after="200", x_should_retry="true"))
    assert _scripted(cls, [])._should_retry(response) is retried
    assert _scripted(cls, [])._should_retry(httpx2.Response(500, headers=_headers(x_should_retry="false"))) is False


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_retry_after_ms_wins_and_an_http_date_is_read(sdk, cls):
    """retry-after-ms is preferred over retry-after; retry-after may also be an HTTP date."""
    client = _scripted(cls, [])
    assert client._parse_retry_after_header(_headers(retry_after_ms="2500", retry_after="9")) == 2.5
    import time

    date = email.utils.formatdate(time.time() + 90, usegmt=True)
    assert 80 <= client._parse_retry_after_header(_headers(retry_after=date)) <= 91


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_a_zero_retry_after_falls_back_to_backoff(sdk, cls):
    """retry-after: 0 (or none) is not a wait: the SDK uses its own back-off, 0.375-0.5 s on the first retry."""
    client = _scripted(cls, [])
    options = sdk._models.FinalRequestOptions(method="post", url="/x", max_retries=2)
    assert 0.375 <= client._calculate_retry_timeout(2, options, _headers(retry_after="0")) <= 0.5
    assert 0.375 <= client._calculate_retry_timeout(2, options, _headers()) <= 0.5


def test_anthropic_waits_at_most_about_fifty_days():
    """anthropic 2.x caps a retry-after at 4,294,967 s (about 50 days), a platform limit of time.sleep."""
    client = _scripted(anthropic.Anthropic, [])
    options = anthropic._models.FinalRequestOptions(method="post", url="/x", max_retries=2)
    assert client._calculate_retry_timeout(2, options, _headers(retry_after="99999999")) == 4_294_967.0


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_with_options_sets_max_retries_on_a_copy(sdk, cls):
    """client.with_options(max_retries=0) returns a copy with no retries and leaves the original alone."""
    client = _scripted(cls, [])
    assert client.max_retries == 2 and client.with_options(max_retries=0).max_retries == 0 and client.max_retries == 2


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_a_429_without_retry_after_is_retried(sdk, cls, no_sleep):
    """A 429 is retried on its status alone, even with no retry-after: the SDK cannot tell 'too large' from 'too
    soon'."""
    seen: list = []
    with pytest.raises(sdk.RateLimitError):
        _call(_scripted(cls, [429, 429, 429], seen=seen))
    assert len(seen) == 3


def test_a_rate_limit_error_carries_the_response_headers():
    """RateLimitError.response.headers holds retry-after, for a policy of your own to read (both SDKs)."""
    world = World(seed=0, scenario="rate-limited")
    for client, call in ((world.openai(), lambda c,
                          i: c.chat.completions.create(model="gpt-strong", messages=ask(f"{i}"),
                                                                                   max_tokens=60_000)),
                         (world.anthropic(), lambda c, i: c.messages.create(model="claude-strong", messages=ask(f"{i}"),
                                                                            max_tokens=20_000))):
        with pytest.raises((openai.RateLimitError, anthropic.RateLimitError)) as err:
            for i in range(10):
                call(client, i)
        refused = err.value
        assert isinstance(refused, (openai.RateLimitError, anthropic.RateLimitError))
        assert int(refused.response.headers["retry-after"]) >= 1 and refused.status_code == 429


# -- tenacity 9.2 --------------------------------------------------------------------------------------


def test_tenacity_defaults_retry_everything_forever_without_waiting():
    """Retrying() retries on any Exception, never stops and never waits, unless told otherwise."""
    retrying = tenacity.Retrying()
    assert isinstance(retrying.retry, tenacity.retry_if_exception_type)
    assert retrying.retry.exception_types is Exception
    assert retrying.stop is tenacity.stop_never and isinstance(retrying.wait, tenacity.wait_none)
    failures = iter(range(50))

    def flaky():
        if next(failures) < 49:
            raise ValueError("a bad request is retried too")
        return "49 retries later"

    assert retrying(flaky) == "49 retries later"


def test_wait_random_exponential_is_full_jitter_from_the_global_random(monkeypatch):
    """wait_random_exponential(multiplier=m, max=M) draws random.uniform(0, min(m * 2**(n-1), M)) after attempt n."""
    assert tenacity.wait_full_jitter is tenacity.wait_random_exponential
    drawn: list[tuple[float, float]] = []
    def uniform(a: float, b: float) -> float:
        drawn.append((a, b))
        return b

    monkeypatch.setattr(tenacity.wait.random, "uniform", uniform)
    wait = tenacity.wait_random_exponential(multiplier=0.5, max=8)
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    for n in range(1, 8):
        state.attempt_number = n
        wait(state)
    assert drawn == [(0, min(0.5 * 2 ** (n - 1), 8)) for n in range(1, 8)]
    assert tenacity.wait.random is random  # the module-level generator: seed it, or use your own


def _failing_policy(world: World, **options) -> tuple[list[float], BaseException]:
    """Run a policy against a call that always fails, on the world's clock; return attempt times and the error."""
    times: list[float] = []

    def fails():
        times.append(world.clock.now())
        world.clock.sleep(1.0)  # each attempt takes a second
        raise ConnectionError("down")

    with pytest.raises(BaseException) as err:
        tenacity.Retrying(sleep=world.clock.sleep, **options)(fails)
    return times, err.value


def test_stop_after_delay_can_overshoot_by_one_wait_and_stop_before_delay_cannot():
    """stop_after_delay(d) stops at the first failure >= d s after the start; stop_before_delay(d) won't sleep past
    d."""
    after, _ = _failing_policy(World(), wait=tenacity.wait_fixed(7), stop=tenacity.stop_after_delay(20))
    before, _ = _failing_policy(World(), wait=tenacity.wait_fixed(7), stop=tenacity.stop_before_delay(20))
    assert after == [0, 8, 16, 24]  # the attempt at 16 ends at 17 < 20, so it sleeps again and tries at 24
    assert before == [0, 8, 16]  # the attempt at 16 ends at 17, and 17 + 7 would sleep past 20: it stops instead


def test_stop_after_delay_overshoots_by_up_to_one_wait_plus_one_attempt(monkeypatch):
    """Against tenacity alone, on a fake clock: the last wait starts before d, and the attempt after it runs in full."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(tenacity, "time", types.SimpleNamespace(monotonic=lambda: now[0]))  # its clock for stops
    starts: list[float] = []

    def fails():
        starts.append(now[0])
        sleep(5.0)  # each attempt takes 5 s
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        tenacity.Retrying(sleep=sleep, wait=tenacity.wait_fixed(7), stop=tenacity.stop_after_delay(20),
                          reraise=True)(fails)
    # failures at 5 and 17 are before 20, so it waits 7 s after each; the attempt at 24 fails at 29 and stops it
    assert starts == [0, 12, 24] and now[0] == 29
    assert now[0] - 20 > 7  # more than one wait past the delay: one wait plus (most of) one attempt
    assert now[0] - 20 <= 7 + 5


def test_reraise_decides_between_retry_error_and_the_last_exception():
    """reraise=False raises RetryError (the last attempt inside); reraise=True raises the last exception itself."""
    _, wrapped = _failing_policy(World(), stop=tenacity.stop_after_attempt(3))
    _, bare = _failing_policy(World(), stop=tenacity.stop_after_attempt(3), reraise=True)
    assert isinstance(wrapped, tenacity.RetryError) and isinstance(wrapped.last_attempt.exception(), ConnectionError)
    assert wrapped.last_attempt.attempt_number == 3 and isinstance(bare, ConnectionError)


def test_an_exception_the_predicate_rejects_propagates_at_once():
    """retry_if_exception(predicate) retries only when predicate(err) is true; otherwise the error surfaces as
    itself."""
    seen: list[BaseException] = []
    def never(err: BaseException) -> bool:
        seen.append(err)
        return False

    times, err = _failing_policy(World(), retry=tenacity.retry_if_exception(never), stop=tenacity.stop_after_attempt(5))
    assert times == [0] and isinstance(err, ConnectionError) and seen == [err]


def test_a_wait_function_sees_the_failed_attempt_and_its_exception():
    """A wait callable gets the failed attempt's number (from 1) and exception; it runs before stop, even after the
    last."""
    seen: list[tuple[int, str]] = []

    def wait(state: tenacity.RetryCallState) -> float:
        assert state.outcome is not None
        seen.append((state.attempt_number, type(state.outcome.exception()).__name__))
        return 0.0

    _failing_policy(World(), wait=wait, stop=tenacity.stop_after_attempt(3))
    # Three attempts, three waits computed: tenacity asks for the wait before it asks whether to stop.
    assert seen == [(1, "ConnectionError"), (2, "ConnectionError"), (3, "ConnectionError")]


def test_or_of_stop_conditions_checks_left_to_right_and_stops_at_the_first():
    """a | b | c is stop_any, which asks each condition in order and stops asking at the first true one."""
    asked: list[str] = []

    def condition(name: str, answer: bool):
        def ask(state: tenacity.RetryCallState) -> bool:
            asked.append(name)
            return answer

        return ask

    stop = tenacity.stop_after_attempt(1) | condition("second", True) | condition("third", True)
    assert isinstance(stop, tenacity.stop.stop_any)
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = 1
    assert stop(state) and asked == []
    state.attempt_number = 0
    assert stop(state) and asked == ["second"]


def test_stop_is_asked_only_when_the_predicate_wants_a_retry():
    """tenacity consults stop only after retry= has said yes, so a stop condition can spend a shared budget."""
    asked: list[int] = []

    def stop(state: tenacity.RetryCallState) -> bool:
        asked.append(state.attempt_number)
        return state.attempt_number >= 3

    _failing_policy(World(), retry=tenacity.retry_if_exception(lambda e: False), stop=stop)
    assert asked == []
    _failing_policy(World(), retry=tenacity.retry_if_exception(lambda e: True), stop=stop)
    assert asked == [1, 2, 3]


@pytest.mark.parametrize("sdk, cls", SDKS)
def test_the_packages_retryable_status_is_the_sdks_own_rule(sdk, cls):
    """faultfirst.retryable_status, which every lesson uses, agrees with `_should_retry` on every status."""
    from faultfirst import retryable_status

    client = _scripted(cls, [])
    disagree = [code for code in range(400, 600)
                if client._should_retry(httpx2.Response(code)) is not retryable_status(code)]
    assert disagree == []
