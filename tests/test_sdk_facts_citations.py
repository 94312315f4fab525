"""Pins the SDK facts Tier 4's lessons (grounding; generating text with citations) state, for the pinned
openai 3.57 and anthropic 2.14: the citation block types and their fields, the request types for document blocks
with citations enabled, the streamed `citations_delta`, and that openai's Chat Completions message has no field
for citations into documents you send (only `annotations` of type "url_citation", from its web search tool).

The lessons also state the API's promise that Anthropic citations point into the provided documents, which is
why the world never spoils a citation block. The Citations page says so, under "Comparison with prompt-based
approaches": "Because citations are parsed into the respective response formats mentioned above and cited_text
is extracted, citations are guaranteed to contain valid pointers to the provided documents."
(https://platform.claude.com/docs/en/build-with-claude/citations, checked December 2026.)
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import anthropic
import openai
import pydantic
from anthropic.types import (
    CitationCharLocation,
    CitationContentBlockLocation,
    CitationPageLocation,
    CitationsConfigParam,
    CitationsDelta,
    ContentBlockSourceParam,
    DocumentBlockParam,
    PlainTextSourceParam,
    TextBlock,
)
from openai.types.chat.chat_completion_message import Annotation, ChatCompletionMessage

from faultfirst import World, load_questions
from tests.corpus_requests import abstract, anthropic_turn, content_document, text_document


def _literal(model: Any, field: str) -> tuple[Any, ...]:
    return typing.get_args(model.model_fields[field].annotation)


def test_the_pinned_versions():
    """These facts are those of openai 3.57.0 and anthropic 2.14.0."""
    assert openai.__version__ == "3.57.0" and anthropic.__version__ == "2.14.0"


def test_three_citation_location_types_and_their_fields():
    """Anthropic citations are char_location (start_char_index, end_char_index), page_location (start_page_number,
    end_page_number) or content_block_location (start_block_index, end_block_index, the end exclusive), each with
    cited_text, document_index, document_title and file_id."""
    assert _literal(CitationCharLocation, "type") == ("char_location",)
    assert _literal(CitationPageLocation, "type") == ("page_location",)
    assert _literal(CitationContentBlockLocation, "type") == ("content_block_location",)
    shared = {"type", "cited_text", "document_index", "document_title", "file_id"}
    assert set(CitationCharLocation.model_fields) == shared | {"start_char_index", "end_char_index"}
    assert set(CitationPageLocation.model_fields) == shared | {"start_page_number", "end_page_number"}
    assert set(CitationContentBlockLocation.model_fields) == shared | {"start_block_index", "end_block_index"}
    # the end index is exclusive, and cited_text the cited blocks joined, said in the SDK's own field docstrings
    source = inspect.getsource(CitationContentBlockLocation)
    assert "Exclusive 0-based end index" in source and "concatenated" in source


def _models_in(annotation: Any) -> set[type]:
    """The pydantic models an annotation names, through Optional, List, Annotated and Union."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return {annotation}
    return {model for argument in typing.get_args(annotation) for model in _models_in(argument)}


def test_a_text_block_carries_its_citations_and_the_stream_sends_them_as_citations_delta():
    """A TextBlock's `citations` holds the three location types; a stream sends each as a `citations_delta`."""
    locations = {CitationCharLocation, CitationPageLocation, CitationContentBlockLocation}
    assert locations <= _models_in(TextBlock.model_fields["citations"].annotation)
    assert locations <= _models_in(CitationsDelta.model_fields["citation"].annotation)
    assert _literal(CitationsDelta, "type") == ("citations_delta",)
    assert set(CitationsDelta.model_fields) == {"citation", "type"}


def test_the_request_types_for_documents_with_citations():
    """A document block takes source, title, context and citations ({"enabled": bool}); a source is "text" or
    "content" (among others)."""
    assert typing.get_type_hints(CitationsConfigParam) == {"enabled": bool}
    hints = typing.get_type_hints(DocumentBlockParam)
    assert {"source", "type", "title", "context", "citations", "cache_control"} <= set(hints)
    assert typing.get_args(typing.get_type_hints(PlainTextSourceParam)["type"]) == ("text",)
    assert typing.get_args(typing.get_type_hints(ContentBlockSourceParam)["type"]) == ("content",)


def test_openai_chat_completions_has_no_field_for_citations_into_your_documents():
    """OpenAI's Chat Completions message has no field for citations into documents you send: `annotations` are
    url_citation only (its web search tool's)."""
    assert set(ChatCompletionMessage.model_fields) == {"content", "refusal", "role", "annotations", "audio",
                                                       "function_call", "tool_calls"}
    assert _literal(Annotation, "type") == ("url_citation",)  # web search results' URLs, not your documents


def test_the_world_answers_in_those_types_through_the_real_sdk():
    """A plain-text document is cited by char_location, a content document by content_block_location, in a
    reply and in a stream (whose citations arrive as citations_delta events)."""
    question = next(q for q in load_questions("lesson") if q.kind == "single")
    doc = question.spans[0].doc
    claude = World(seed=0).anthropic()
    plain = claude.messages.create(model="claude-fast", max_tokens=400,
                                   messages=anthropic_turn(question.text, [text_document(doc)]))
    cited = [c for b in plain.content if isinstance(b, TextBlock) for c in (b.citations or [])]
    assert [type(c) for c in cited] == [CitationCharLocation]
    chunks = ["Preface. ", abstract(doc)]  # the abstract is the second content block
    kinds = []
    with claude.messages.stream(model="claude-fast", max_tokens=400,
                                messages=anthropic_turn(question.text, [content_document(doc, chunks)])) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "citations_delta":
                kinds.append(type(event.delta.citation))
        final = stream.get_final_message()
    assert kinds == [CitationContentBlockLocation]
    citation = next(c for b in final.content if isinstance(b, TextBlock) for c in (b.citations or []))
    assert isinstance(citation, CitationContentBlockLocation)
    assert (citation.start_block_index, citation.end_block_index) == (1, 2)
    assert citation.cited_text == abstract(doc)
