"""Rule 5 of the simulated model: summarise, within a word limit the request may set."""

from __future__ import annotations

import re

from ..prompt import Reply, _plain
from ..prompt_view import _NUMBER_WORDS, _SUMMARY_RE, _View
from ..text_tools import _clip_words

_SUMMARY_WORDS = 60
_ONE_SENTENCE_RE = re.compile(r"\b(?:one|a single|1) sentence\b|\btl;?dr\b", re.IGNORECASE)


def _summary(view: _View) -> Reply | None:
    """The opening one or two sentences of the longest material, within the word limit."""
    material = [source for source in view.material if source.sentences]
    instructions = f"{view.prompt.system}\n{view.request}"  # "Summarise ..." may sit in the system prompt
    if not _SUMMARY_RE.search(instructions) or not material:
        return None
    limit = _SUMMARY_WORDS
    for cue in _SUMMARY_RE.finditer(instructions):
        if cue.group("limit"):
            given = cue.group("limit").lower()
            limit = int(given) if given.isdigit() else _NUMBER_WORDS.get(given, limit)
    sentences = max(material, key=lambda source: len(source.text)).sentences
    chosen = sentences[:1]
    if not _ONE_SENTENCE_RE.search(instructions) and len(sentences) > 1 and len(chosen[0].split()) < 15:
        chosen = sentences[:2]
    return _plain(_clip_words(" ".join(chosen), max(1, limit)), "summary")
