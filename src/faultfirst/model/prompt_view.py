"""Taking a prompt apart: the documents in it, the request around them, and the material the
request is about. Every skill reads a prompt through this `_View`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .attacks import Attack
from .injections import _GUARD_RE, _find_injections, _Injection
from .known_attacks import family_of_case, find_case, without_case
from .obedience import Defence, Placement, Temptation, datamark, family_of
from .prompt import Prompt
from .text_tools import _remove_spans, _sentence_spans

_DOC_TAG_RE = re.compile(r"<document\b([^>]*)>(.*?)</document>", re.IGNORECASE | re.DOTALL)
_DOC_CONTENT_RE = re.compile(r"<document_content>(.*?)</document_content>", re.IGNORECASE | re.DOTALL)
_DOC_SOURCE_RE = re.compile(r"<(source|title)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_DOC_ATTR_RE = re.compile(r"""\b(?:title|name|source)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_DOC_ID_RE = re.compile(r"""\bid\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_DOC_WRAPPER_RE = re.compile(r"</?documents>", re.IGNORECASE)
_DOC_HEADER_RE = re.compile(
    r"^[ \t]*Document(?:[ \t]*\d+)?(?:[ \t]*\(([^)\n]*)\))?[ \t]*:[ \t]*", re.IGNORECASE | re.MULTILINE
)
_SECTION_RE = re.compile(
    r"^[ \t]*(?:Document(?:[ \t]*\d+)?(?:[ \t]*\([^)\n]*\))?|Question|Q|Query|Task|Instructions?)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class _Source:
    """A text the model can quote from, and where it came from."""

    text: str
    title: str | None = None
    index: int | None = None  # position in Prompt.documents; None for text inside the user turn
    citations: bool = False
    origin: Placement = "document"
    delimited: bool = True  # set apart by the API (a block, a tool message) or by tags; not a bare "Document:"
    ident: str | None = None  # a `<document id="...">` tag's id: what a quote cites the source by

    @property
    def key(self) -> str | None:
        """The id a reply cites this source by: its tag's id, else its title (an Anthropic document's)."""
        return self.ident or self.title

    @functools.cached_property
    def mark(self) -> str | None:
        """The datamarking character the text's words are joined with (spotlighting), if any."""
        return datamark(self.text)

    @functools.cached_property
    def injections(self) -> tuple[_Injection, ...]:
        # A datamarked text is read through its marks, as the model reads it: one character for one
        # space, so the spans found are spans of the text as sent.
        return _find_injections(self.text.replace(self.mark, " ") if self.mark else self.text)

    @functools.cached_property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """Sentence spans, leaving out any sentence that touches an injected instruction."""
        return tuple(
            (start, end)
            for start, end in _sentence_spans(self.text)
            if not any(start < inj.end and inj.start < end for inj in self.injections)
        )

    @property
    def sentences(self) -> list[str]:
        return [self.text[start:end] for start, end in self.spans]


def _embedded_documents(user: str) -> tuple[list[_Source], list[tuple[int, int]]]:
    """Documents written into the user turn, and the spans they occupy.

    Recognises ``<document>`` sections (including Anthropic's
    ``<source>``/``<document_content>`` layout) and, failing those,
    ``Document:`` blocks that run to the next labelled section.
    """
    sources: list[_Source] = []
    spans = [wrapper.span() for wrapper in _DOC_WRAPPER_RE.finditer(user)]
    for section in _DOC_TAG_RE.finditer(user):
        attributes, body = section.groups()
        content = _DOC_CONTENT_RE.search(body)
        source = _DOC_SOURCE_RE.search(body)
        attribute = _DOC_ATTR_RE.search(attributes)
        title = (source.group(2) if source else None) or (
            (attribute.group(1) or attribute.group(2)) if attribute else None
        )
        text = content.group(1) if content else _DOC_SOURCE_RE.sub("", body)
        ident = _DOC_ID_RE.search(attributes)
        sources.append(_Source(text.strip(), title.strip() if title else None,
                               ident=(ident.group(1) or ident.group(2)).strip() if ident else None))
        spans.append(section.span())
    if sources:
        return sources, spans
    for header in _DOC_HEADER_RE.finditer(user):
        following = _SECTION_RE.search(user, header.end())
        end = following.start() if following else len(user)
        end = _without_trailing_question(user, header.end(), end)
        sources.append(_Source(user[header.end() : end].strip(), header.group(1), delimited=False))
        spans.append((header.start(), end))
    return sources, spans


def _without_trailing_question(text: str, start: int, end: int) -> int:
    """Where a ``Document:`` block ends if its last paragraph is the user's question."""
    gaps = list(_BLANK_LINE_RE.finditer(text, start, end))
    if gaps and text[gaps[-1].end() : end].strip().endswith(("?", "？")):
        return gaps[-1].start()
    return end


_LEAD_IN_RE = re.compile(
    r"^(?:(?:please|kindly|hey|hi|hello|ok|okay|so)\b[\s,!]*"
    r"|(?:can|could|would|will) you\s+|i (?:need|want|would like)(?: you)? to\s+|help me(?: to)?\s+)+",
    re.IGNORECASE,
)
_IMPERATIVE_RE = re.compile(
    r"(?:extract|return|give|produce|generate|create|write|describe|list|identify|analy[sz]e|parse"
    r"|convert|fill|respond|reply|output|provide|read|use|answer|classify|categori[sz]e|label|rate"
    r"|determine|find|pick|choose|select|translate|explain|compare|summari[sz]e|here(?:'s| is| are))\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
        ]
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100}
_SUMMARY_RE = re.compile(
    r"\bsummar(?:i[sz]e|y)\b|\btl;?dr\b|\bsum up\b|\bin (?:one|a single|1) sentence\b"
    rf"|\b(?:in|within|under|than|most)\s+(?P<limit>\d+|{'|'.join(_NUMBER_WORDS)})\s+words?\b",
    re.IGNORECASE,
)


def _is_instruction(sentence: str) -> bool:
    """Whether a sentence tells the model what to do rather than being material."""
    return bool(_IMPERATIVE_RE.match(_LEAD_IN_RE.sub("", sentence)) or _SUMMARY_RE.search(sentence))


def _body(text: str) -> str:
    """What an instruction refers to: ``text`` minus instruction sentences.

    An instruction ending in a colon ("Summarise in 10 words: The report ...")
    is cut only up to the colon, so the material after it stays; unless more
    lines follow, in which case the rest of the colon's line says what to cover
    ("Summarise this thread: the problem and the fix.\n\n<the thread>").
    """
    cuts: list[tuple[int, int]] = []
    for start, end in _sentence_spans(text):
        if _is_instruction(text[start:end]):
            colon = text.find(":", start, end)
            if colon == -1:
                cuts.append((start, end))
                continue
            line_end = text.find("\n", colon)
            more_lines = line_end != -1 and text[line_end:].strip()
            cuts.append((start, line_end if more_lines else colon + 1))
    return _remove_spans(text, cuts)


@dataclass(frozen=True)
class _View:
    """A prompt taken apart into documents, the request around them, and injections."""

    prompt: Prompt
    documents: tuple[_Source, ...]  # document blocks first, then documents in the user text
    request: str  # user text outside the documents, injected instructions removed
    injection: _Injection | None  # the first injected instruction the pattern reader found, if any
    case: Attack | None  # a packaged attack case found in the prompt (`known_attacks.py`); it goes first
    temptation: Temptation | None  # where the case or instruction sits, its attack family and the defences around it

    @classmethod
    def of(cls, prompt: Prompt) -> _View:
        blocks = [
            _Source(document.text, document.title, index, document.citations, origin=document.origin)
            for index, document in enumerate(prompt.documents)
        ]
        embedded, document_spans = _embedded_documents(prompt.user)
        user_injections = _find_injections(prompt.user)
        request = _remove_spans(
            prompt.user, [*document_spans, *((inj.start, inj.end) for inj in user_injections)]
        )
        found = [*((inj, block) for block in blocks for inj in block.injections),
                 *((inj, _enclosing(inj, embedded, document_spans)) for inj in user_injections)]
        first = found[0] if found else None
        sources = [*blocks, *embedded]
        case = find_case([*(source.text for source in sources), prompt.user, prompt.system])
        temptation: Temptation | None = None
        if case is not None:
            attack, place = case
            source = sources[place] if place < len(sources) else None
            placement: Placement = source.origin if source else ("request" if place == len(sources) else "system")
            temptation = Temptation(placement, family_of_case(attack), _defences(prompt, request, source))
        elif first is not None:
            temptation = _temptation(prompt, request, *first)
        return cls(
            prompt=prompt,
            documents=(*blocks, *embedded),
            request=request,
            injection=first[0] if first else None,
            case=case[0] if case else None,
            temptation=temptation,
        )

    @functools.cached_property
    def body(self) -> str:
        """The part of the request that is material rather than instruction."""
        return _body(self.request)

    @property
    def material(self) -> tuple[_Source, ...]:
        """Texts the request is about: the documents and whatever follows the instruction."""
        return (*self.documents, _Source(self.body)) if self.body else self.documents


def _enclosing(injection: _Injection, embedded: list[_Source], spans: list[tuple[int, int]]) -> _Source | None:
    """The document written into the user turn that holds `injection`, or None: the user's own words."""
    document_spans = spans[len(spans) - len(embedded):]  # the wrappers' spans come first
    for source, (start, end) in zip(embedded, document_spans, strict=True):
        if start <= injection.start < end:
            return source
    return None


def _temptation(prompt: Prompt, request: str, injection: _Injection, source: _Source | None) -> Temptation:
    """How the model meets `injection`: in the user's request or in a source, and what guards it."""
    if source is None:
        placement: Placement = "request"
        before = prompt.user[: injection.start]
    else:
        placement = source.origin
        before = source.text[: injection.start]
    return Temptation(placement, family_of(injection.demand, before), _defences(prompt, request, source))


def _defences(prompt: Prompt, request: str, source: _Source | None) -> frozenset[Defence]:
    """The prompt-level defences around an attack found in `source` (None: in the user's or system's words)."""
    defences: set[Defence] = set()
    if source is not None and source.delimited:
        defences.add("delimited")
    if source is not None and source.mark:
        defences.add("spotlit")
    if _GUARD_RE.search(prompt.system):
        defences.add("hierarchy")
    if _GUARD_RE.search(request):
        defences.add("reminder")
    return frozenset(defences)


def _resisting(prompt: Prompt) -> _View:
    """The prompt as a model that follows no attack reads it: a packaged case's lines left out (the view
    itself leaves out the instructions the pattern reader finds)."""
    view = _View.of(prompt)
    return view if view.case is None else _View.of(without_case(prompt, view.case))


def own_words(prompt: Prompt) -> str:
    """What the user asked in their own words: the user turn without the documents written into it, the
    instructions injected into it, or the lines of a packaged attack case. A model decides which tools
    a request calls for from these, not from the data it was given to read."""
    return _resisting(prompt).request


def resisted_results(prompt: Prompt) -> tuple[str, ...]:
    """The tool results as a model that follows no instruction in them relays them: those lines left out."""
    view = _resisting(prompt)
    return tuple(_remove_spans(source.text, [(inj.start, inj.end) for inj in source.injections])
                 for source in view.documents if source.origin == "tool_result")
