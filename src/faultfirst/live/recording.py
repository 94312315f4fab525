"""Record mode: real request/response pairs saved as fixtures that the simulated world replays.

Each recorded exchange becomes one fixture entry: the `match` (provider,
model alias, system prompt, user text) and `reply` that replay needs, and a
`recorded` object holding the pair itself - the request as the SDK sent it
and the response as the API answered (its JSON body, or its stream's events),
each with an allow-list of headers. Keys travel only in headers
(`authorization`, `x-api-key`) and account details only in headers
(`openai-organization`, `openai-project`, `anthropic-organization-id`, cookies),
none of which is on the allow-list, so none can reach a fixture file.

Refreshing the simulated answers from real models is: run lessons with
`FAULTFIRST_LIVE=1 FAULTFIRST_RECORD=src/faultfirst/fixtures/recorded.json`,
review the diff, regenerate the notebooks, commit (see the "Running live"
appendix).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..model.fixtures import load_fixtures
from ..model.prompt import Prompt

_REQUEST_HEADERS = ("content-type", "anthropic-version", "anthropic-beta", "openai-beta")
_RESPONSE_HEADERS = ("content-type", "request-id", "x-request-id", "retry-after", "openai-processing-ms")
_RESPONSE_HEADER_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")


def kept_request_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The request headers a fixture keeps: content negotiation and API versions, never credentials."""
    return {k.lower(): v for k, v in headers if k.lower() in _REQUEST_HEADERS}


def kept_response_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The response headers a fixture keeps: content type, request ids and rate-limit state, never account ids."""
    return {k.lower(): v for k, v in headers
            if k.lower() in _RESPONSE_HEADERS or k.lower().startswith(_RESPONSE_HEADER_PREFIXES)}


def sse_events(content: bytes) -> list[Any]:
    """The JSON payloads of a server-sent-event stream, in order (`[DONE]` and non-JSON lines skipped)."""
    events = []
    for line in content.decode("utf-8", "replace").splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            try:
                events.append(json.loads(line[5:]))
            except ValueError:
                continue
    return events


class Recorder:
    """Appends (or replaces) one fixture per distinct prompt in a JSON fixture file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            load_fixtures(path)  # a corrupt file is named and left alone, never overwritten

    def save(self, prompt: Prompt, reply: str, exchange: dict[str, Any]) -> None:
        """Save `reply` for `prompt`, with the exchange it came from (already stripped of credentials)."""
        match: dict[str, str] = {"provider": prompt.provider, "model": prompt.model, "equals": prompt.user}
        if prompt.system:
            match["system_contains"] = prompt.system
        entries = json.loads(self.path.read_text(encoding="utf-8"))["fixtures"] if self.path.exists() else []
        entries = [e for e in entries if e.get("match") != match]
        entries.append({"match": match, "reply": reply, "recorded": exchange})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the file and rename over it, so an interrupted run never leaves half a fixture file.
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".json.tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"fixtures": entries}, out, ensure_ascii=False, indent=2)
            out.write("\n")
        os.replace(temporary, self.path)
