"""The check of fallbacks-adapter, and the mistakes it is tested against."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .._framework import Mistake, Report, checked_world, mistakes, register
from .common import (
    ALWAYS_OVERLOADED,
    ALWAYS_RESET,
    ONE_PER_MINUTE,
    QUESTION,
    SCHEMA,
    SYSTEM,
    NeutralRequest,
    answer_problem,
    long_prompt,
    short_error,
)
from .hints import (
    HINT_ALL_BLOCKS,
    HINT_ANSWER,
    HINT_ANTHROPIC_SYSTEM,
    HINT_CHAINED,
    HINT_CONNECTION,
    HINT_EXCEED,
    HINT_LIMIT,
    HINT_NO_SYSTEM,
    HINT_NOT_FOUND,
    HINT_ONE_ATTEMPT,
    HINT_OPENAI_SYSTEM,
    HINT_REJECTED,
    HINT_RETRYABLE,
    HINT_SCHEMA,
    HINT_TOO_LONG_ANTHROPIC,
    HINT_TOO_LONG_OPENAI,
)
from .wire import BLOCKS, BLOCKS_ASKED, expect_raises, on_the_wire, refuse_every_attempt, scripted, system_detail


@register("fallbacks-adapter")
def check_adapter(fn: Callable[..., Any], report: Report) -> None:
    with report.case("OpenAI (gpt-fast): the instructions in a system message, the user text, max_tokens passed on") \
            as notes:
        request = NeutralRequest(QUESTION, SYSTEM)
        notes.detail = system_detail(*on_the_wire(report, fn, seed=31, model="gpt-fast", request=request), request)
    with report.case("Anthropic (claude-strong): the instructions in system=, the user text, max_tokens passed on") \
            as notes:
        request = NeutralRequest(QUESTION, SYSTEM)
        notes.detail = system_detail(*on_the_wire(report, fn, seed=32, model="claude-strong", request=request),
                                     request)
    with report.case("no system prompt (both providers): none is sent, not even a template's frame"):
        on_the_wire(report, fn, seed=33, model="claude-fast", request=NeutralRequest(QUESTION))
        on_the_wire(report, fn, seed=33, model="gpt-strong", request=NeutralRequest(QUESTION))
    with report.case("a reply cut at max_tokens=12 (both providers): the limit reaches the API"):
        for model in ("gpt-fast", "claude-fast"):
            world, _ = on_the_wire(report, fn, seed=34, model=model,
                                   request=NeutralRequest(QUESTION, SYSTEM, max_tokens=12))
            report.expect(world.requests[0].stop_reason in ("length", "max_tokens"),
                          f"{model}: the reply was not cut at max_tokens=12 (stop reason "
                          f"{world.requests[0].stop_reason!r})", hint=HINT_LIMIT)
    with report.case("Japanese and emoji, on both providers"):
        text = "検索結果を二文で要約してください。🔎 再試行の嵐とは何ですか？"
        on_the_wire(report, fn, seed=35, model="gpt-strong", request=NeutralRequest(text, SYSTEM))
        on_the_wire(report, fn, seed=35, model="claude-strong", request=NeutralRequest(text, SYSTEM))
    with report.case("a Claude reply in two text blocks (as a reply with citations comes): all of its text") as notes:
        world = scripted(checked_world(seed=38, max_attempts=10), BLOCKS, contains=BLOCKS_ASKED)
        on_the_wire(report, fn, seed=38, model="claude-fast", request=NeutralRequest(BLOCKS_ASKED, SYSTEM), world=world)
        notes.detail = f"the reply's content: {len(BLOCKS)} text blocks"
    with report.case("structured output: JSON that fits the schema from both providers"):
        for seed, model in ((36, "gpt-fast"), (37, "claude-fast")):
            world = checked_world(seed=seed, max_attempts=10)
            got = report.call(fn, world, model, NeutralRequest("Extract the title and year: 'Retry storms' (2021).",
                                                               max_tokens=200, schema=SCHEMA))
            problem = answer_problem(got)
            report.expect(problem is None, problem or "", hint=HINT_ANSWER)
            try:
                data = json.loads(got.text)
            except ValueError:
                data = None
            report.expect(isinstance(data, dict), f"{model}: the text is not a JSON object: {got.text[:80]!r}",
                          hint=HINT_SCHEMA)
            report.expect(isinstance(data.get("title"), str) and isinstance(data.get("year"), int),
                          f"{model}: the JSON does not fit the schema (title: string, year: integer): "
                          f"{got.text[:80]!r}",
                          hint=HINT_SCHEMA)
    with report.case("an outage, an overload and a reset are Unavailable") as notes:
        world = checked_world(seed=41, scenario="outage", max_attempts=10)
        expect_raises(report, fn, world, "gpt-fast", NeutralRequest(QUESTION), "Unavailable",
                      what="OpenAI's 503 in `outage`",
                      hint=HINT_RETRYABLE)
        world = checked_world(seed=42, scenario="bad-day", max_attempts=10)
        world.clock.sleep(11 * 60)
        expect_raises(report, fn, world, "claude-fast", NeutralRequest(QUESTION), "Unavailable",
                      what="Anthropic's 500 at minute 11 of `bad-day`", hint=HINT_RETRYABLE)
        world = checked_world(seed=43, scenario=ALWAYS_OVERLOADED, max_attempts=10)
        expect_raises(report, fn, world, "claude-strong", NeutralRequest(QUESTION), "Unavailable",
                      what="Anthropic's 529",
                      hint=HINT_RETRYABLE)
        world = checked_world(seed=44, scenario=ALWAYS_RESET, max_attempts=10)
        expect_raises(report, fn, world, "gpt-strong", NeutralRequest(QUESTION), "Unavailable",
                      what="a connection reset",
                      hint=HINT_CONNECTION)
        notes.detail = "503, 500, 529, connection reset"
    with report.case("a 429, a 408 and a 409 are Unavailable: the statuses worth another attempt") as notes:
        world = checked_world(seed=45, scenario=ONE_PER_MINUTE, max_attempts=10)
        _, err = report.outcome(fn, world, "gpt-fast", NeutralRequest(QUESTION))
        report.expect(err is None, f"the first request under a limit of one per minute failed: {short_error(err)}")
        expect_raises(report, fn, world, "gpt-fast", NeutralRequest(QUESTION), "Unavailable",
                      what="a 429 (rate limited)",
                      hint=HINT_RETRYABLE)
        for seed, status, model in ((39, 408, "claude-fast"), (40, 409, "gpt-fast")):
            world = checked_world(seed=seed, max_attempts=10)
            refuse_every_attempt(world, status)
            expect_raises(report, fn, world, model, NeutralRequest(QUESTION), "Unavailable",
                          what=f"a {status} from {model}",
                          hint=HINT_RETRYABLE)
        notes.detail = "429, 408, 409"
    with report.case("a prompt over the context window is TooLong (both providers)"):
        world = checked_world(seed=46, max_attempts=10)
        expect_raises(report, fn, world, "gpt-fast", NeutralRequest(long_prompt(130_000)), "TooLong",
                      what="a 130,000-token prompt to gpt-fast (128,000 window)", hint=HINT_TOO_LONG_OPENAI)
        world = checked_world(seed=47, max_attempts=10)
        expect_raises(report, fn, world, "claude-fast", NeutralRequest(long_prompt(210_000)), "TooLong",
                      what="a 210,000-token prompt to claude-fast (200,000 window)", hint=HINT_TOO_LONG_ANTHROPIC)
    with report.case("a prompt that fits, with max_tokens that does not fit beside it, is TooLong (Anthropic)"):
        world = checked_world(seed=50, max_attempts=10)
        expect_raises(report, fn, world, "claude-fast", NeutralRequest(long_prompt(190_000), max_tokens=20_000),
                      "TooLong", what="a 190,000-token prompt with max_tokens=20,000 to claude-fast (200,000 window)",
                      hint=HINT_EXCEED)
    with report.case("a malformed request (max_tokens=-200) is Rejected (both providers)"):
        for seed, model in ((48, "gpt-fast"), (49, "claude-fast")):
            world = checked_world(seed=seed, max_attempts=10)
            expect_raises(report, fn, world, model, NeutralRequest(QUESTION, max_tokens=-200), "Rejected",
                          what=f"max_tokens=-200 to {model} (a 400)", hint=HINT_REJECTED)
    with report.case("a 404 (the model retired) is Rejected: a wrong configuration, not an outage"):
        world = checked_world(seed=51, max_attempts=10)
        refuse_every_attempt(world, 404)
        expect_raises(report, fn, world, "claude-fast", NeutralRequest(QUESTION), "Rejected",
                      what="a 404 from claude-fast",
                      hint=HINT_NOT_FOUND)


mistakes(
    "fallbacks-adapter",
    Mistake("the instructions sent to Anthropic as a 'system' message, OpenAI's shape",
            changes=(('message = world.anthropic().messages.create(\n'
                      '            model=model, max_tokens=request.max_tokens, messages=[{"role": "user", "content": '
                      'request.user}], **extra)',
                      'turns = [{"role": "system", "content": extra.pop("system")}] if "system" in extra else []\n'
                      '        message = world.anthropic().messages.create(\n'
                      '            model=model, max_tokens=request.max_tokens,\n'
                      '            messages=turns + [{"role": "user", "content": request.user}], **extra)'),),
            hint=HINT_ANTHROPIC_SYSTEM),
    Mistake("the instructions folded into OpenAI's user message",
            changes=(('messages.insert(0, {"role": "system", "content": system})',
                      'messages[0]["content"] = system + "\\n\\n" + request.user'),),
            hint=HINT_OPENAI_SYSTEM),
    Mistake("always sends Claude a system prompt, the template's frame around nothing when the request has none",
            changes=(("if request.system:  # Claude", "if True:  # Claude"),),
            hint=HINT_NO_SYSTEM),
    Mistake("reads only the first of Claude's content blocks",
            changes=(('Answer("".join(block.text for block in message.content if block.type == "text"), model)',
                      "Answer(message.content[0].text, model)"),),
            hint=HINT_ALL_BLOCKS),
    Mistake("misses Anthropic's 'exceed context limit' (prompt plus max_tokens over the window)",
            changes=((' or "exceed context limit" in said', ""),),
            hint=HINT_EXCEED),
    Mistake("misses OpenAI's context_length_exceeded code (only Anthropic's message is matched)",
            changes=(('isinstance(err, openai.BadRequestError) and err.code == "context_length_exceeded"', "False"),),
            hint=HINT_TOO_LONG_OPENAI),
    Mistake("Unavailable for 429 and 5xx only, the lesson's old list: a 408 or 409 becomes Rejected",
            changes=(("retryable_status(err.status_code)", "err.status_code == 429 or err.status_code >= 500"),),
            hint=HINT_RETRYABLE),
    Mistake("catches timeouts only, so a dropped connection escapes as the SDK's APIConnectionError",
            changes=(("except (openai.APIConnectionError, anthropic.APIConnectionError) as err:",
                      "except (openai.APITimeoutError, anthropic.APITimeoutError) as err:"),),
            hint=HINT_CONNECTION),
    Mistake("leaves the SDK's own retries on (max_retries=2, the SDK's default)",
            changes=(("world.openai().chat", "world.openai(max_retries=2).chat"),),
            hint=HINT_ONE_ATTEMPT),
    Mistake("a 404 treated as an outage (Unavailable), so a retired model is hidden by the fallback",
            changes=(("if retryable_status(err.status_code):  # 408",
                      "if retryable_status(err.status_code) or err.status_code == 404:  # 408"),),
            hint=HINT_NOT_FOUND),
    Mistake("raises Unavailable without `from err`",
            changes=(('raise Unavailable(f"{model}: HTTP {err.status_code}") from err',
                      'raise Unavailable(f"{model}: HTTP {err.status_code}")'),),
            hint=HINT_CHAINED),
)

