"""Pins the library facts that the lesson "Untrusted text" states (book/tier3/untrusted-text.md), for the pinned
openai 3.57, anthropic 2.14 and nh3 0.3.8, and the standard library's urllib.parse.

The tool-call shapes are read from the SDKs' own types and shown through the real clients over a mock transport
(no simulated world), so an upgrade that changes one fails here and names it. The obedience rates the lesson
measures are the simulator's assumptions and are tested in tests/test_obedience.py, not here.
"""

from __future__ import annotations

import importlib.metadata
import json
import typing
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx2
import nh3
import openai
from anthropic.types import StopReason, ToolUseBlock
from openai.types.chat import ChatCompletionMessageFunctionToolCall


def _answering(body: object) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=body)))


def test_openai_tool_call_arguments_are_a_json_string():
    """openai 3.x: message.tool_calls holds function tool calls whose function.arguments is a str to parse."""
    assert openai.__version__.startswith("3.")
    function = ChatCompletionMessageFunctionToolCall.model_fields["function"].annotation
    assert function is not None and function.model_fields["arguments"].annotation is str
    body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [{
        "index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "issue_refund", "arguments": '{"argument": "50"}'}}]}}]}
    client = openai.OpenAI(api_key="test", max_retries=0, http_client=_answering(body))
    message = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]).choices[0].message
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert isinstance(call.function.arguments, str) and json.loads(call.function.arguments) == {"argument": "50"}


def test_anthropic_tool_use_is_a_content_block_whose_input_is_a_dict():
    """anthropic 2.x: a tool call is a content block of type "tool_use", its input already a dict, and the
    message stops with stop_reason "tool_use"."""
    assert anthropic.__version__.startswith("2.")
    assert "tool_use" in typing.get_args(StopReason)
    assert typing.get_origin(ToolUseBlock.model_fields["input"].annotation) is dict
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
            "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}, "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "issue_refund", "input": {"argument": "50"}}]}
    client = anthropic.Anthropic(api_key="test", max_retries=0, http_client=_answering(body))
    tools: list[Any] = [{"name": "issue_refund", "input_schema": {"type": "object"}}]
    message = client.messages.create(model="m", max_tokens=10, tools=tools,
                                     messages=[{"role": "user", "content": "hi"}])
    block = message.content[0]
    assert isinstance(block, ToolUseBlock) and block.type == "tool_use"
    assert block.input == {"argument": "50"} and message.stop_reason == "tool_use"


def test_nh3_drops_handlers_but_keeps_images_and_links_to_any_host():
    """nh3.clean makes HTML inert (no onerror, no script, no javascript: href) but does not know which hosts you
    trust; its attribute_filter sees each attribute's value decoded, and None drops the attribute."""
    assert importlib.metadata.version("nh3") == "0.3.8"
    cleaned = nh3.clean('<img src="https://evil.example/p.png" onerror="alert(1)"><script>x()</script>'
                        '<a href="javascript:alert(1)">a</a>')
    assert "onerror" not in cleaned and "<script" not in cleaned and "javascript:" not in cleaned
    assert '<img src="https://evil.example/p.png">' in cleaned
    assert nh3.clean("![x](https://evil.example/p.png)") == "![x](https://evil.example/p.png)", \
        "markdown is plain text to nh3"
    seen: list[str] = []

    def record(tag: str, attribute: str, value: str) -> str | None:
        seen.append(value)
        return None if attribute == "href" else value

    assert nh3.clean('<a href="h&#116;tps://evil.example/">x</a>', attribute_filter=record).startswith("<a")
    assert "https://evil.example/" in seen and "href" not in nh3.clean('<a href="/x">x</a>', attribute_filter=record)


def test_urlsplit_reads_the_host_after_userinfo_and_does_not_decode_it():
    """urllib.parse.urlsplit: the host follows the last @ of the authority, percent-escapes stay in hostname, and
    decoding the whole URL first moves the host (what the lesson's allow-list relies on)."""
    assert urlsplit("https://brightwave.example%2F@evil.example/p.png").hostname == "evil.example"
    assert urlsplit("https://%65vil.example/").hostname == "%65vil.example"
    assert urlsplit("https://evil.example/?q=brightwave.example").hostname == "evil.example"
    assert urlsplit("//evil.example/p.png").hostname == "evil.example"
    assert urlsplit("HTTPS://Brightwave.Example/").hostname == "brightwave.example"
