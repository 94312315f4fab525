"""A streamed Responses API reply, as the events `openai` 3.57.0 parses (`types/responses/response_stream_event.py`).

The order is the API's: `response.created` and `response.in_progress` (the response so far, with no
output), then per output item `response.output_item.added`; for a message `response.content_part.added`,
`response.output_text.delta` per piece, `response.output_text.done` (for a refusal part,
`response.refusal.delta` and `response.refusal.done`), `response.content_part.done`; for
a function call `response.function_call_arguments.delta` per piece and `.done`; then
`response.output_item.done` with the finished item; last `response.completed` with the whole response
(or `response.incomplete` when it was cut at `max_output_tokens`). Every event carries a
`sequence_number` counting from 0. `client.responses.stream()` (`lib/streaming/responses/_responses.py`)
builds its snapshot from these and needs `response.created` first and each item added before its deltas.
"""

from __future__ import annotations

from typing import Any

from .framing import Answer, pieces, sse
from .openai_render import response


def response_events(rid: str, created: int, model: str, answer: Answer, input_tokens: int,
                    body: dict[str, Any]) -> list[tuple[int, bytes]]:
    """The SSE events of a streamed response, each tagged with how many output tokens precede it."""
    final = response(rid, created, model, answer, input_tokens, body)
    events: list[tuple[int, bytes]] = []
    total, length = answer.output_tokens, max(1, len(answer.text))
    sent = 0

    def emit(kind: str, **fields: Any) -> None:
        data = {"type": kind, "sequence_number": len(events), **fields}
        events.append((round(total * sent / length), sse(data, kind)))

    opening = {**final, "status": "in_progress", "output": [], "incomplete_details": None, "usage": None}
    emit("response.created", response=opening)
    emit("response.in_progress", response=opening)
    for index, item in enumerate(final["output"]):
        where = {"output_index": index, "item_id": item["id"]}
        if item["type"] == "function_call":
            emit("response.output_item.added", output_index=index,
                 item={**item, "arguments": "", "status": "in_progress"})
            for part in pieces(item["arguments"]):
                sent += len(part)
                emit("response.function_call_arguments.delta", **where, delta=part)
            emit("response.function_call_arguments.done", **where, arguments=item["arguments"])
        else:
            part_done = item["content"][0]
            field = "refusal" if part_done["type"] == "refusal" else "text"  # a refusal part streams as refusal
            emit("response.output_item.added", output_index=index,
                 item={**item, "content": [], "status": "in_progress"})
            emit("response.content_part.added", **where, content_index=0, part={**part_done, field: ""})
            for part in pieces(part_done[field]):
                sent += len(part)
                if field == "refusal":
                    emit("response.refusal.delta", **where, content_index=0, delta=part)
                else:
                    emit("response.output_text.delta", **where, content_index=0, delta=part, logprobs=[])
            if field == "refusal":
                emit("response.refusal.done", **where, content_index=0, refusal=part_done["refusal"])
            else:
                emit("response.output_text.done", **where, content_index=0, text=part_done["text"], logprobs=[])
            emit("response.content_part.done", **where, content_index=0, part=part_done)
        emit("response.output_item.done", output_index=index, item=item)
    if answer.dropped or answer.broken:
        return events  # the stream closes (or breaks) before the event that says how the reply ended
    sent = length
    emit("response.completed" if final["status"] == "completed" else "response.incomplete", response=final)
    return events
