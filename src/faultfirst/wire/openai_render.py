"""The OpenAI API's JSON, as `openai` 3.x parses it: Chat Completions and Responses.

Shapes follow the SDK's own models (`openai.types.chat.ChatCompletion`,
`ChatCompletionChunk`, `openai.types.responses.Response`); tests validate every
body built here against those models.
"""

from __future__ import annotations

import re
from typing import Any

from .framing import Answer, pieces, sse
from .openai_tools import chat_tool_calls, chat_tool_deltas, function_call_items

FINGERPRINT = "fp_faultfirst"


def finish_reason(answer: Answer) -> str:
    if answer.truncated:
        return "length"
    if answer.calls:
        return "tool_calls"
    if answer.structured_refusal:
        return "stop"  # a structured-output refusal ends normally; its text is in `message.refusal`
    return "content_filter" if answer.refused else "stop"


def _content(answer: Answer) -> str | None:
    """A refused reply with no text has content null (only a fixture scripts one), as has one that calls tools,
    and a structured-output refusal, whose text is `message.refusal`."""
    if answer.structured_refusal:
        return None
    return None if (answer.refused and not answer.text) or answer.calls else answer.text


def _message(rid: str, choice: int, answer: Answer) -> dict[str, Any]:
    refusal = answer.text if answer.structured_refusal else None
    message: dict[str, Any] = {"role": "assistant", "content": _content(answer), "refusal": refusal, "annotations": []}
    if answer.calls:
        message["tool_calls"] = chat_tool_calls(rid, choice, answer)
    return message


def chat_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    }


def chat_completion(rid: str, created: int, model: str, answer: Answer, input_tokens: int,
                    more: tuple[Answer, ...] = ()) -> dict[str, Any]:
    """A completion whose choice 0 is `answer` and choices 1.. are `more` (a request's `n`); usage counts them all."""
    answers = (answer, *more)
    return {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": index,
            "message": _message(rid, index, a),
            "logprobs": None,
            "finish_reason": finish_reason(a),
        } for index, a in enumerate(answers)],
        "usage": chat_usage(input_tokens, sum(a.output_tokens for a in answers)),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def chat_chunks(rid: str, created: int, model: str, answer: Answer,
                input_tokens: int, include_usage: bool) -> list[tuple[int, bytes]]:
    """The SSE events of a streamed completion, each tagged with how many output tokens precede it.

    A role chunk, one chunk per piece of text, a finish chunk, a usage chunk
    when `stream_options.include_usage` asked for one, then `[DONE]`.
    """
    base: dict[str, Any] = {"id": f"chatcmpl-{rid}", "object": "chat.completion.chunk", "created": created,
                            "model": model, "service_tier": "default", "system_fingerprint": FINGERPRINT}
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**base, "choices": [choice]})

    text, total = answer.text, answer.output_tokens
    events = [(0, chunk({"role": "assistant", "content": None if answer.calls else "", "refusal": None}))]
    if answer.calls:
        deltas = chat_tool_deltas(rid, answer)
    else:
        deltas, sent = [], 0
        field = "refusal" if answer.structured_refusal else "content"  # a refusal streams as refusal deltas
        for part in pieces(text):
            sent += len(part)
            deltas.append((sent, {field: part}))
    events += [(round(total * sent / max(1, len(text))), chunk(delta)) for sent, delta in deltas]
    if answer.dropped:
        return events  # the connection closed before the finish chunk
    events.append((total, chunk({}, finish_reason(answer))))
    if answer.broken:
        return events  # the connection breaks after the finish chunk (the engine raises the transport error)
    if include_usage:
        events.append((total, sse({**base, "choices": [], "usage": chat_usage(input_tokens, total)})))
    events.append((total, sse("[DONE]")))
    return events


def stream_error(message: str) -> bytes:
    """The event OpenAI sends when a stream fails after it started."""
    return sse({"error": {"message": message, "type": "server_error", "param": None, "code": None}})


def response(rid: str, created: int, model: str, answer: Answer, input_tokens: int,
             body: dict[str, Any]) -> dict[str, Any]:
    status = "incomplete" if answer.truncated or (answer.refused and not answer.structured_refusal) else "completed"
    reason = "max_output_tokens" if answer.truncated else "content_filter"
    fmt = (body.get("text") or {}).get("format") or {"type": "text"}
    return {
        "id": f"resp_{rid}",
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": (function_call_items(rid, answer, status) if answer.calls
                   else [message_item(rid, answer.text, status, refusal=answer.structured_refusal)]),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": fmt},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": answer.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + answer.output_tokens,
        },
        "user": None,
        "metadata": {},
    }


def message_item(rid: str, text: str, status: str, *, refusal: bool = False) -> dict[str, Any]:
    """A Responses output message holding one output_text part (a `refusal` part for a structured refusal)."""
    part = ({"type": "refusal", "refusal": text} if refusal
            else {"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    return {"type": "message", "id": f"msg_{rid}", "status": status, "role": "assistant", "content": [part]}


def error(message: str, type_: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_DURATION = re.compile(r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?|(?P<ms>\d+)ms")


def seconds(text: str) -> float | None:
    """The seconds in OpenAI's reset format (what `duration` writes), or None for text in another format."""
    match = _DURATION.fullmatch(text)
    if match is None or not text:
        return None
    if match["ms"]:
        return int(match["ms"]) / 1000
    return int(match["m"] or 0) * 60 + float(match["s"] or 0)


def duration(seconds: float) -> str:
    """OpenAI's reset-header format: '1s', '6m0s', '120ms'."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s" if minutes else f"{rest:.3g}s"
