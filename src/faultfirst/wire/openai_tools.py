"""Tool calls on the OpenAI wire, as `openai` 3.57.0 parses them.

Chat Completions: `message.tool_calls` is a list of `ChatCompletionMessageFunctionToolCall`
(`id`, `type: "function"`, `function: {name, arguments}`; `types/chat/chat_completion_message_function_tool_call.py`),
with `content` null; streamed, each call opens with a `ChoiceDeltaToolCall` carrying its `index`, `id`,
`type` and name with empty arguments, then argument pieces under the same `index`
(`types/chat/chat_completion_chunk.py`; `lib/streaming/chat/_completions.py` merges them by index).
Responses: each call is an output item `ResponseFunctionToolCall` (`type: "function_call"`, `id`,
`call_id`, `name`, `arguments`, `status`; `types/responses/response_function_tool_call.py`).
"""

from __future__ import annotations

from typing import Any

from .framing import Answer, pieces


def call_id(rid: str, choice: int, index: int) -> str:
    """The id a follow-up turn answers the call by (`tool_call_id` / `call_id`); unique within the world."""
    return f"call_{rid}_{choice}_{index}"


def _calls(answer: Answer) -> list[tuple[str, str]]:
    """(name, arguments) of each call; a reply cut at max_tokens keeps the calls it reached."""
    return [(name, block.text) for name, block in zip(answer.calls, answer.blocks, strict=False)]


def chat_tool_calls(rid: str, choice: int, answer: Answer) -> list[dict[str, Any]]:
    return [{"id": call_id(rid, choice, i), "type": "function", "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(_calls(answer))]


def chat_tool_deltas(rid: str, answer: Answer) -> list[tuple[int, dict[str, Any]]]:
    """The deltas of a streamed reply that calls tools, each with how many characters of arguments precede it."""
    deltas: list[tuple[int, dict[str, Any]]] = []
    sent = 0
    for i, (name, arguments) in enumerate(_calls(answer)):
        opening = {"index": i, "id": call_id(rid, 0, i), "type": "function",
                   "function": {"name": name, "arguments": ""}}
        deltas.append((sent, {"tool_calls": [opening]}))
        for part in pieces(arguments):
            sent += len(part)
            deltas.append((sent, {"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
    return deltas


def function_call_items(rid: str, answer: Answer, status: str) -> list[dict[str, Any]]:
    """The Responses output items of a reply that calls tools."""
    return [{"type": "function_call", "id": f"fc_{rid}_{i}", "call_id": call_id(rid, 0, i), "name": name,
             "arguments": arguments, "status": status}
            for i, (name, arguments) in enumerate(_calls(answer))]
