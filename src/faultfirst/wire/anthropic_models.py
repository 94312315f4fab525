"""Anthropic's `GET /v1/models` entries, with the capabilities clients read to choose what to send.

anthropic 2.14.0 types each entry as `ModelInfo` (`types/model_info.py`): `capabilities` is a
`ModelCapabilities` (`types/model_capabilities.py`) whose keys "are always present for all known
capabilities", each a `{"supported": bool}` or a richer object (context_management, effort,
server_tools, thinking). A client that checks `capabilities.structured_outputs.supported` before
sending `output_config`, or `citations` before enabling them, must see what the simulated API
actually does: batches, citations on plain-text documents and JSON-schema output yes; images,
PDFs, server tools, code execution, effort, thinking and context management no (thinking can only
be `disabled`). The simulated models belong to no model `line`, and none is scheduled to retire.
"""

from __future__ import annotations

from typing import Any


def _support(supported: bool) -> dict[str, bool]:
    return {"supported": supported}


_NO = _support(False)

CAPABILITIES: dict[str, Any] = {
    "batch": _support(True),
    "citations": _support(True),
    "code_execution": _NO,
    "context_management": {**_NO, "clear_thinking_20251015": _NO, "clear_tool_uses_20250919": _NO,
                           "compact_20260112": _NO},
    "effort": {**_NO, "low": _NO, "medium": _NO, "high": _NO, "max": _NO, "xhigh": _NO},
    "image_input": _NO,
    "pdf_input": _NO,
    "server_tools": {**_NO, "code_execution": _NO, "web_search": _NO},
    "structured_outputs": _support(True),
    "thinking": {**_NO, "types": {"adaptive": _NO, "between_tools": _NO, "disabled": _support(True), "enabled": _NO}},
}


def model_info(name: str, *, created_at: str, max_input_tokens: int, max_tokens: int) -> dict[str, Any]:
    """One active simulated model, as `client.models.list()` parses it."""
    return {"type": "model", "id": name, "display_name": name, "created_at": created_at, "lifecycle": "active",
            "max_input_tokens": max_input_tokens, "max_tokens": max_tokens, "capabilities": CAPABILITIES,
            "deprecated_at": None, "retires_at": None, "line": None}
