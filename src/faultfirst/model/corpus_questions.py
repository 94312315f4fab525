"""Recognising a corpus question (docs/corpus.md) in a prompt, by its text, as the world recognises attacks.

The simulated model cannot understand a question; it knows the corpus's 121 questions, their gold answers
and gold spans, and recognises one when its words reach the model in the user's turn, compared with case,
punctuation and spacing ignored (`text_tools.normalised_words`), whatever instruction or label precedes it
("Question: ...", "Answer from the sources. ..."). Every question ends with a question mark, so the words
before each "?" of the request are looked up, as their last n words for each length n a question has: a
few dictionary lookups, built once per process, and nothing at all for a request with no "?".
"""

from __future__ import annotations

import functools

from .corpus import Question, load_questions
from .text_tools import normalised_words


@functools.cache
def _table() -> tuple[dict[str, Question], tuple[int, ...]]:
    """The questions by their normalised words, and the word counts they come in (longest first)."""
    table = {normalised_words(question.text): question for question in load_questions()}
    return table, tuple(sorted({len(key.split()) for key in table}, reverse=True))


def find_question(request: str) -> Question | None:
    """The corpus question `request` asks (the user's words outside any document), or None."""
    if "?" not in request:
        return None
    table, lengths = _table()
    for asked in request.split("?")[:-1]:
        words = normalised_words(asked).split()
        for n in lengths:
            if n <= len(words) and (question := table.get(" ".join(words[-n:]))) is not None:
                return question
    return None
