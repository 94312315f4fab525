"""Text basics the skills share: words, terms for matching, sentences with character offsets."""

from __future__ import annotations

import re
from collections.abc import Iterable

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
# CJK runs are kept apart from other words so they can be matched as bigrams:
# Japanese and Chinese do not put spaces between words.
_TERM_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN_RE = re.compile(rf"[{_CJK}]+")
_STOPWORDS = frozenset(
    [
        "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as",
        "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
        "did", "do", "does", "doing", "don", "down", "during", "each", "few", "for", "from", "further", "had",
        "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is",
        "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "of", "off", "on", "once",
        "only", "or", "other", "our", "ours", "out", "over", "own", "please", "same", "she", "should", "so",
        "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this",
        "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when",
        "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "you", "your", "yours",
        "tell", "according", "document", "documents", "text", "say", "says", "said", "give", "me",
    ]
)
_NEGATORS = frozenset([
    "not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "without", "hardly", "t", "cannot",
])


def normalised_words(text: str) -> str:
    """Words only, case folded, single spaces: how the world recognises a packaged text (an attack case, a
    corpus question) in a prompt whatever its punctuation, spacing or case."""
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def _stem(word: str) -> str:
    """Fold common English plurals and third-person verbs so "refunds" matches "refund"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("shes", "ches", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    """Lower-case word tokens, stopwords included (needed to spot negation)."""
    return [match.group() for match in _TERM_RE.finditer(text.lower())]


def _terms(text: str) -> list[str]:
    """Content terms for lexical matching: stemmed words, CJK as character bigrams."""
    terms: list[str] = []
    for word in _words(text):
        if _CJK_RUN_RE.fullmatch(word):
            terms.extend(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        elif word not in _STOPWORDS and (len(word) > 1 or word.isdigit()):
            terms.append(_stem(word))
    return terms


_BOUNDARY_RE = re.compile(
    r"""[.!?]+["'”’)\]]*(?=\s|$)|[。！？]+[」』）]*|\n(?![ \t]*(?:[a-z]|\d+(?![.)]\s)))"""
)
_ABBREVIATIONS = frozenset({"e.g", "i.e", "vs", "mr", "mrs", "ms", "dr", "prof", "inc", "cf"})
_LOOKBEHIND = 12  # characters inspected before a full stop or a name; keeps long texts linear
_LEADING_JUNK = frozenset(" \t\r\n-*•#>")


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text``, trimmed of whitespace and bullets.

    A newline ends a sentence unless the next line starts in lower case or
    with a number that is not list numbering (a hard-wrapped paragraph), so
    headings and list items stand alone.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for boundary in _BOUNDARY_RE.finditer(text):
        if boundary.group().startswith(".") and _ends_with_abbreviation(text, boundary.start()):
            continue
        spans.append(_trim(text, start, boundary.start() if boundary.group() == "\n" else boundary.end()))
        start = boundary.end()
    spans.append(_trim(text, start, len(text)))
    return [(begin, end) for begin, end in spans if _TERM_RE.search(text, begin, end)]


def _ends_with_abbreviation(text: str, position: int) -> bool:
    """Whether the full stop at ``position`` closes an abbreviation such as "e.g"."""
    word = re.search(r"[\w.]+$", text[max(0, position - _LOOKBEHIND) : position])
    return word is not None and word.group().lower() in _ABBREVIATIONS


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span past surrounding whitespace and leading list markers."""
    while start < end and text[start] in _LEADING_JUNK:
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings."""
    return [text[start:end] for start, end in _sentence_spans(text)]


def _remove_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with the (possibly overlapping) spans cut out."""
    pieces: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if start > position:
            pieces.append(text[position:start])
        position = max(position, end)
    pieces.append(text[position:])
    return "\n".join(piece.strip() for piece in pieces if piece.strip())


def _clip_words(text: str, limit: int) -> str:
    """At most ``limit`` whitespace-separated words, marking a cut with an ellipsis."""
    words = text.split()
    if len(words) <= limit:
        return text
    return " ".join(words[:limit]).rstrip(",;:") + "…"


def _as_sentence(text: str) -> str:
    """Capitalise the first letter and make sure the text ends with punctuation."""
    text = text.strip()
    if text and text[-1] not in ".!?。！？…\"'":
        text += "."
    return text[:1].upper() + text[1:]
