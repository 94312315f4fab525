"""Shared test helpers. Every test here runs with the network off (pytest-socket)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import pytest_socket

if TYPE_CHECKING:
    from anthropic.types import Message

    from faultfirst import World


@pytest.fixture(autouse=True)
def _network_off(request: pytest.FixtureRequest):
    """No test may reach the network (Unix sockets stay on for asyncio); `loopback` tests may reach 127.0.0.1 only."""
    if request.node.get_closest_marker("loopback"):
        pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    else:
        pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "loopback: the test talks to a server on 127.0.0.1 (and nowhere else)")


@pytest.fixture
def world() -> World:
    from faultfirst import World  # here, not at the top: pytest's xdist controller loads this file and runs no test

    return World(seed=0)


# A conversation as the tests hand it to either SDK. Each SDK types a message as a TypedDict of its own (openai's
# ChatCompletionMessageParam, anthropic's MessageParam) and neither is assignable to the other, so a list that goes
# to both can be typed by neither.
Conversation = list[Any]


def ask(text: str) -> Conversation:
    """A one-message conversation, the shape both SDKs take."""
    return [{"role": "user", "content": text}]


def first_text(message: Message) -> str:
    """The text of an Anthropic message's first block, which must be a text block (the SDK types a block as any
    of a dozen kinds, most without text)."""
    from anthropic.types import TextBlock  # here, not at the top: see world() above

    block = message.content[0]
    assert isinstance(block, TextBlock), block
    return block.text


def gathered_calls(world, client, count: int, *, max_tokens: int, model: str = "gpt-strong") -> list:
    """`count` chat calls started at once on the world's loop: each one's completion or exception, in order."""
    import asyncio

    async def main():
        return await asyncio.gather(*(client.chat.completions.create(
            model=model, max_tokens=max_tokens, messages=ask(f"Question {i}")) for i in range(count)),
            return_exceptions=True)

    return world.run(main())
