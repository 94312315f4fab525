"""No API key in the repository: not in code, not in a notebook output, not in a fixture."""

from __future__ import annotations

import re
import subprocess

from faultfirst.repository import find_repo_root

ROOT = find_repo_root()
# The shapes of OpenAI (sk-..., sk-proj-...) and Anthropic (sk-ant-...) secret keys.
KEY_SHAPED = re.compile(r"sk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_-]{20,}")


def _committed_and_new_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return [name for name in listed if (ROOT / name).is_file()]


def test_pattern_finds_key_shaped_strings():
    """The scanner recognises the key shapes it is meant to catch (so a pass below means something)."""
    for fake in ("sk-proj-" + "a1B2" * 8, "sk-ant-api03-" + "Z9_y-" * 6, "sk-" + "q" * 40):
        assert KEY_SHAPED.search(f"api_key = '{fake}'")


def test_no_file_holds_a_key_shaped_string():
    """Every tracked (or new, not ignored) file, notebooks and fixtures included, is free of key-shaped strings."""
    offenders = []
    for name in _committed_and_new_files():
        text = (ROOT / name).read_bytes().decode("utf-8", "replace")
        offenders += [f"{name}: {m.group(0)[:12]}..." for m in KEY_SHAPED.finditer(text)]
    assert offenders == []


def test_dotenv_is_ignored():
    """git ignores .env, where live keys may live."""
    result = subprocess.run(["git", "check-ignore", ".env"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
