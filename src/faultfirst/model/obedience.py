"""How likely the simulated model is to follow an instruction injected into its prompt.

Real models are neither always fooled nor ever safe. Measurements of indirect prompt injection
agree on a shape: a model follows a good share of instructions planted in what it reads; prompt-level
defences (delimiting the data, marking it, telling the model in the system prompt that it is data)
lower that share without removing it; and an attack built against a defence walks past it (a
document that closes the delimiter the application wrapped it in). The world reproduces that shape
and nothing finer: each attempt that carries an injection is obeyed with `chance(...)`, drawn from
the world's own seeded stream for injections, and an obeyed attempt is labelled
`"injection_obeyed"` in `record.faults`.

Every number here is the simulator's assumption, chosen for that shape, not a measurement of any
real model. A lesson that quotes one says so, and shows how to measure the same rate live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Placement = Literal["request", "system", "document", "tool_result"]
Family = Literal["override", "impersonation", "exfiltration", "delimiter_escape", "obfuscation"]
Defence = Literal["delimited", "spotlit", "hierarchy", "reminder"]

# Chance that an undefended prompt's injection is followed, per model; a model not listed (a learner's
# own catalogue entry) takes the most credulous one's. Stronger models are fooled less often.
BASE_CHANCE: dict[str, float] = {"gpt-fast": 0.55, "gpt-strong": 0.30, "claude-fast": 0.45, "claude-strong": 0.25}

# What each defence multiplies the chance by, per attack family (families not named: `_DEFAULT`).
# 1.0 means the family beats that defence: an escape closes the delimiter, a link that smuggles data
# out reads as harmless formatting to a model told only that documents are data.
_FACTORS: dict[Defence, dict[Family | Literal["_DEFAULT"], float]] = {
    "delimited": {"_DEFAULT": 0.6, "delimiter_escape": 1.0},
    "spotlit": {"_DEFAULT": 0.25},
    "hierarchy": {"_DEFAULT": 0.5, "impersonation": 0.7, "exfiltration": 0.85},
    "reminder": {"_DEFAULT": 0.75},
}
# An encoded or disguised instruction is followed less often: the model must first decode it.
_FAMILY_FACTOR: dict[Family, float] = {"obfuscation": 0.7}
# Defences that act on what the model reads, not on the user's own turn: an instruction typed by the
# user is not inside any delimiter or marking. Text the application itself writes into its system
# prompt (a profile, a memory) is trusted by every defence: none of them helps there.
_DATA_DEFENCES: frozenset[Defence] = frozenset({"delimited", "spotlit"})
FLOOR = 0.01  # no prompt-level defence brings the chance to zero


@dataclass(frozen=True)
class Temptation:
    """An injection as the model meets it: where it sits, what kind of attack it is, what guards it."""

    placement: Placement
    family: Family
    defences: frozenset[Defence]


def chance(model: str, temptation: Temptation) -> float:
    """The chance that `model` follows the injection described by `temptation`."""
    p = BASE_CHANCE.get(model, max(BASE_CHANCE.values())) * _FAMILY_FACTOR.get(temptation.family, 1.0)
    if temptation.placement == "system":
        return max(FLOOR, p)
    for defence in sorted(temptation.defences):
        if defence in _DATA_DEFENCES and temptation.placement == "request":
            continue
        factors = _FACTORS[defence]
        p *= factors.get(temptation.family, factors["_DEFAULT"])
    return max(FLOOR, p)


_URL_RE = re.compile(r"https?://|!\[[^\]]*\]\(|\]\(\s*https?:", re.IGNORECASE)
_IMPERSONATION_RE = re.compile(
    r"(?:^|\n|\[|<\|?)\s*(?:system|developer|assistant|admin(?:istrator)?)\s*(?:\]|\|?>|:)"
    r"|\b(?:system|developer)\s+(?:message|notice|update|prompt)\s*:",
    re.IGNORECASE,
)
_CLOSING_RE = re.compile(
    r"</\s*[a-z_\-]+\s*>|```|\"\"\"|\bend\s+of\s+(?:the\s+)?(?:document|data|input|text|context|file)\b",
    re.IGNORECASE,
)


def family_of(demand: str, before: str) -> Family:
    """The attack family, from the demand itself and the text just before the instruction."""
    if _CLOSING_RE.search(before[-80:]):
        return "delimiter_escape"
    if _URL_RE.search(demand):
        return "exfiltration"
    if _IMPERSONATION_RE.search(before[-40:] + demand[:40]):
        return "impersonation"
    return "override"


_MARK_CANDIDATES = "^ˆ‸|~+_•·"


def datamark(text: str) -> str | None:
    """The character `text`'s words are joined with, if it is datamarked (spotlighting); else None.

    Spotlighting by datamarking replaces the whitespace in untrusted text with one marker character,
    so the model can tell the data from the instructions around it. A marker counts when it joins at
    least two words in three and the text has almost no plain spaces left.
    """
    words = len(re.findall(r"\w+", text))
    if words < 4 or text.count(" ") > words // 10:
        return None
    for mark in _MARK_CANDIDATES:
        if text.count(mark) * 3 >= (words - 1) * 2:
            return mark
    return None
