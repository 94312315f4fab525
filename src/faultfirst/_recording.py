"""Record mode: live replies saved as fixtures that the simulated world replays.

A fixture holds only what matching needs (provider, model alias, system prompt,
user text) and the reply text: no key, header or account detail can end up in
one. Refreshing the simulated answers from real models is: run the lesson with
`World(live=True, record_to="src/faultfirst/fixtures/recorded.json")`, review
the diff, regenerate the notebooks, commit.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ._behaviour import Prompt
from ._fixtures import load_fixtures


class Recorder:
    """Appends (or replaces) one fixture per distinct prompt in a JSON fixture file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            load_fixtures(path)  # a corrupt file is named and left alone, never overwritten

    def save(self, prompt: Prompt, reply: str) -> None:
        match: dict[str, str] = {"provider": prompt.provider, "model": prompt.model, "equals": prompt.user}
        if prompt.system:
            match["system_contains"] = prompt.system
        entries = json.loads(self.path.read_text(encoding="utf-8"))["fixtures"] if self.path.exists() else []
        entries = [e for e in entries if e.get("match") != match] + [{"match": match, "reply": reply}]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the file and rename over it, so an interrupted run never leaves half a fixture file.
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".json.tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"fixtures": entries}, out, ensure_ascii=False, indent=2)
            out.write("\n")
        os.replace(temporary, self.path)
