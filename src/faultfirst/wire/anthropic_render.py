"""The Anthropic Messages API's JSON, as `anthropic` 2.x parses it.

Shapes follow the SDK's models (`anthropic.types.Message`, the `Raw*Event`
stream events, `CitationCharLocation`, `CitationContentBlockLocation`); tests validate every body built here
against them.
"""

from __future__ import annotations

import json
from typing import Any

from ..model.prompt import Block
from .framing import Answer, pieces, sse


def _citation(c: Any) -> dict[str, Any]:
    if c.blocks:
        return {"type": "content_block_location", "cited_text": c.cited_text, "document_index": c.document_index,
                "document_title": c.title, "start_block_index": c.start, "end_block_index": c.end, "file_id": None}
    return {
        "type": "char_location", "cited_text": c.cited_text, "document_index": c.document_index,
        "document_title": c.title, "start_char_index": c.start, "end_char_index": c.end, "file_id": None,
    }


def _text_block(block: Block, cite: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "text", "text": block.text}
    if cite:
        out["citations"] = [_citation(c) for c in block.citations] or None
    return out


def stop_reason(answer: Answer) -> str:
    if answer.truncated:
        return "max_tokens"
    if answer.tool or answer.calls:
        return "tool_use"
    if answer.ending in ("stop_sequence", "refusal"):
        return answer.ending
    return "end_turn"


def _stop_sequence(answer: Answer) -> str | None:
    return answer.stop_sequence if stop_reason(answer) == "stop_sequence" else None


def usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "service_tier": "standard",
    }


def delta_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """`message_delta.usage`: cumulative totals, input and cache counts included, as the API sends them.

    Clients that read usage from this last event alone (not merged with `message_start`'s) would
    otherwise see 0 input tokens. No service_tier: `MessageDeltaUsage` has none.
    """
    return {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "output_tokens": output_tokens}


def _tool_uses(rid: str, answer: Answer) -> list[tuple[str, str, str]]:
    """Each tool_use block of a reply that calls tools: its id, the tool's name, its input as JSON text.

    A forced (or demanded) tool is one block whose input is the whole reply; calls the model chose are a
    block each, in order.
    """
    if answer.tool:
        return [(f"toolu_{rid}", answer.tool, answer.text)]
    return [(f"toolu_{rid}_{i}", name, block.text) for i, (name, block) in enumerate(zip(answer.calls, answer.blocks,
                                                                                         strict=True))]


def _input(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}  # a tool call cut off at max_tokens arrives with what could be parsed: nothing


def content(rid: str, answer: Answer, cite: bool) -> list[dict[str, Any]]:
    if answer.tool or answer.calls:
        return [{"type": "tool_use", "id": id_, "name": name, "input": _input(text)}
                for id_, name, text in _tool_uses(rid, answer)]
    return [_text_block(b, cite) for b in answer.blocks]


def message(rid: str, model: str, answer: Answer, input_tokens: int, cite: bool) -> dict[str, Any]:
    reason = stop_reason(answer)
    return {
        "id": f"msg_{rid}", "type": "message", "role": "assistant", "model": model,
        "content": content(rid, answer, cite),
        "stop_reason": reason, "stop_sequence": answer.stop_sequence if reason == "stop_sequence" else None,
        "usage": usage(input_tokens, answer.output_tokens),
    }


def stream_events(rid: str, model: str, answer: Answer, input_tokens: int, cite: bool) -> list[tuple[int, bytes]]:
    """The SSE events of a streamed message, each tagged with how many output tokens precede it."""
    start: dict[str, Any] = {
        "id": f"msg_{rid}", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": usage(input_tokens, 1),
    }
    events: list[tuple[int, bytes]] = [(0, sse({"type": "message_start", "message": start}, "message_start"))]
    total_chars = max(1, len(answer.text))
    sent = 0

    def at() -> int:
        return round(answer.output_tokens * sent / total_chars)

    blocks: list[tuple[dict[str, Any], list[tuple[str, str, Any]]]]  # each block's start and its deltas
    if answer.tool or answer.calls:
        blocks = [(
            {"type": "tool_use", "id": id_, "name": name, "input": {}},
            [("input_json_delta", "partial_json", p) for p in pieces(text)],
        ) for id_, name, text in _tool_uses(rid, answer)]
    else:
        blocks = []
        for b in answer.blocks:
            start_block: dict[str, Any] = {"type": "text", "text": ""}
            if cite:
                start_block["citations"] = []
            deltas: list[tuple[str, str, Any]] = (
                [("citations_delta", "citation", _citation(c)) for c in b.citations] if cite else [])
            deltas += [("text_delta", "text", p) for p in pieces(b.text)]
            blocks.append((start_block, deltas))
    for index, (start_block, deltas) in enumerate(blocks):
        events.append((at(), sse({"type": "content_block_start", "index": index, "content_block": start_block},
                                 "content_block_start")))
        if index == 0:
            events.append((at(), sse({"type": "ping"}, "ping")))
        for kind, key, value in deltas:
            if isinstance(value, str):
                sent += len(value)
            events.append((at(), sse({"type": "content_block_delta", "index": index,
                                      "delta": {"type": kind, key: value}}, "content_block_delta")))
        events.append((at(), sse({"type": "content_block_stop", "index": index}, "content_block_stop")))
    if answer.dropped:
        return events  # the connection closed before the event that says why the reply ended
    end = answer.output_tokens
    events.append((end, sse({"type": "message_delta", "delta": {"stop_reason": stop_reason(answer),
                                                                "stop_sequence": _stop_sequence(answer)},
                             "usage": delta_usage(input_tokens, answer.output_tokens)}, "message_delta")))
    if answer.broken:
        return events  # the connection breaks after message_delta (the engine raises the transport error)
    events.append((end, sse({"type": "message_stop"}, "message_stop")))
    return events


def error(type_: str, message_: str, rid: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message_}, "request_id": f"req_{rid}"}


def stream_error(type_: str, message_: str, rid: str) -> bytes:
    """The `error` event Anthropic sends when a stream fails after it started."""
    return sse(error(type_, message_, rid), "error")
