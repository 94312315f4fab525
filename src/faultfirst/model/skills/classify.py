"""Rule 6 of the simulated model: reply with exactly one of the labels the prompt lists."""

from __future__ import annotations

import re

from ..prompt import Reply, _plain
from ..prompt_view import _body, _View
from ..text_tools import _NEGATORS, _remove_spans, _stem, _terms, _words

_LABEL_LIST_RE = re.compile(
    r"(?:\b(?:labels?|categories|classes|options|choices)\s*:|\bone of\b\s*:?)[ \t]*"
    r"(?P<list>[^\n]+?)(?=[.?!;:](?:\s|$)|\n|$)"
    r"|\b(?:classif|categori[sz]|label)\w*\b[^\n:]*?\bas (?:either\s+)?"
    r"(?P<as>[^\n:.?]+?\bor\b[^\n:.?]+?)(?=[.?!:](?:\s|$)|\n|$)",
    re.IGNORECASE,
)
_LABEL_SPLIT_RE = re.compile(r"\s*(?:,|;|/|\||\bor\b|\band\b)\s*", re.IGNORECASE)
_POSITIVE = frozenset(
    [
        "good", "great", "excellent", "love", "loved", "lovely", "amazing", "happy", "fantastic", "wonderful",
        "perfect", "best", "recommend", "awesome", "pleased", "satisfied", "delighted", "nice", "helpful", "easy",
        "beautiful", "brilliant", "enjoy", "enjoyed", "fast", "superb", "thank", "thanks", "work", "works",
        "working",
    ]
)
_NEGATIVE = frozenset(
    [
        "bad", "terrible", "awful", "hate", "hated", "horrible", "poor", "worst", "broken", "disappointed",
        "disappointing", "angry", "slow", "useless", "problem", "issue", "fail", "failed", "failure", "waste",
        "rude", "annoying", "unhappy", "wrong", "refund", "cancel", "late", "crash", "crashed", "broke",
    ]
)
_NEUTRAL_LABELS = frozenset(["neutral", "mixed", "other", "none", "unknown", "general", "misc", "ok"])
_POLARITY_LABELS = {
    **dict.fromkeys(["positive", "pos", "good", "happy", "praise", "satisfied"], 1),
    **dict.fromkeys(["negative", "neg", "bad", "unhappy", "complaint", "angry", "dissatisfied"], -1),
}
_TOPIC_CUES = {
    "billing": "bill charge charged invoice payment pay paid refund price card subscription",
    "technical": "error bug crash broken login password install update app website server",
    "shipping": "delivery deliver delivered package parcel shipped tracking arrived courier",
    "account": "login password account sign profile username email",
    "spam": "free winner win prize click offer lottery money unsubscribe",
    "urgent": "urgent asap immediately emergency critical outage",
}


def _labels(view: _View) -> tuple[list[str], list[tuple[int, int]]]:
    """The label list (user text first, else system prompt) and its spans in the request."""
    for text in (view.request, view.prompt.system):
        for found in _LABEL_LIST_RE.finditer(text):
            labels = _split_labels(found.group("list") or found.group("as"))
            if len(labels) >= 2:
                spans = [match.span() for match in _LABEL_LIST_RE.finditer(view.request)]
                return labels, spans
    return [], []


def _split_labels(text: str) -> list[str]:
    """Labels from "a, b or c" style lists, quotes and brackets stripped, de-duplicated."""
    labels: dict[str, str] = {}
    for part in _LABEL_SPLIT_RE.split(text):
        label = part.strip(" \t'\"`[](){}*.“”‘’")
        if label and len(label.split()) <= 4:
            labels.setdefault(label.lower(), label)
    return list(labels.values())


def _classify(view: _View) -> Reply | None:
    """Exactly one of the listed labels: keyword overlap first, then sentiment, then a neutral label."""
    labels, spans = _labels(view)
    if not labels:
        return None
    request = _remove_spans(view.request, spans)
    text = "\n".join([*(" ".join(source.sentences) for source in view.documents), _body(request) or request])
    terms = _terms(text)
    scores = [_keyword_score(label, terms) for label in labels]
    if max(scores) > 0:
        return _plain(labels[scores.index(max(scores))], "classify")
    mood = _sentiment(_words(text))
    direction = (mood > 0) - (mood < 0)
    polar = [label for label in labels if direction and _polarity(label) == direction]
    neutral = [label for label in labels if set(_words(label)) & _NEUTRAL_LABELS]
    return _plain((polar or neutral or labels)[0], "classify")


def _keyword_score(label: str, terms: list[str]) -> int:
    """How often the label's words, or the cue words of a known topic label, occur in the text."""
    label_terms = set(_terms(label))
    cues = set(label_terms)
    for term in label_terms:
        cues.update(map(_stem, _TOPIC_CUES.get(term, "").split()))
    return sum(term in cues for term in terms)


def _polarity(label: str) -> int:
    """+1 for a positive-sounding label, -1 for a negative one, else 0."""
    return next((_POLARITY_LABELS[word] for word in _words(label) if word in _POLARITY_LABELS), 0)


def _sentiment(words: list[str]) -> int:
    """Positive minus negative cue words; a cue right after a negation counts the other way."""
    score = 0
    for position, word in enumerate(words):
        polarity = (word in _POSITIVE) - (word in _NEGATIVE)
        negated = any(previous in _NEGATORS for previous in words[max(0, position - 3) : position])
        score += -polarity if negated else polarity
    return score
