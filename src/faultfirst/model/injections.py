"""Injected instructions ("Ignore previous instructions and ...") found in a prompt, and what a
naive model says when it obeys one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .prompt import Prompt
from .text_tools import _as_sentence, _sentence_spans

_INJECTION_RE = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
    r"(?:previous|prior|above|earlier|preceding)\b"
    r"(?:\s+(?:instructions?|directions?|prompts?|rules|guidelines|messages?|context))?"
    r"|\bsystem\s+override\s*:"
    r"|\bnew\s+instructions?\s*:",
    re.IGNORECASE,
)
_CONNECTIVES_RE = re.compile(
    r"^(?:[\s,.;:!\-–—]+|(?:and|then|instead|now|just|simply|please)\b)+", re.IGNORECASE
)
_GUARD_RE = re.compile(
    r"untrusted|(?:do not|don't|never) follow (?:any )?(?:instructions|commands)"
    r"|ignore any instructions"
    r"|treat (?:the |all |any )?(?:documents?|content|text|input)(?: content)? as (?:untrusted )?data",
    re.IGNORECASE,
)
_QUOTED_RE = re.compile(r""""([^"]+)"|“([^”]+)”|‘([^’]+)’|(?<!\w)'(.+?)'(?!\w)""")
_LEAK_RE = re.compile(
    r"\b(?:reveal|print|show|repeat|output|leak|disclose)\b.*\b(?:system prompt|instructions)\b",
    re.IGNORECASE,
)
_SAY_RE = re.compile(
    r"(?:(?:you\s+(?:must|should|will)|always|only)\s+)*"
    r"(?:say|state|claim|tell\s+(?:the\s+)?(?:users?|customers?|readers?|them|everyone)"
    r"|reply|respond|answer|write|output|print)\b(?:\s+only)?(?:\s+(?:with|that))?"
    r"(?:\s+(?:the\s+)?(?:exact\s+)?(?:text|words?|phrase|string|message|sentence))?\s*:?\s*(?P<claim>.+)",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class _Injection:
    """An injected instruction: the span it covers and what it demands."""

    start: int
    end: int
    sentence: str
    demand: str


def _find_injections(text: str) -> tuple[_Injection, ...]:
    """Injected instructions in ``text``; each covers its trigger and the demand after it.

    The demand is the rest of the trigger's sentence, or the next sentence on
    the same line when the trigger stands alone ("Ignore the above. Say ...").
    """
    found: list[_Injection] = []
    for trigger in _INJECTION_RE.finditer(text):
        line_end = text.find("\n", trigger.end())
        line_end = len(text) if line_end == -1 else line_end
        rest = text[trigger.end() : line_end]
        lead = _CONNECTIVES_RE.match(rest)
        offset = trigger.end() + (lead.end() if lead else 0)
        spans = _sentence_spans(text[offset:line_end])
        end = offset + spans[0][1] if spans else trigger.end()
        demand = text[offset:end].strip()
        found.append(_Injection(trigger.start(), end, text[trigger.start() : end].strip(), demand))
    return tuple(found)


def _obey(injection: _Injection, prompt: Prompt) -> str:
    """What a naive model says when it follows ``injection``."""
    demand = injection.demand
    if _LEAK_RE.search(demand) and prompt.system:
        return prompt.system
    if said := _SAY_RE.match(demand):
        claim = said.group("claim").strip()
        quoted = _QUOTED_RE.match(claim)
        obeyed = _unquote(quoted) if quoted else _as_sentence(claim)
    elif quoted := _QUOTED_RE.search(demand):
        obeyed = _unquote(quoted)
    else:
        obeyed = demand
    return obeyed or injection.sentence


def _unquote(quoted: re.Match[str]) -> str:
    """The text inside a ``_QUOTED_RE`` match, without closing punctuation."""
    return next(group for group in quoted.groups() if group).strip().rstrip(".!")
