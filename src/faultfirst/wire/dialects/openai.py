"""OpenAI's wire: Chat Completions and Responses, their errors, `x-ratelimit-*` headers and Files + Batches.

The bodies come from the renderers (`wire/openai_render.py`, `wire/responses_stream.py`) and the parsers
(`wire/parse.py`); this module says which of them each route uses and holds the API's own wording for
what it refuses, as openai 3.x's clients receive it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ...model.catalog import ModelSpec
from .. import openai_render
from ..framing import EPOCH, Answer
from ..parse import InvalidRequest, ParsedRequest, parse_openai_chat, parse_openai_responses
from ..responses_stream import response_events
from .base import Admission, Dialect, Generation

_LIMIT_UNITS = {"requests": "requests per min (RPM)", "tokens": "tokens per min (TPM)",
                "requests-per-day": "requests per day (RPD)"}


class OpenAIDialect(Dialect):
    provider = "openai"
    generating = {"/v1/chat/completions": "chat.completions", "/v1/responses": "responses"}
    counting = {"/v1/responses/input_tokens": "responses.input_tokens"}
    batch_api = "files-and-batches"
    batch_routes = re.compile(r"^/v1/(?P<kind>files|batches)(?:/(?P<id>[\w-]+)(?:/(?P<action>content|cancel))?)?$")
    api_key_env = "OPENAI_API_KEY"
    request_id_header = "x-request-id"

    def parse(self, endpoint: str, body: dict[str, Any], spec: ModelSpec) -> ParsedRequest:
        if endpoint == "chat.completions":
            return parse_openai_chat(body, spec)
        return parse_openai_responses(body, spec)  # responses, responses.input_tokens

    def check_limits(self, spec: ModelSpec, parsed: ParsedRequest) -> None:
        wanted, prompt, limit = parsed.max_tokens, parsed.input_tokens, spec.context_window
        if wanted is not None and wanted > spec.max_output_tokens:
            raise InvalidRequest(
                f"max_tokens is too large: {wanted}. This model supports at most {spec.max_output_tokens} "
                f"completion tokens, whereas you provided {wanted}.", "max_tokens")
        if prompt + (wanted or 0) > limit:
            asked = (f"you requested {prompt + wanted} tokens ({prompt} in the messages, {wanted} in the completion)"
                     if wanted else f"your messages resulted in {prompt} tokens")
            raise InvalidRequest(f"This model's maximum context length is {limit} tokens. However, {asked}. "
                                 "Please reduce the length of the messages or completion.", "messages")

    def token_count(self, endpoint: str, input_tokens: int) -> dict[str, Any]:
        return {"object": "response.input_tokens", "input_tokens": input_tokens}

    def reply(self, endpoint: str, generation: Generation) -> dict[str, Any]:
        g = generation
        if endpoint == "responses":
            return openai_render.response(g.rid, g.created, g.model, g.answer, g.parsed.input_tokens, g.body)
        return openai_render.chat_completion(g.rid, g.created, g.model, g.answer, g.parsed.input_tokens, g.more)

    def stream(self, endpoint: str, generation: Generation) -> list[tuple[int, bytes]]:
        g = generation
        if endpoint == "responses":
            return response_events(g.rid, g.created, g.model, g.answer, g.parsed.input_tokens, g.body)
        return openai_render.chat_chunks(g.rid, g.created, g.model, g.answer, g.parsed.input_tokens,
                                         g.parsed.include_usage)

    def stream_error_event(self, rid: str) -> bytes:
        return openai_render.stream_error("The server had an error while processing your request. Sorry about that!")

    def stop_reason(self, answer: Answer) -> str:
        return openai_render.finish_reason(answer)

    def model_list(self, models: list[ModelSpec]) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": m.name, "object": "model", "created": EPOCH,
                                            "owned_by": "faultfirst"} for m in models]}

    def error(self, status: int, message: str, rid: str, error_type: str | None = None) -> dict[str, Any]:
        usual = "server_error" if status >= 500 else "invalid_request_error"
        return openai_render.error(message, error_type or usual)

    def invalid(self, err: InvalidRequest, rid: str) -> dict[str, Any]:
        code = "context_length_exceeded" if "context length" in err.message else (
            "invalid_value" if err.param else None)
        return openai_render.error(err.message, "invalid_request_error", param=err.param, code=code)

    def not_found(self, method: str, path: str, rid: str) -> dict[str, Any]:
        return openai_render.error(f"Invalid URL ({method} {path})", "invalid_request_error")

    def no_such_object(self, what: str, rid: str) -> dict[str, Any]:
        return openai_render.error(f"No such object: {what}", "invalid_request_error")

    def unknown_model(self, model: object, *, valid: list[str], retired: bool, rid: str) -> dict[str, Any]:
        reason = "has been deprecated" if retired else "does not exist or you do not have access to it"
        return openai_render.error(f"The model `{model}` {reason}. The simulated {self.provider} models are: "
                                   f"{', '.join(valid)}.", "invalid_request_error", code="model_not_found")

    def server_error(self, rid: str, *, overloaded: bool) -> tuple[int, dict[str, Any]]:
        message = ("The engine is currently overloaded, please try again later." if overloaded
                   else "The server is temporarily unavailable. Please try again later.")
        return 503, openai_render.error(message, "server_error")

    def rate_limited(self, model: str, admission: Admission, rid: str) -> dict[str, Any]:
        kind, bucket = admission.limited_by, admission.limiting
        assert kind is not None and bucket is not None, "only a refused admission is reported"
        asked = admission.tokens_requested if kind == "tokens" else 1
        unit = _LIMIT_UNITS[kind]
        if math.isinf(admission.retry_after):
            message = (f"Request too large for {model} on {unit}: Limit {bucket.capacity}, Requested {asked}. "
                       "The input or output tokens must be reduced in order to run successfully.")
        else:
            message = (f"Rate limit reached for {model} on {unit}: Limit {bucket.capacity}, "
                       f"Used {bucket.capacity - int(bucket.level)}, Requested {asked}. "
                       f"Please try again in {openai_render.duration(admission.retry_after)}.")
        return openai_render.error(message, "tokens" if kind == "tokens" else "requests", code="rate_limit_exceeded")

    def limit_headers(self, admission: Admission, now: float) -> dict[str, str]:
        requests, tokens = admission.requests, admission.tokens
        return {
            "x-ratelimit-limit-requests": str(requests.capacity),
            "x-ratelimit-remaining-requests": str(max(0, int(requests.level))),
            "x-ratelimit-reset-requests": openai_render.duration(requests.reset_after(now)),
            "x-ratelimit-limit-tokens": str(tokens.capacity),
            "x-ratelimit-remaining-tokens": str(max(0, int(tokens.level))),
            "x-ratelimit-reset-tokens": openai_render.duration(tokens.reset_after(now)),
        }

    def real_time(self, headers: Mapping[str, str], *, speed: float, arrival: float, wall: float) -> dict[str, str]:
        """The `x-ratelimit-reset-*` waits, divided by the speed."""
        return {name: openai_render.duration(seconds / speed) for name, value in headers.items()
                if name.startswith("x-ratelimit-reset-") and (seconds := openai_render.seconds(value)) is not None}

    def batch_cancelled(self) -> dict[str, Any]:
        return openai_render.error("The batch was cancelled before this request ran.", "batch_cancelled")


DIALECT = OpenAIDialect()
