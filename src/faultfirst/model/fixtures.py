"""Scripted replies ("fixtures") that take precedence over the behaviour engine.

Lessons sometimes need the simulated model to say one exact thing - a known
wrong answer to catch, a reply to snapshot.  Fixtures give them that without
changing the engine.  A fixture file is JSON of this shape (the ``#``
comments explain the keys and are not part of the format)::

    {
      "fixtures": [
        {
          "match": {
            "provider": "openai",              # optional: "openai" or "anthropic"
            "model": "gpt-4o-mini",            # optional: exact model name
            "contains": "refund policy",       # optional: substring of the user text
            "equals": "ping",                  # optional: the whole user text
            "system_contains": "pirate"        # optional: substring of the system prompt
          },
          "reply": "The scripted reply text.",  # or a list of strings: one text block each
          "ending": "refusal",                 # optional: how the reply ends, see below
          "recorded": {...}                    # optional: the real exchange it came from
        }
      ]
    }

A ``reply`` given as a list of strings is a reply of several text blocks,
one per string: Anthropic's Messages API returns them as separate ``text``
blocks in ``content`` (as it does a reply with citations); OpenAI's APIs,
which have one text per reply, return them joined.

``ending`` scripts an ending the engine would not choose by itself (a reply
cut at ``max_tokens`` still says so, whatever ``ending`` says):

- ``"stop_sequence"``, with ``"stop_sequence": "<the sequence>"`` beside it:
  the reply stopped on a stop sequence, as if the request had set it.
  Anthropic reports ``stop_reason: "stop_sequence"`` and the sequence; OpenAI's
  Chat Completions reports ``finish_reason: "stop"``, as it does for any stop.
- ``"refusal"``: the model declined. Anthropic reports ``stop_reason:
  "refusal"``; Chat Completions ``finish_reason: "content_filter"``; Responses
  ``status: "incomplete"`` with ``incomplete_details.reason: "content_filter"``.
- ``"dropped"``: a streamed reply's connection closes cleanly after the text,
  before the event that says why the reply ended (no ``finish_reason``, no
  ``message_delta``, no ``[DONE]``/``message_stop``); a reply that is not
  streamed ends normally.
- ``"broken"``: a streamed reply's connection breaks after the event that says
  why the reply ended (OpenAI's ``finish_reason`` chunk, Anthropic's
  ``message_delta``) and before the stream's last event: the client's read
  raises ``httpx2.RemoteProtocolError`` (an incomplete chunked body). A reply
  that is not streamed ends normally.

An empty ``reply`` is a reply with no text. With ``"ending": "refusal"``,
Chat Completions sends ``message.content: null``, as the real API does for a
reply with no text.

``recorded`` is written by record mode (see ``live/recording.py``): the request
and response the reply was taken from, kept so a refresh can be reviewed. The
world replays ``reply`` only.

Every entry needs at least one of ``contains``, ``equals`` or
``system_contains`` so that no entry silently matches every prompt.  Text
matching is case-sensitive, every condition given must hold, and the first
matching entry wins - in file order, files taken in the order they were
loaded.  The package's own fixtures live in the ``fixtures/`` folder next to
this module and are loaded in file-name order.

A malformed file raises :class:`FixtureError` naming the file and the
1-based entry number, because a fixture typo should fail loudly at load time
rather than as a puzzling unscripted reply in the middle of a lesson.
"""

from __future__ import annotations

import functools
import json
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .catalog import PROVIDERS

if TYPE_CHECKING:
    from faultfirst.model.prompt import Prompt

_PACKAGE_FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures"  # the package's data sits at its root
_TEXT_CONDITIONS = ("contains", "equals", "system_contains")
_MATCH_KEYS = ("provider", "model", *_TEXT_CONDITIONS)
_ENTRY_KEYS = ("match", "reply", "recorded", "ending", "stop_sequence")
ENDINGS = ("stop_sequence", "refusal", "dropped", "broken")
_REQUIRED_ENTRY_KEYS = ("match", "reply")


class FixtureError(ValueError):
    """A fixture file cannot be read or does not follow the documented format."""


@dataclass(frozen=True)
class _Fixture:
    """One scripted reply and the conditions under which it is given."""

    reply: str | tuple[str, ...]  # a tuple is a reply of several text blocks
    ending: str | None = None  # one of ENDINGS, or None: the engine's own ending
    stop_sequence: str | None = None
    provider: str | None = None
    model: str | None = None
    contains: str | None = None
    equals: str | None = None
    system_contains: str | None = None

    def matches(self, prompt: Prompt) -> bool:
        """Whether every condition this entry sets holds for ``prompt``."""
        return (
            (self.provider is None or self.provider == prompt.provider)
            and (self.model is None or self.model == prompt.model)
            and (self.contains is None or self.contains in prompt.user)
            and (self.equals is None or self.equals == prompt.user)
            and (self.system_contains is None or self.system_contains in prompt.system)
        )


_MEMO_MAX = 4096


@dataclass(frozen=True)
class FixtureSet:
    """An ordered collection of scripted replies; the first match wins."""

    entries: tuple[_Fixture, ...] = ()

    def match(self, prompt: Prompt) -> str | tuple[str, ...] | None:
        """Return the reply of the first entry matching ``prompt`` (a tuple: one text block each), or None."""
        entry = self.entry(prompt)
        return None if entry is None else entry.reply

    def entry(self, prompt: Prompt) -> _Fixture | None:
        """The first entry matching ``prompt`` (its reply and scripted ending), or None.

        Asked on every attempt, and loops and lessons repeat prompts: the answer for the fields the
        conditions read is remembered (bounded: forgotten when full).
        """
        key = (prompt.provider, prompt.model, prompt.user, prompt.system)
        memo = self._memo
        if key in memo:
            return memo[key]
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        found = memo[key] = next((entry for entry in self.entries if entry.matches(prompt)), None)
        return found

    @functools.cached_property
    def _memo(self) -> dict[tuple[str, str, str, str], _Fixture | None]:
        return {}


def load_fixtures(*paths: pathlib.Path) -> FixtureSet:
    """Load fixture files (or folders of ``*.json`` files) in the order given.

    Without arguments, loads the package's ``fixtures/`` folder.
    """
    files: list[pathlib.Path] = []
    for path in paths or (_PACKAGE_FIXTURES,):
        path = pathlib.Path(path)
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return FixtureSet(tuple(entry for file in files for entry in _load_file(file)))


def default_fixtures() -> FixtureSet:
    """The package's own fixtures, read again only when a file in the folder has changed (a recording just saved)."""
    files = sorted(_PACKAGE_FIXTURES.glob("*.json"))
    return _fixtures_as_of(tuple((f, f.stat().st_mtime_ns) for f in files))


@functools.lru_cache(maxsize=1)
def _fixtures_as_of(state: tuple[tuple[pathlib.Path, int], ...]) -> FixtureSet:
    return load_fixtures(*(path for path, _ in state))


def _load_file(path: pathlib.Path) -> list[_Fixture]:
    """Parse and validate one fixture file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FixtureError(f"{path}: file is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(document, dict) or set(document) != {"fixtures"}:
        raise FixtureError(f'{path}: expected an object with a single key "fixtures"')
    entries = document["fixtures"]
    if not isinstance(entries, list):
        raise FixtureError(f"{path}: 'fixtures' must be a list")
    return [_parse_entry(entry, f"{path}: entry {number}") for number, entry in enumerate(entries, 1)]


def _parse_entry(entry: Any, where: str) -> _Fixture:
    """Validate one ``{"match": ..., "reply": ...}`` entry; ``where`` prefixes errors."""
    _check_keys(entry, _ENTRY_KEYS, where, "entry")
    for key in _REQUIRED_ENTRY_KEYS:
        if key not in entry:
            raise FixtureError(f"{where}: missing {key!r}")
    reply = entry["reply"]
    if isinstance(reply, list):
        if not reply or not all(isinstance(block, str) and block for block in reply):
            raise FixtureError(f"{where}: 'reply' as a list must hold non-empty strings (one text block each)")
        reply = tuple(reply)
    elif not isinstance(reply, str):
        raise FixtureError(f"{where}: 'reply' must be a string or a list of strings")
    recorded = entry.get("recorded", {"request": {}, "response": {}})
    if not (isinstance(recorded, Mapping)
            and all(isinstance(recorded.get(k), Mapping) for k in ("request", "response"))):
        raise FixtureError(f"{where}: 'recorded' must be an object with 'request' and 'response' objects")
    match = entry["match"]
    _check_keys(match, _MATCH_KEYS, where, "'match'")
    for key, value in match.items():
        if not isinstance(value, str):
            raise FixtureError(f"{where}: 'match.{key}' must be a string")
        if key in ("contains", "system_contains") and not value:
            raise FixtureError(f"{where}: 'match.{key}' must not be empty")
    if "provider" in match and match["provider"] not in PROVIDERS:
        raise FixtureError(f"{where}: 'match.provider' must be one of {', '.join(PROVIDERS)}")
    if not any(key in match for key in _TEXT_CONDITIONS):
        raise FixtureError(f"{where}: 'match' needs at least one of {', '.join(_TEXT_CONDITIONS)}")
    ending, stop_sequence = entry.get("ending"), entry.get("stop_sequence")
    if ending is not None and ending not in ENDINGS:
        raise FixtureError(f"{where}: 'ending' must be one of {', '.join(ENDINGS)}")
    if (ending == "stop_sequence") != isinstance(stop_sequence, str) or stop_sequence == "":
        raise FixtureError(f"{where}: 'stop_sequence' (a non-empty string) goes with 'ending': 'stop_sequence', "
                           "and only with it")
    return _Fixture(reply=reply, ending=ending, stop_sequence=stop_sequence, **match)


def _check_keys(value: Any, allowed: tuple[str, ...], where: str, what: str) -> None:
    """Require ``value`` to be a JSON object using only ``allowed`` keys."""
    if not isinstance(value, Mapping):
        raise FixtureError(f"{where}: {what} must be an object")
    unknown = [key for key in value if key not in allowed]
    if unknown:
        raise FixtureError(f"{where}: unknown key {unknown[0]!r} in {what}")
