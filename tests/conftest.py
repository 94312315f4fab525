"""Shared test helpers. The suite runs with sockets disabled (pytest-socket, see pyproject.toml)."""

from __future__ import annotations

import pytest

from faultfirst import World


@pytest.fixture
def world() -> World:
    return World(seed=0)


def ask(text: str) -> list[dict[str, str]]:
    """A one-message conversation, the shape both SDKs take."""
    return [{"role": "user", "content": text}]
