"""API keys for live mode: from the environment, or from a git-ignored `.env` file. Never printed, never stored."""

from __future__ import annotations

import os
from pathlib import Path

from ..wire.dialects import DIALECTS


class MissingKey(LookupError):
    """Live mode was asked for a client whose provider has no key."""


def _dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; comments, blanks and `export ` prefixes allowed; quotes stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def api_key(provider: str, *, search: tuple[Path, ...] | None = None) -> str:
    """The provider's key from the environment, else from the first `.env` found in `search` or their parents.

    `search` defaults to the working directory at the time of the call (a notebook's folder), not the one
    the package happened to be imported from.
    """
    name = DIALECTS[provider].api_key_env
    if os.environ.get(name):
        return os.environ[name]
    for base in search if search is not None else (Path.cwd(),):
        for folder in (base, *base.parents):
            value = _dotenv(folder / ".env").get(name)
            if value:
                return value
    raise MissingKey(
        f"live mode needs {name} for {provider} calls: set it in the environment or in a .env file "
        "(git ignores .env). To run without a key, leave live mode off: the simulated world needs none."
    )
