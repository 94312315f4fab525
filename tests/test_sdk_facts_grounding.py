"""Pins the SDK and library facts that the lesson "Grounding" (book/tier4/grounding.md) states, for the pinned
anthropic 2.x, openai 3.x and bm25s 0.3.

Each fact is read from the installed package (its types, its signatures) or shown by running it, so an upgrade that
changes one fails here and names it.
"""

from __future__ import annotations

import inspect
import typing

import bm25s  # type: ignore[import-untyped]  # no stubs or py.typed upstream
import openai
import pydantic
import pytest
from anthropic.types import (
    CitationCharLocation,
    CitationContentBlockLocation,
    CitationPageLocation,
    CitationsConfigParam,
    ContentBlockSourceParam,
    DocumentBlockParam,
    PlainTextSourceParam,
    TextBlock,
    TextCitation,
)
from openai.types.chat.chat_completion_message import Annotation


def _literal(model: type[pydantic.BaseModel], field: str) -> tuple[str, ...]:
    return typing.get_args(model.model_fields[field].annotation)


def _members(alias: object) -> list[type]:
    """The classes of an Annotated[Union[...], ...] alias such as TextCitation."""
    union = typing.get_args(alias)[0]
    return list(typing.get_args(union))


def test_a_text_block_carries_citations_of_three_document_locations():
    """TextBlock.citations is a list of TextCitation, whose document kinds are char, page and content-block."""
    assert "citations" in TextBlock.model_fields
    kinds = {_literal(member, "type")[0] for member in _members(TextCitation)}
    assert {"char_location", "page_location", "content_block_location"} <= kinds


def test_each_location_names_its_document_and_its_range():
    """The fields the lesson reads: document_index and document_title, cited_text, and each kind's own range."""
    common = {"cited_text", "document_index", "document_title"}
    assert common | {"start_char_index", "end_char_index"} <= set(CitationCharLocation.model_fields)
    assert common | {"start_block_index", "end_block_index"} <= set(CitationContentBlockLocation.model_fields)
    assert common | {"start_page_number", "end_page_number"} <= set(CitationPageLocation.model_fields)


def test_a_document_block_takes_text_or_content_sources_a_title_and_a_citations_switch():
    """DocumentBlockParam: source (plain text, content blocks, PDFs...), title, and citations={"enabled": bool}."""
    hints = typing.get_type_hints(DocumentBlockParam)
    assert {"source", "title", "citations"} <= set(hints)
    sources = typing.get_args(hints["source"])
    assert PlainTextSourceParam in sources and ContentBlockSourceParam in sources
    assert typing.get_type_hints(PlainTextSourceParam)["type"] == typing.Literal["text"]
    assert typing.get_type_hints(ContentBlockSourceParam)["type"] == typing.Literal["content"]
    assert set(typing.get_type_hints(CitationsConfigParam)) == {"enabled"}


def test_chat_completions_has_no_document_field_and_its_only_annotation_is_a_url_citation():
    """OpenAI: create() takes no documents; message.annotations exists for web search, of type url_citation only."""
    parameters = inspect.signature(openai.resources.chat.Completions.create).parameters
    assert not {"documents", "citations", "sources"} & set(parameters)
    assert _literal(Annotation, "type") == ("url_citation",)


def test_bm25s_defaults_the_lesson_describes():
    """Lucene's BM25 with k1=1.5 and b=0.75; tokenize lowercases, keeps words of two or more word characters, drops
    English stopwords when asked (not "which"), and takes a stemmer."""
    defaults = inspect.signature(bm25s.BM25.__init__).parameters
    assert (defaults["k1"].default, defaults["b"].default, defaults["method"].default) == (1.5, 0.75, "lucene")
    tokenize = inspect.signature(bm25s.tokenize).parameters
    assert tokenize["lower"].default is True and tokenize["token_pattern"].default == r"(?u)\b\w\w+\b"
    assert "stemmer" in tokenize  # the lesson: bm25s can add a stemmer
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
