"""Turn a provider's request body into a neutral `Prompt` and a token count.

The simulator reads the same JSON the real APIs receive, so whatever a lesson
passes through the SDKs (plain strings, content blocks, Anthropic document
blocks, a pydantic `response_format`) lands here. Token counts add a few
tokens of per-message framing, as the real chat formats do; the exact framing
of the real APIs is not published, so the overheads are the simulator's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..model.catalog import ModelSpec
from ..model.prompt import Document, Message, Prompt
from ..model.prompt_schema import schema_in
from ..model.prompt_view import own_words
from ..model.tokens import count_tokens
from ..model.tool_calls import ToolRequestError, ToolSpec, function_tools, plan_anthropic_calls, plan_calls

_PER_MESSAGE = 3  # role and separators around each message
_PER_REPLY = 3  # the assistant's turn header the model is primed with
_DEFAULT_OUTPUT_ESTIMATE = 1024  # what rate limiting charges when max_tokens is not given


class InvalidRequest(Exception):
    """A request the real API would refuse with 400; `param` names the field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class ParsedRequest:
    """What the engine needs from one request body."""

    prompt: Prompt
    input_tokens: int
    max_tokens: int | None  # what the caller asked for; None if not given
    stream: bool
    include_usage: bool  # OpenAI stream_options.include_usage
    forced_tool: str | None = None  # Anthropic tool_choice that names a tool: answer with its input
    stop: tuple[str, ...] = ()  # OpenAI `stop` / Anthropic `stop_sequences`: the reply ends before the first one
    n: int = 1  # OpenAI Chat Completions `n`: how many choices to generate
    calls: tuple[ToolSpec, ...] = ()  # the function tools the reply calls (empty: it replies in text)
    offered: tuple[ToolSpec, ...] = ()  # every function tool the request offers (an obeyed injection may call one)
    results: tuple[str, ...] = ()  # the tool results a conversation ends with (also the prompt's documents)
    messages: tuple[Message, ...] = ()  # the conversation as sent, for a responder that reads it (World(responder=))
    # Whether the API guarantees the JSON reply fits `prompt.schema`: OpenAI's json_schema with `strict: true`,
    # Anthropic's output_config JSON schema, a forced Anthropic tool with `strict: true`; not JSON mode
    strict: bool = False

    @property
    def output_estimate(self) -> int:
        """What rate limiting charges for the reply: max_tokens (or a default) for each of the n choices."""
        return (self.max_tokens if self.max_tokens is not None else _DEFAULT_OUTPUT_ESTIMATE) * self.n


def _require(body: dict[str, Any], key: str) -> Any:
    if key not in body:
        raise InvalidRequest(f"{key}: Field required", key)
    return body[key]


def _text_of(content: Any, *, text_types: tuple[str, ...], documents: list[Document] | None = None) -> str:
    """The text of a message's content: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest("content: must be a string or a list of content blocks", "messages")
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            raise InvalidRequest("content: each block must be an object", "messages")
        kind = block.get("type")
        if kind in text_types:
            parts.append(str(block.get("text", "")))
        elif kind == "document" and documents is not None:
            documents.append(_document(block))
        elif kind == "tool_result" and documents is not None:  # Anthropic: what a tool returned, sent back
            result = block.get("content", "")
            documents.append(Document(result if isinstance(result, str) else _text_of(result, text_types=("text",)),
                                      origin="tool_result"))
    return "\n".join(parts)


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's content blocks (none when its content is a plain string)."""
    content = message.get("content")
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _ends_in_tool_results(messages: list[Any]) -> bool:
    """Whether an Anthropic conversation's last turn sends tool results back (a follow-up turn)."""
    last = messages[-1]
    return isinstance(last, dict) and last.get("role") == "user" and any(
        b.get("type") == "tool_result" for b in _blocks(last))


def _document(block: dict[str, Any]) -> Document:
    """A document block with a plain-text source, or a "content" source (its text blocks, cited by block)."""
    source = block.get("source") or {}
    citations = bool((block.get("citations") or {}).get("enabled"))
    if source.get("type") == "content":
        content = source.get("content", "")
        chunks = (content,) if isinstance(content, str) else tuple(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text")
        return Document(text="".join(chunks), title=block.get("title"), citations=citations, chunks=chunks)
    if source.get("type") != "text":
        raise InvalidRequest("the simulator supports document blocks with a plain-text or content source only",
                             "messages")
    return Document(text=str(source.get("data", "")), title=block.get("title"), citations=citations)


def _temperature(body: dict[str, Any], default: float = 1.0) -> float:
    value = body.get("temperature", default)
    if value is None:
        return default
    if not isinstance(value, (int, float)) or not 0 <= value <= 2:
        raise InvalidRequest("temperature: must be a number between 0 and 2", "temperature")
    return float(value)


def _max_tokens(body: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequest(f"{key}: must be a positive integer", key)
        return value
    return None


_MAX_OPENAI_STOPS = 4  # Chat Completions: "Up to 4 sequences" (openai 3.57.0, completion_create_params.py)
_MAX_CHOICES = 128  # the most choices Chat Completions generates for one request


def _stop_sequences(body: dict[str, Any], key: str, *, allow_string: bool,
                    most: int | None = None) -> tuple[str, ...]:
    """The stop sequences a request names (OpenAI's `stop`: a string or a list; Anthropic's `stop_sequences`)."""
    value = body.get(key)
    if value is None:
        return ()
    if allow_string and isinstance(value, str):
        value = [value]
    kind = "a string or a list of strings" if allow_string else "a list of strings"
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"{key}: must be {kind}, none of them empty", key)
    if most is not None and len(value) > most:
        raise InvalidRequest(f"{key}: at most {most} stop sequences are allowed, got {len(value)}", key)
    return tuple(value)


def _choices(body: dict[str, Any]) -> int:
    value = body.get("n")
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_CHOICES:
        raise InvalidRequest(f"n: must be an integer from 1 to {_MAX_CHOICES}, got {value!r}", "n")
    return value


def _schema_tokens(schema: dict[str, Any] | None, encoding: str) -> int:
    return count_tokens(json.dumps(schema, sort_keys=True), encoding) if schema else 0


def _read_openai_messages(items: list[Any], spec: ModelSpec, *, param: str, text_types: tuple[str, ...],
                          roles: tuple[str, ...]) -> tuple[list[str], str, int, tuple[Message, ...]]:
    """System texts, the last user text, the tokens and the messages of an OpenAI message list (chat, Responses)."""
    system: list[str] = []
    read: list[Message] = []
    user, tokens = "", 0
    for item in items:
        role = item.get("role") if isinstance(item, dict) else None
        if role not in roles:
            raise InvalidRequest(f"{param}: invalid role {role!r}", param)
        text = _text_of(item.get("content") or "", text_types=text_types)
        tokens += _PER_MESSAGE + count_tokens(text, spec.encoding)
        read.append(Message(role, text))
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            user = text
    return system, user, tokens, tuple(read)


def _trailing(items: list[Any], is_result: Any, text_of: Any) -> tuple[str, ...]:
    """The texts of the tool results a conversation ends with (a follow-up turn), oldest first."""
    results: list[str] = []
    for item in reversed(items):
        if not (isinstance(item, dict) and is_result(item)):
            break
        results.append(text_of(item))
    return tuple(reversed(results))


def _tool_calls(body: dict[str, Any], prompt: Prompt, results: tuple[str, ...], *, flat: bool) -> tuple[ToolSpec, ...]:
    # The user's own words are read only when there are tools to choose among: reading them takes the prompt apart.
    user = own_words(prompt) if body.get("tools") else ""
    try:
        return plan_calls(body, user, answered=bool(results), flat=flat)
    except ToolRequestError as err:
        raise InvalidRequest(str(err), err.param) from None


def _offered(body: dict[str, Any], *, flat: bool) -> tuple[ToolSpec, ...]:
    """The request's function tools (already validated by `_tool_calls`)."""
    return tuple(function_tools(body.get("tools"), flat=flat))


def _anthropic_tools(tools: list[Any]) -> tuple[ToolSpec, ...]:
    """An Anthropic request's client tools: name and input schema."""
    return tuple(ToolSpec(t["name"], t.get("input_schema") or {"type": "object"})
                 for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str))


def _tools_tokens(body: dict[str, Any], encoding: str) -> int:
    """What tool definitions add to the prompt (none without tools, so other requests count as before)."""
    tools = body.get("tools")
    return count_tokens(json.dumps(tools, sort_keys=True), encoding) if tools else 0


def _json_mode_schema(schema: dict[str, Any] | None, system: list[str], user: str) -> dict[str, Any] | None:
    """JSON mode's schema: the one the prompt's text carries, else any object (`{}`)."""
    return (schema_in(*system, user) or schema) if schema == _JSON_OBJECT else schema


_JSON_OBJECT = {"type": "object"}  # what JSON mode asks of a reply, and what it is billed as


def parse_openai_chat(body: dict[str, Any], spec: ModelSpec) -> ParsedRequest:
    messages = _require(body, "messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty array", "messages")
    system, user, tokens, read = _read_openai_messages(messages, spec, param="messages", text_types=("text",),
                                                 roles=("system", "developer", "user", "assistant", "tool"))
    tokens += _PER_REPLY + _tools_tokens(body, spec.encoding)
    tokens += sum(count_tokens(json.dumps(m["tool_calls"]), spec.encoding)
                  for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    schema, name, strict = None, None, False
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        json_schema = response_format.get("json_schema") or {}
        schema, name = json_schema.get("schema") or {"type": "object"}, json_schema.get("name")
        strict = json_schema.get("strict") is True
    elif response_format.get("type") == "json_object":
        schema = _JSON_OBJECT
    tokens += _schema_tokens(schema, spec.encoding)
    results = _trailing(messages, lambda m: m.get("role") == "tool",
                        lambda m: _text_of(m.get("content") or "", text_types=("text",)))
    stream = bool(body.get("stream"))
    prompt = Prompt(
        system="\n".join(system), user=user, documents=tuple(Document(text, origin="tool_result") for text in results),
        schema=_json_mode_schema(schema, system, user), schema_name=name,
        temperature=_temperature(body), provider="openai", model=spec.name,
    )
    return ParsedRequest(
        prompt, tokens, _max_tokens(body, "max_completion_tokens", "max_tokens"), stream,
        include_usage=stream and bool((body.get("stream_options") or {}).get("include_usage")),
        stop=_stop_sequences(body, "stop", allow_string=True, most=_MAX_OPENAI_STOPS), n=_choices(body),
        calls=_tool_calls(body, prompt, results, flat=False), results=results, messages=read,
        offered=_offered(body, flat=False), strict=strict,
    )


def parse_openai_responses(body: dict[str, Any], spec: ModelSpec) -> ParsedRequest:
    raw = _require(body, "input")
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise InvalidRequest("input: must be a string or a non-empty array of messages", "input")
    instructions = str(body.get("instructions") or "")
    calls_and_results = [i for i in items if isinstance(i, dict) and i.get("type") in _FUNCTION_ITEMS]
    messages = [i for i in items if not (isinstance(i, dict) and i.get("type") in _FUNCTION_ITEMS)]
    system, user, tokens, read = _read_openai_messages(messages, spec, param="input",
                                                       text_types=("input_text", "output_text", "text"),
                                                       roles=("system", "developer", "user", "assistant"))
    tokens += _PER_REPLY + count_tokens(instructions, spec.encoding) + _tools_tokens(body, spec.encoding)
    tokens += sum(_PER_MESSAGE + count_tokens(_function_item_text(i), spec.encoding) for i in calls_and_results)
    schema, name = None, None
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        schema, name = fmt.get("schema") or {"type": "object"}, fmt.get("name")
    elif fmt.get("type") == "json_object":
        schema = _JSON_OBJECT
    strict = fmt.get("type") == "json_schema" and fmt.get("strict") is True
    tokens += _schema_tokens(schema, spec.encoding)
    results = _trailing(items, lambda i: i.get("type") == "function_call_output", _function_item_text)
    system = [s for s in (instructions, *system) if s]
    prompt = Prompt(
        system="\n".join(system), user=user, documents=tuple(Document(text, origin="tool_result") for text in results),
        schema=_json_mode_schema(schema, system, user), schema_name=name,
        temperature=_temperature(body), provider="openai", model=spec.name,
    )
    return ParsedRequest(prompt, tokens, _max_tokens(body, "max_output_tokens"), bool(body.get("stream")), False,
                         calls=_tool_calls(body, prompt, results, flat=True), results=results,
                         messages=read, offered=_offered(body, flat=True), strict=strict)


# Responses input items that are a function call the model made and the result sent back for it.
_FUNCTION_ITEMS = ("function_call", "function_call_output")


def _function_item_text(item: dict[str, Any]) -> str:
    """A function call's arguments, or a function result's output (a string, or input_text parts)."""
    if item.get("type") == "function_call":
        return str(item.get("arguments") or "")
    output = item.get("output")
    return output if isinstance(output, str) else _text_of(output or [], text_types=("input_text",))


def parse_anthropic_messages(body: dict[str, Any], spec: ModelSpec, *, counting: bool = False) -> ParsedRequest:
    messages = _require(body, "messages")
    max_tokens = None if counting else _max_tokens(body, "max_tokens")
    if max_tokens is None and not counting:
        raise InvalidRequest("max_tokens: Field required", "max_tokens")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: at least one message is required", "messages")
    system = _text_of(body.get("system") or "", text_types=("text",))
    tokens = _PER_REPLY + count_tokens(system, spec.encoding)
    documents: list[Document] = []
    read: list[Message] = []
    user = ""
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"messages: Unexpected role {role!r}. Allowed roles are 'user' or 'assistant'.",
                                 "messages")
        before = len(documents)
        text = _text_of(message.get("content", ""), text_types=("text",), documents=documents)
        tokens += _PER_MESSAGE + count_tokens(text, spec.encoding)
        read.append(Message(role, text))
        for doc in documents[before:]:
            title_tokens = count_tokens(doc.title or "", spec.encoding)
            tokens += _PER_MESSAGE + count_tokens(doc.text, spec.encoding) + title_tokens
        if role == "user" and (text or not user):  # a turn of tool results alone keeps the question asked
            user = text
        tokens += sum(count_tokens(json.dumps(b.get("input", {}), sort_keys=True), spec.encoding)
                      for b in _blocks(message) if b.get("type") == "tool_use")
    schema, forced_tool, strict = None, None, False
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":  # Anthropic's structured outputs: constrained to the schema, no flag
        schema, strict = fmt.get("schema") or {"type": "object"}, True
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {}
    results = tuple(d.text for d in documents if d.origin == "tool_result") if _ends_in_tool_results(messages) else ()
    if tools and choice.get("type") in ("tool", "any"):
        wanted = choice.get("name") if choice.get("type") == "tool" else tools[0].get("name")
        tool = next((t for t in tools if t.get("name") == wanted), None)
        if tool is None:
            raise InvalidRequest(f"tool_choice: tool {wanted!r} is not in tools", "tool_choice")
        schema, forced_tool = tool.get("input_schema") or {"type": "object"}, wanted
        strict = tool.get("strict") is True  # ToolParam.strict: "guarantees schema validation on tool ... inputs"
    for tool in tools:
        tokens += count_tokens(json.dumps(tool, sort_keys=True), spec.encoding)
    tokens += _schema_tokens(schema if forced_tool is None else None, spec.encoding)
    prompt = Prompt(
        system=system, user=user, documents=tuple(documents), schema=schema, schema_name=forced_tool,
        # anthropic 2.x has no sampling parameters (docs/sdk-facts.md); one smuggled in through extra_body
        # is ignored, so simulated Claude always samples, as the SDK's surface says it does.
        temperature=1.0, provider="anthropic", model=spec.name,
    )
    offered = _anthropic_tools(tools)
    try:
        calls = () if forced_tool or schema or not offered else plan_anthropic_calls(
            offered, choice, own_words(prompt), answered=bool(results))
    except ToolRequestError as err:
        raise InvalidRequest(str(err), err.param) from None
    return ParsedRequest(prompt, tokens, max_tokens, bool(body.get("stream")), False, forced_tool,
                         stop=_stop_sequences(body, "stop_sequences", allow_string=False), messages=tuple(read),
                         calls=calls, results=results, offered=offered, strict=strict)


# Retries, loops and lessons send the same bytes again and again; reading them once is enough.
# Callers only read the cached values.
@lru_cache(maxsize=8192)
def decode_body(content: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

