"""Shared test helpers. Every test here runs with the network off (pytest-socket)."""

from __future__ import annotations

import pytest
import pytest_socket

from faultfirst import World


@pytest.fixture(autouse=True)
def _network_off():
    """No test may reach the network: everything runs against the simulated world (Unix sockets stay on for asyncio)."""
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


@pytest.fixture
def world() -> World:
    return World(seed=0)


def ask(text: str) -> list[dict[str, str]]:
    """A one-message conversation, the shape both SDKs take."""
    return [{"role": "user", "content": text}]
