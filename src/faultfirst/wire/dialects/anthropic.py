"""Anthropic's wire: Messages and token counting, their errors, `anthropic-ratelimit-*` headers and Message Batches.

The bodies come from the renderers (`wire/anthropic_render.py`, `wire/anthropic_models.py`) and the
parser (`wire/parse.py`); this module says which of them each route uses and holds the API's own wording
for what it refuses, as anthropic 2.x's clients receive it.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from ...model.catalog import ModelSpec
from .. import anthropic_render
from ..anthropic_models import model_info
from ..framing import EPOCH, RFC3339, Answer, rfc3339
from ..parse import InvalidRequest, ParsedRequest, parse_anthropic_messages
from .base import Admission, Dialect, Generation

_LIMIT_UNITS = {"requests": "requests per minute", "tokens": "tokens per minute",
                "requests-per-day": "requests per day"}
# The documented error types by status.
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}


class AnthropicDialect(Dialect):
    provider = "anthropic"
    generating = {"/v1/messages": "messages"}
    counting = {"/v1/messages/count_tokens": "messages.count_tokens"}
    batch_api = "message-batches"
    batch_routes = re.compile(r"^/v1/messages/batches(?:/(?P<id>[\w-]+)(?:/(?P<action>results|cancel))?)?$")
    api_key_env = "ANTHROPIC_API_KEY"
    request_id_header = "request-id"
    sdk_header = "anthropic-version"

    def serves(self, path: str) -> bool:
        return path == "/v1/messages" or path.startswith("/v1/messages/")  # every path under it, batches included

    def parse(self, endpoint: str, body: dict[str, Any], spec: ModelSpec) -> ParsedRequest:
        return parse_anthropic_messages(body, spec, counting=endpoint == "messages.count_tokens")

    def check_limits(self, spec: ModelSpec, parsed: ParsedRequest) -> None:
        wanted, prompt, limit = parsed.max_tokens, parsed.input_tokens, spec.context_window
        if wanted is not None and wanted > spec.max_output_tokens:
            raise InvalidRequest(f"max_tokens: {wanted} > {spec.max_output_tokens}, which is the maximum allowed "
                                 f"number of output tokens for {spec.name}")
        if prompt > limit:
            raise InvalidRequest(f"prompt is too long: {prompt} tokens > {limit} maximum")
        if wanted is not None and prompt + wanted > limit:
            raise InvalidRequest(f"input length and `max_tokens` exceed context limit: {prompt} + {wanted} > "
                                 f"{limit}, decrease input length or `max_tokens` and try again")

    def token_count(self, endpoint: str, input_tokens: int) -> dict[str, Any]:
        return {"input_tokens": input_tokens}

    def reply(self, endpoint: str, generation: Generation) -> dict[str, Any]:
        g = generation
        return anthropic_render.message(g.rid, g.model, g.answer, g.parsed.input_tokens, _cites(g.parsed))

    def stream(self, endpoint: str, generation: Generation) -> list[tuple[int, bytes]]:
        g = generation
        return anthropic_render.stream_events(g.rid, g.model, g.answer, g.parsed.input_tokens, _cites(g.parsed))

    def stream_error_event(self, rid: str) -> bytes:
        return anthropic_render.stream_error("overloaded_error", "Overloaded", rid)

    def stop_reason(self, answer: Answer) -> str:
        return anthropic_render.stop_reason(answer)

    def model_list(self, models: list[ModelSpec]) -> dict[str, Any]:
        data = [model_info(m.name, created_at=rfc3339(0), max_input_tokens=m.context_window,
                           max_tokens=m.max_output_tokens) for m in models]
        return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}

    def error(self, status: int, message: str, rid: str, error_type: str | None = None) -> dict[str, Any]:
        return anthropic_render.error(error_type or _ERROR_TYPES.get(status, "api_error"), message, rid)

    def invalid(self, err: InvalidRequest, rid: str) -> dict[str, Any]:
        return anthropic_render.error("invalid_request_error", err.message, rid)

    def not_found(self, method: str, path: str, rid: str) -> dict[str, Any]:
        return anthropic_render.error("not_found_error", "Not Found", rid)

    def no_such_object(self, what: str, rid: str) -> dict[str, Any]:
        return anthropic_render.error("not_found_error", f"No such object: {what}", rid)

    def unknown_model(self, model: object, *, valid: list[str], retired: bool, rid: str) -> dict[str, Any]:
        reason = " has been retired" if retired else ""
        return anthropic_render.error("not_found_error", f"model: {model}{reason}. The simulated {self.provider} "
                                                         f"models are: {', '.join(valid)}.", rid)

    def server_error(self, rid: str, *, overloaded: bool) -> tuple[int, dict[str, Any]]:
        if overloaded:
            return 529, anthropic_render.error("overloaded_error", "Overloaded", rid)
        return 500, anthropic_render.error("api_error", "Internal server error", rid)

    def rate_limited(self, model: str, admission: Admission, rid: str) -> dict[str, Any]:
        kind, bucket = admission.limited_by, admission.limiting
        assert kind is not None and bucket is not None, "only a refused admission is reported"
        return anthropic_render.error(
            "rate_limit_error",
            f"This request would exceed your organization's rate limit of {bucket.capacity} {_LIMIT_UNITS[kind]} "
            f"for {model}. Please reduce the prompt length or the maximum tokens requested, or try again later.",
            rid)

    def limit_headers(self, admission: Admission, now: float) -> dict[str, str]:
        requests, tokens = admission.requests, admission.tokens
        return {
            "anthropic-ratelimit-requests-limit": str(requests.capacity),
            "anthropic-ratelimit-requests-remaining": str(max(0, int(requests.level))),
            "anthropic-ratelimit-requests-reset": rfc3339(now + requests.reset_after(now)),
            "anthropic-ratelimit-tokens-limit": str(tokens.capacity),
            "anthropic-ratelimit-tokens-remaining": str(max(0, int(tokens.level))),
            "anthropic-ratelimit-tokens-reset": rfc3339(now + tokens.reset_after(now)),
        }

    def real_time(self, headers: Mapping[str, str], *, speed: float, arrival: float, wall: float) -> dict[str, str]:
        """The `anthropic-ratelimit-*-reset` instants, as real UTC times: the world's wait after `wall`, sped up."""
        out = {}
        for name, value in headers.items():
            if name.startswith("anthropic-ratelimit-") and name.endswith("-reset"):
                world_instant = calendar.timegm(time.strptime(value, RFC3339)) - EPOCH
                real_wait = max(0.0, world_instant - arrival) / speed
                out[name] = time.strftime(RFC3339, time.gmtime(math.ceil(wall + real_wait)))
        return out

    def batch_result(self, reply: dict[str, Any]) -> dict[str, Any]:
        return {"type": "succeeded", "message": reply}

    def batch_error(self, error: dict[str, Any]) -> dict[str, Any]:
        return {"type": "errored", "error": error}

    def batch_cancelled(self) -> dict[str, Any]:
        return {"type": "canceled"}


DIALECT = AnthropicDialect()


def _cites(parsed: ParsedRequest) -> bool:
    """Whether the reply carries citations: when any document asked for them."""
    return any(d.citations for d in parsed.prompt.documents)
