"""Which tools the simulated model calls, read from an OpenAI request's `tools` and `tool_choice`.

Clients build on function calling: instructor's and pydantic-ai's default structured output and
langchain's `with_structured_output` force a call and read its arguments, and agents loop on
"call, run the tool, send the result back". So the world decides, as a model would:

- `tool_choice` "none" (or no tools): no call, a text reply;
- a named function (`{"type": "function", ...}`): a call to that tool, whatever the prompt says;
- "required": a call to each tool the prompt names, or to the first tool when it names none;
- "auto" (the default): a call to each tool the prompt names (a word of the tool's name appears in
  the latest user turn), else a text reply; and always a text reply once the conversation ends in
  tool results, so that an agent's loop ends with an answer built from them.

`parallel_tool_calls: false` keeps only the first call. The names and shapes are the ones
`openai` 3.57.0 sends: Chat Completions tools are `{"type": "function", "function": {"name",
"description", "parameters", "strict"}}` (`types/chat/chat_completion_function_tool_param.py`), named
choices `{"type": "function", "function": {"name"}}` (`chat_completion_named_tool_choice_param.py`);
Responses tools are flat, `{"type": "function", "name", "parameters", ...}`
(`types/responses/function_tool_param.py`), named choices `{"type": "function", "name"}`
(`tool_choice_function_param.py`); both APIs also take `{"type": "allowed_tools", ...}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Words of a tool's name that say nothing about what it is for.
_GENERIC = frozenset(["get", "set", "fetch", "find", "make", "create", "update", "delete", "run", "call", "do", "use",
                      "tool", "function", "the", "and", "for", "with", "from", "into", "to", "of", "by", "api"])
_NAME_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_USER_WORD = re.compile(r"\w+")


class ToolRequestError(ValueError):
    """A `tools` / `tool_choice` the real API refuses with 400 (`_parse` turns it into its InvalidRequest)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ToolSpec:
    """One function tool the model calls: its name and the JSON Schema its arguments fill."""

    name: str
    schema: dict[str, Any]
    strict: bool = False  # `strict: true`: the API guarantees the arguments fit the schema


def function_tools(tools: Any, *, flat: bool) -> list[ToolSpec]:
    """The request's function tools (others, such as web search, are not simulated and never called)."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise ToolRequestError("tools: must be an array of tool definitions", "tools")
    specs: list[ToolSpec] = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        definition = tool if flat else tool.get("function")
        name = definition.get("name") if isinstance(definition, dict) else None
        if not isinstance(definition, dict) or not isinstance(name, str) or not name:
            where = "tools[].name" if flat else "tools[].function.name"
            raise ToolRequestError(f"{where}: every function tool needs a name", "tools")
        specs.append(ToolSpec(name, definition.get("parameters") or {"type": "object", "properties": {}},
                              strict=definition.get("strict") is True))
    return specs


def _named(choice: dict[str, Any], *, flat: bool) -> str | None:
    """The tool a named `tool_choice` forces, or None for any other object."""
    if choice.get("type") != "function":
        return None
    name = choice.get("name") if flat else (choice.get("function") or {}).get("name")
    if not isinstance(name, str):
        where = "tool_choice.name" if flat else "tool_choice.function.name"
        raise ToolRequestError(f"{where}: a named tool_choice needs the function's name", "tool_choice")
    return name


def _mentioned(tools: list[ToolSpec], user: str) -> list[ToolSpec]:
    """The tools a word of whose name appears in the user's turn (`get_weather` for "the weather in Paris")."""
    said = {word.lower() for word in _USER_WORD.findall(user)}
    return [tool for tool in tools
            if any(w.lower() in said for w in _NAME_WORD.findall(tool.name) if w.lower() not in _GENERIC)]


def plan_calls(body: dict[str, Any], user: str, *, answered: bool, flat: bool) -> tuple[ToolSpec, ...]:
    """The calls the model makes for this request (empty: it replies in text).

    `answered`: the conversation ends in tool results (a follow-up turn). `flat`: the Responses API's
    tool shapes rather than Chat Completions'.
    """
    tools = function_tools(body.get("tools"), flat=flat)
    choice = body.get("tool_choice") or "auto"
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        listed = choice.get("tools") if flat else (choice.get("allowed_tools") or {}).get("tools")
        allowed = {name for spec in listed or []
                   if isinstance(spec, dict) and (name := _named(spec, flat=flat))}
        tools = [tool for tool in tools if tool.name in allowed]
        choice = choice.get("mode") if flat else (choice.get("allowed_tools") or {}).get("mode")
    if not tools or choice == "none":
        return ()
    if isinstance(choice, dict):
        name = _named(choice, flat=flat)
        if name is None:
            raise ToolRequestError("tool_choice: the simulated world calls function tools only, "
                                   f"not {choice.get('type')!r}", "tool_choice")
        forced = next((tool for tool in tools if tool.name == name), None)
        if forced is None:
            raise ToolRequestError(f"tool_choice: function {name!r} is not in tools", "tool_choice")
        return (forced,)
    if choice not in ("auto", "required"):
        raise ToolRequestError(f"tool_choice: must be 'none', 'auto', 'required' or a named function, got {choice!r}",
                             "tool_choice")
    if choice == "auto" and answered:
        return ()
    calls = _mentioned(tools, user) or (tools[:1] if choice == "required" else [])
    return tuple(calls[:1] if body.get("parallel_tool_calls") is False else calls)


def plan_anthropic_calls(tools: tuple[ToolSpec, ...], choice: dict[str, Any], user: str, *,
                         answered: bool) -> tuple[ToolSpec, ...]:
    """The calls Claude makes when `tool_choice` leaves it free ("auto", or none given); "none": no call.

    As with OpenAI's "auto": a call to each tool the user's words name, none once the conversation ends in
    tool results. `disable_parallel_tool_use` keeps the first. ("any" and a named tool force one call and
    are read with the forced tool's schema by the parser.) The shapes are anthropic 2.14.0's
    `ToolChoiceAutoParam` / `ToolChoiceNoneParam` (`types/tool_choice_*_param.py`).
    """
    kind = choice.get("type", "auto")
    if kind == "none" or answered or not tools:
        return ()
    if kind != "auto":
        raise ToolRequestError(f"tool_choice.type: must be 'auto', 'any', 'tool' or 'none', got {kind!r}",
                               "tool_choice")
    calls = _mentioned(list(tools), user)
    return tuple(calls[:1] if choice.get("disable_parallel_tool_use") else calls)
