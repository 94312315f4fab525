"""The packaged attack cases (`attacks.py`), recognised in a prompt, and what obeying one looks like.

The world reads a free-form injection by pattern (`injections.py`: "ignore previous instructions",
"new instructions:"). The attack set's cases are written to get past such patterns, as real attacks
are, and a pattern-matching simulator cannot understand them; so the world recognises them the way
it recognises a fixture: by their text. A case counts as present when its whole text reaches the
model, compared with case, punctuation, whitespace and datamarking ignored (so delimiting and
spotlighting it still leave it recognised, as a real model still reads it). A defence that cuts part
of a case out leaves the rest to the pattern reader: the simulation is kinder to such filtering than a
real model, which may follow what is left, and a lesson that measures filtering says so.

Obeying a case gives the attacker exactly what its criterion asks (the canary in the reply, a link to
the attacker's host carrying the data, a call to the attacker's tool with the attacker's argument);
resisting it, the model answers from the prompt with the lines that carry the attack left out.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from .attacks import URL_RE, Attack, load_attacks
from .injections import _INJECTION_RE
from .obedience import Family
from .prompt import Prompt
from .text_tools import normalised_words as _normalised

_FAMILIES: dict[str, Family] = {
    "direct_override": "override", "via_document": "override", "via_tool_result": "override",
    "link_exfiltration": "exfiltration", "delimiter_escape": "delimiter_escape",
    "impersonation": "impersonation", "obfuscation": "obfuscation",
}
_BLOB_RE = re.compile(r"[A-Za-z0-9+/=]{24,}")


@functools.cache
def _cases() -> tuple[tuple[str, Attack], ...]:
    """Every case with its normalised text, longest first (a case inside another's text loses to it)."""
    return tuple(sorted(((_normalised(a.text), a) for a in load_attacks()), key=lambda pair: -len(pair[0])))


def find_case(places: list[str]) -> tuple[Attack, int] | None:
    """The first packaged case whose whole text is in one of `places`, and that place's index.

    Longer cases are tried first, so a case whose text holds another's is not taken for it.
    """
    normalised = [_normalised(text) for text in places]
    for key, attack in _cases():
        for index, text in enumerate(normalised):
            if key and key in text:
                return attack, index
    return None


def family_of_case(attack: Attack) -> Family:
    """The obedience family (`obedience.py`) of a packaged case's family."""
    return _FAMILIES[attack.family]


def payload_lines(attack: Attack) -> tuple[str, ...]:
    """The lines of a case that carry the attack: what a resisting model leaves out of its answer.

    A line carries it when it names the attacker's target, data or host, holds an encoded blob, or
    reads as an injected instruction; a case with no such line is all payload.
    """
    criterion = attack.success
    marks = [m.casefold() for m in (criterion.target, criterion.carrying) if m]
    lines = attack.text.splitlines()
    carrying = tuple(
        line for line in lines
        if any(m in line.casefold() for m in marks) or _BLOB_RE.search(line) or _INJECTION_RE.search(line)
        or URL_RE.search(line)
    )
    return carrying or tuple(lines)


def without_case(prompt: Prompt, attack: Attack) -> Prompt:
    """`prompt` as a model that resists `attack` reads it: the lines that carry the attack left out.

    A text whose lines cannot be found as written (datamarked, re-wrapped) but still holds the attack
    is left out whole.
    """
    def clean(text: str) -> str:
        for line in payload_lines(attack):
            if line.strip():
                text = text.replace(line, "")
        key = _normalised(" ".join(payload_lines(attack)))
        return "" if key and key in _normalised(text) else text

    documents = tuple(dataclasses.replace(d, text=clean(d.text)) for d in prompt.documents)
    return dataclasses.replace(prompt, system=clean(prompt.system), user=clean(prompt.user), documents=documents)


def obeyed_text(attack: Attack) -> str:
    """What the model writes when it follows `attack`: exactly what the attacker's criterion asks for."""
    criterion = attack.success
    if criterion.kind == "contains":
        return criterion.target
    if criterion.kind == "links_to":
        url = next((u.rstrip(".,;:!?") for u in URL_RE.findall(attack.text) if criterion.target in u),
                   f"https://{criterion.target}/")
        if criterion.carrying and criterion.carrying.casefold() not in unquote_plus(url).casefold():
            url += ("&" if "?" in url else "?") + f"d={quote_plus(criterion.carrying)}"
        return f"![status]({url})"
    return f"Done: I called {criterion.target}."


def demanded_call(attack: Attack) -> tuple[str, str | None] | None:
    """The tool call `attack` wants (its name, and the argument it must carry), if it wants one."""
    criterion = attack.success
    return (criterion.target, criterion.carrying) if criterion.kind == "calls_tool" else None


_EMPTY = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}


def demanded_arguments(schema: dict[str, Any], carrying: str | None) -> str:
    """Arguments for a call an obeyed attack demands: its data in the tool's first string field.

    The other required fields get empty values of their type: the attacker cares about one argument.
    """
    properties = schema.get("properties") or {}
    strings = [name for name, spec in properties.items() if isinstance(spec, dict) and spec.get("type") == "string"]
    field = strings[0] if strings else next(iter(properties), "input")
    arguments: dict[str, Any] = {field: carrying or ""}
    for name in schema.get("required") or ():
        if name not in arguments:
            spec = properties.get(name)
            arguments[name] = _EMPTY.get(str(spec.get("type")), "") if isinstance(spec, dict) else ""
    return json.dumps(arguments)
