"""Pins the facts that the lesson "Grounding" (book/tier4/grounding.md) states beyond those of
tests/test_sdk_facts_citations.py (the citation block types, the document request types, openai's url_citation-only
annotations, which both Tier 4 lessons state): that Chat Completions takes no documents, and what the pinned bm25s
0.3 does by default.

Each fact is read from the installed package (its signatures) or shown by running it, so an upgrade that changes one
fails here and names it.
"""

from __future__ import annotations

import inspect

import bm25s  # type: ignore[import-untyped]  # no stubs or py.typed upstream
import openai
import pytest


def test_chat_completions_create_takes_no_documents():
    """OpenAI's Chat Completions create() has no parameter for documents or sources: they go into a message's text."""
    parameters = inspect.signature(openai.resources.chat.Completions.create).parameters
    assert not {"documents", "sources", "citations"} & set(parameters)
    assert "messages" in parameters


def test_bm25s_defaults_the_lesson_describes():
    """Lucene's BM25 with k1=1.5 and b=0.75; tokenize lowercases, keeps words of two or more word characters, drops
    English stopwords when asked (not "which"), and takes a stemmer."""
    defaults = inspect.signature(bm25s.BM25.__init__).parameters
    assert (defaults["k1"].default, defaults["b"].default, defaults["method"].default) == (1.5, 0.75, "lucene")
    tokenize = inspect.signature(bm25s.tokenize).parameters
    assert tokenize["lower"].default is True and tokenize["token_pattern"].default == r"(?u)\b\w\w+\b"
    assert "stemmer" in tokenize
    assert bm25s.tokenize(["The A-1 q-error of HistoLoom"], stopwords="en", return_ids=False,
                          show_progress=False) == [["error", "histoloom"]]
    assert bm25s.tokenize(["Which dataset was it evaluated on?"], stopwords="en", return_ids=False,
                          show_progress=False) == [["which", "dataset", "evaluated"]]


def test_bm25s_returns_positions_and_refuses_a_k_beyond_the_corpus():
    """retrieve() answers with positions into the indexed list, and raises ValueError when k exceeds its size."""
    index = bm25s.BM25()
    index.index(bm25s.tokenize(["alpha beta", "gamma delta", "beta gamma"], show_progress=False), show_progress=False)
    found, _ = index.retrieve(bm25s.tokenize(["delta"], show_progress=False), k=1, show_progress=False)
    assert found.tolist() == [[1]]
    with pytest.raises(ValueError):
        index.retrieve(bm25s.tokenize(["delta"], show_progress=False), k=4, show_progress=False)
