"""The simulated model: what it replies to a prompt.

The request-parsing layer turns an OpenAI or Anthropic request into a neutral
:class:`Prompt`; :func:`respond` decides the reply.  The engine is a handful of
rules tried in order, the first that applies wins:

1. ``fixture``  - a scripted reply from a :class:`~faultfirst.model.fixtures.FixtureSet`.
2. ``injected`` - a document or the user turn carries an injected instruction
   ("Ignore previous instructions and ...").  Like a naive model, the engine
   obeys it unless the prompt is *guarded* (it calls document content
   untrusted data); a guarded prompt falls through and the injected sentence
   is left out of everything below.
3. ``json``     - the prompt carries a JSON Schema: emit JSON that fits it.
4. ``answer``   - documents plus a question: quote the best-matching sentences,
   with Anthropic-style citations when the document enables them.
5. ``summary``  - a request to summarise: the opening sentences, within limits.
6. ``classify`` - a list of labels: reply with exactly one of them.
7. ``default``  - a short, plausible, engineer-flavoured reply.

Everything is deterministic.  At ``temperature == 0`` a reply is a pure
function of the prompt and the ``rng`` passed in is never touched; above zero,
wording may be sampled from ``rng`` (the default reply always is), so seeding
the generator reproduces a run.  Where the default reply needs choices at
temperature 0 it draws them from a private ``random.Random`` seeded with a
SHA-256 of the prompt - never from ``hash()``, which is salted per process.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultfirst.model.fixtures import FixtureSet


@dataclass(frozen=True)
class Document:
    """A document passed alongside the user turn (an Anthropic document block)."""

    text: str
    title: str | None = None
    citations: bool = False


@dataclass(frozen=True)
class Prompt:
    """A provider-neutral view of one request."""

    system: str
    user: str
    documents: tuple[Document, ...] = ()
    schema: dict | None = None
    schema_name: str | None = None
    temperature: float = 1.0
    provider: str = "openai"
    model: str = ""


@dataclass(frozen=True)
class Citation:
    """A character span of ``documents[document_index]`` that backs a block."""

    document_index: int
    start: int
    end: int
    cited_text: str
    title: str | None


@dataclass(frozen=True)
class Block:
    """One text block of a reply, with the citations that support it."""

    text: str
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Reply:
    """The simulated model's reply and the rule that produced it."""

    blocks: tuple[Block, ...]
    skill: str
    ending: str | None = None  # a fixture's scripted ending (see _fixtures.ENDINGS); None: the engine's own
    stop_sequence: str | None = None

    @property
    def text(self) -> str:
        """The reply as plain text."""
        return "".join(block.text for block in self.blocks)


def respond(prompt: Prompt, rng: random.Random, *, fixtures: FixtureSet | None = None) -> Reply:
    """Decide what the simulated model replies to ``prompt`` (see the module docstring)."""
    if fixtures is not None and (entry := fixtures.entry(prompt)) is not None:
        texts = entry.reply if isinstance(entry.reply, tuple) else (entry.reply,)  # a tuple: several text blocks
        return Reply(tuple(Block(text) for text in texts), "fixture", entry.ending, entry.stop_sequence)
    decision = _decide(prompt)
    if isinstance(decision, Reply):
        return decision
    # Only prompts above temperature 0 leave a sampled part; it draws from `rng`.
    if decision.facts is not None:
        return _plain(_dump(_fake_json(prompt.schema, decision.facts, rng)), "json")
    return _plain(_default_text(decision.topic, rng), "default")


@dataclass(frozen=True)
class _Sampled:
    """What the sampled part of a reply needs from the prompt: facts for JSON, or the topic to talk about."""

    facts: _Facts | None = None
    topic: str = ""


# Lessons and benchmarks repeat prompts heavily, and reading a prompt (splitting
# sentences, finding injections, ranking) costs more than sampling a reply from
# it, so the prompt-only part of `respond` is cached. Bounded: cleared when full. The bound holds the
# parallelism lesson's thousand documents through every pass and seed its cells make over them.
_DECISIONS: dict[tuple[Any, ...], Reply | _Sampled] = {}
_DECISIONS_MAX = 16384


def _decide(prompt: Prompt) -> Reply | _Sampled:
    """Everything about the reply that depends on the prompt alone (cached)."""
    schema = json.dumps(prompt.schema, sort_keys=True) if prompt.schema is not None else None
    key = (prompt.system, prompt.user, prompt.documents, schema, prompt.temperature > 0, prompt.provider, prompt.model)
    decision = _DECISIONS.get(key)
    if decision is None:
        if len(_DECISIONS) >= _DECISIONS_MAX:
            _DECISIONS.clear()
        decision = _DECISIONS[key] = _decide_uncached(prompt)
    return decision


def _decide_uncached(prompt: Prompt) -> Reply | _Sampled:
    view = _View.of(prompt)
    if view.injection is not None and not view.guarded:
        return _plain(_obey(view.injection, prompt), "injected")
    if prompt.schema is not None:
        facts = _Facts.of(view)
        if prompt.temperature > 0:
            return _Sampled(facts=facts)
        return _plain(_dump(_fake_json(prompt.schema, facts, None)), "json")
    for skill in (_answer, _summary, _classify):
        if (reply := skill(view)) is not None:
            return reply
    topic = _topic(view.request)
    if prompt.temperature > 0:
        return _Sampled(topic=topic)
    return _plain(_default_text(topic, random.Random(_stable_seed(prompt))), "default")


def corrupt_json(text: str, rng: random.Random, *, schema: dict | None) -> str:
    """Break a valid JSON reply the way real models do, for the "flaky output" fault.

    The result differs from ``text`` and either fails ``json.loads`` or - for
    the two schema-aware corruptions, only offered when ``schema`` makes them
    possible - parses but violates ``schema``.
    """
    value = _loads(text)
    fields = value if isinstance(value, dict) else {}
    root = _resolve(schema, schema) if schema else {}
    properties = root.get("properties", {})
    removable = [key for key in root.get("required", ()) if key in fields]
    retypable = [
        key for key in fields
        if key in properties and _mistyped(fields[key], properties[key], schema or {}) is not None
    ]
    kinds = ["fence", "trailing_comma"]
    if value is not _INVALID and '"' in text:
        kinds.append("single_quotes")
    if value is not _INVALID and text.strip().startswith(("{", "[")):
        kinds.append("truncated")
    if removable:
        kinds.append("missing_field")
    if retypable:
        kinds.append("wrong_type")
    kind = rng.choice(kinds)
    stripped = text.strip()
    if kind == "fence":
        return f"{rng.choice(_FENCE_LEADS)}\n\n```json\n{stripped}\n```"
    if kind == "trailing_comma":
        if stripped.endswith(("}", "]")):
            return f"{stripped[:-1].rstrip()},{stripped[-1]}"
        return stripped + ","
    if kind == "single_quotes":
        return text.replace('"', "'")
    if kind == "truncated":
        return stripped[: rng.randint(max(1, len(stripped) // 3), max(1, 2 * len(stripped) // 3))]
    if kind == "missing_field":
        dropped = rng.choice(removable)
        return _dump({key: item for key, item in fields.items() if key != dropped})
    retyped = rng.choice(retypable)
    return _dump({**fields, retyped: _mistyped(fields[retyped], properties[retyped], schema or {})})


# --------------------------------------------------------------------------
# Text basics: words, terms for matching, sentences with character offsets.

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
# CJK runs are kept apart from other words so they can be matched as bigrams:
# Japanese and Chinese do not put spaces between words.
_TERM_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN_RE = re.compile(rf"[{_CJK}]+")
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing don down during each
    few for from further had has have having he her here hers him his how i if in into is it
    its itself just me more most my no nor not of off on once only or other our ours out over
    own please same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while
    who whom whose why will with would you your yours tell according document documents text
    say says said give me""".split()
)
_NEGATORS = frozenset("not no never none nothing nobody neither nor without hardly t cannot".split())


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


def _plain(text: str, skill: str) -> Reply:
    """A reply of one uncited block."""
    return Reply((Block(text),), skill)


# --------------------------------------------------------------------------
# Injected instructions.

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


# --------------------------------------------------------------------------
# Taking a prompt apart: documents, the request around them, material.

_DOC_TAG_RE = re.compile(r"<document\b([^>]*)>(.*?)</document>", re.IGNORECASE | re.DOTALL)
_DOC_CONTENT_RE = re.compile(r"<document_content>(.*?)</document_content>", re.IGNORECASE | re.DOTALL)
_DOC_SOURCE_RE = re.compile(r"<(source|title)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_DOC_ATTR_RE = re.compile(r"""\b(?:title|name|source)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
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

    @functools.cached_property
    def injections(self) -> tuple[_Injection, ...]:
        return _find_injections(self.text)

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
        sources.append(_Source(text.strip(), title.strip() if title else None))
        spans.append(section.span())
    if sources:
        return sources, spans
    for header in _DOC_HEADER_RE.finditer(user):
        following = _SECTION_RE.search(user, header.end())
        end = following.start() if following else len(user)
        end = _without_trailing_question(user, header.end(), end)
        sources.append(_Source(user[header.end() : end].strip(), header.group(1)))
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
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
        " fifteen sixteen seventeen eighteen nineteen twenty".split()
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
    injection: _Injection | None  # the first injected instruction, if any
    guarded: bool  # the prompt says document content is data, not instructions

    @classmethod
    def of(cls, prompt: Prompt) -> _View:
        blocks = [
            _Source(document.text, document.title, index, document.citations)
            for index, document in enumerate(prompt.documents)
        ]
        embedded, document_spans = _embedded_documents(prompt.user)
        user_injections = _find_injections(prompt.user)
        request = _remove_spans(
            prompt.user, [*document_spans, *((inj.start, inj.end) for inj in user_injections)]
        )
        injections = [*(inj for block in blocks for inj in block.injections), *user_injections]
        return cls(
            prompt=prompt,
            documents=(*blocks, *embedded),
            request=request,
            injection=injections[0] if injections else None,
            guarded=bool(_GUARD_RE.search(f"{prompt.system}\n{request}")),
        )

    @functools.cached_property
    def body(self) -> str:
        """The part of the request that is material rather than instruction."""
        return _body(self.request)

    @property
    def material(self) -> tuple[_Source, ...]:
        """Texts the request is about: the documents and whatever follows the instruction."""
        return (*self.documents, _Source(self.body)) if self.body else self.documents


# --------------------------------------------------------------------------
# Rule 3: JSON that fits a schema.

_MAX_DEPTH = 8
_PLACE_FIELD_RE = re.compile(r"city|country|location|place|town|region|address|destination|origin")
_NAME_FIELD_RE = re.compile(
    r"name|author|person|customer|company|organi[sz]ation|brand|sender|recipient|speaker"
)
_SENTENCE_FIELD_RE = re.compile(
    r"summary|description|reason|answer|explanation|rationale|justification|text|content|message"
    r"|response|comment|detail|note|quote|evidence|feedback|body|advice|recommendation|analysis"
    r"|conclusion|sentence"
)
_TITLE_FIELD_RE = re.compile(r"title|subject|topic|heading|headline|product|item|theme|phrase")
_FORMAT_EXAMPLES = {
    "date": "2024-05-01",
    "date-time": "2024-05-01T09:30:00Z",
    "time": "09:30:00",
    "duration": "PT1H",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]\d)")
_PROPER_RUN_RE = re.compile(r"[A-ZÀ-Ý][\w'’-]*(?:[ \t]+[A-ZÀ-Ý][\w'’-]*)*")
_PLACE_RE = re.compile(r"\b(?:in|from|at|near|to)[ \t]+(?P<place>[A-ZÀ-Ý][\w'’-]*(?:[ \t]+[A-ZÀ-Ý][\w'’-]*)*)")
_GREETINGS = frozenset("hi hello dear thanks thank regards best cheers yes ok".split())


@dataclass(frozen=True)
class _Facts:
    """What the JSON filler draws values from, gathered once per prompt."""

    sentences: tuple[str, ...]  # key sentence first
    names: tuple[str, ...]
    places: tuple[str, ...]
    keywords: tuple[str, ...]
    numbers: tuple[float, ...]
    request_terms: frozenset[str]
    word_count: int
    negated: bool
    email: str

    @classmethod
    def of(cls, view: _View) -> _Facts:
        sources = view.material or (_Source(view.request),)
        texts = [" ".join(source.sentences) for source in sources]
        everything = "\n".join([view.request, *texts])
        key = _key_sentence(view) or (_sentences(view.request) or ["No details were provided."])[0]
        sentences = [key, *(s for source in sources for s in source.sentences if s != key)]
        email = _EMAIL_RE.search(everything)
        return cls(
            sentences=tuple(dict.fromkeys(sentences)),
            names=_proper_names(everything),
            places=tuple(dict.fromkeys(match.group("place") for match in _PLACE_RE.finditer(everything))),
            keywords=_keywords([*texts, view.request]),
            numbers=tuple(float(number) for number in _NUMBER_RE.findall(everything)),
            request_terms=frozenset(_terms(view.request)),
            word_count=len(view.request.split()),
            negated=any(word in _NEGATORS for word in _words(everything)),
            email=email.group() if email else "jane.doe@example.com",
        )

    def sentence(self, index: int) -> str:
        """The key sentence for index 0, then the material's other sentences in turn."""
        return self.sentences[index % len(self.sentences)]

    def keyword(self, index: int) -> str:
        """A distinct keyword per index, numbered once the pool runs out."""
        pool = self.keywords or ("item",)
        cycle, position = divmod(index, len(pool))
        return pool[position] if cycle == 0 else f"{pool[position]} {cycle + 1}"

    def title(self, index: int) -> str:
        """A short phrase: the key sentence's first keywords, then single keywords."""
        if index == 0:
            phrase = " ".join(_keywords([self.sentences[0]])[:4])
            if phrase:
                return phrase[:1].upper() + phrase[1:]
        return self.keyword(index)

    def name(self, index: int) -> str:
        """A proper name from the text, falling back to a title-like phrase."""
        return self.names[index] if index < len(self.names) else self.title(index)

    def place(self, index: int) -> str:
        """A capitalised name after in/from/at/near/to, falling back to any name."""
        return self.places[index] if index < len(self.places) else self.name(index)


def _keywords(texts: Iterable[str]) -> tuple[str, ...]:
    """Distinct content words in order of first appearance, instruction verbs left out."""
    seen: dict[str, str] = {}
    for text in texts:
        for match in _TERM_RE.finditer(text):
            word = match.group()
            lowered = word.lower()
            if (
                len(word) > 2
                and not word.isdigit()
                and lowered not in _STOPWORDS
                and not _IMPERATIVE_RE.fullmatch(lowered)
            ):
                seen.setdefault(lowered, word)
    return tuple(seen.values())


def _proper_names(text: str) -> tuple[str, ...]:
    """Runs of capitalised words, multi-word runs first.

    Leading stopwords, greetings and instruction verbs are dropped ("Hi Alice"
    gives "Alice"), and a lone capitalised word that merely starts a sentence
    is skipped.
    """
    multi: list[str] = []
    single: list[str] = []
    for run in _PROPER_RUN_RE.finditer(text):
        words = run.group().split()
        while words and _is_filler_word(words[0]):
            words.pop(0)
        if len(words) > 1:
            multi.append(" ".join(words))
        elif words:
            start = run.end() - len(words[0])
            before = text[max(0, start - _LOOKBEHIND) : start].rstrip(" \t")
            if before and before[-1] not in ".!?:\n":
                single.append(words[0])
    return tuple(dict.fromkeys([*multi, *single]))


def _is_filler_word(word: str) -> bool:
    lowered = word.lower()
    return lowered in _STOPWORDS or lowered in _GREETINGS or bool(_IMPERATIVE_RE.fullmatch(lowered))


def _resolve(schema: Any, root: Any) -> dict:
    """Follow ``$ref`` pointers (``#/$defs/...``, ``#/definitions/...``) to a concrete schema."""
    seen: set[str] = set()
    while isinstance(schema, dict) and isinstance(ref := schema.get("$ref"), str) and ref not in seen:
        seen.add(ref)
        target = _pointer(root, ref)
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **siblings} if isinstance(target, dict) else siblings
    return schema if isinstance(schema, dict) else {}


def _pointer(root: Any, ref: str) -> Any:
    """The part of ``root`` a local JSON pointer such as ``#/$defs/Address`` names, else None."""
    if not ref.startswith("#"):
        return None
    target = root
    for part in filter(None, ref[1:].split("/")):
        key = part.replace("~1", "/").replace("~0", "~")
        target = target.get(key) if isinstance(target, dict) else None
    return target


def _options(schema: dict) -> list[Any] | None:
    """The alternatives of an ``anyOf``/``oneOf`` schema, or None."""
    options = schema.get("anyOf") or schema.get("oneOf")
    return options if isinstance(options, list) and options else None


def _is_null(schema: Any, root: dict) -> bool:
    """Whether a schema only admits null (the ``None`` half of ``Optional[...]``)."""
    return _resolve(schema, root).get("type") == "null"


def _schema_type(schema: dict) -> str:
    """The JSON type a schema asks for, preferring a non-null one when it lists several."""
    declared = schema.get("type")
    if isinstance(declared, list):
        return next((kind for kind in declared if kind != "null"), "null")
    if isinstance(declared, str):
        return declared
    return "object" if "properties" in schema else "array" if "items" in schema else "string"


def _fake_json(schema: dict, facts: _Facts, rng: random.Random | None) -> Any:
    """A value that validates against ``schema``; ``rng`` (None at temperature 0) breaks enum ties."""
    return _Filler(schema, facts, rng).value(schema, "", 0, 0)


@dataclass(frozen=True)
class _Filler:
    """Walks a schema and fills it with values drawn from the prompt's facts."""

    root: dict
    facts: _Facts
    rng: random.Random | None

    def value(self, schema: Any, name: str, index: int, depth: int) -> Any:
        schema = _resolve(schema, self.root)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.enum(schema["enum"])
        if (options := _options(schema)) is not None:
            chosen = [option for option in options if not _is_null(option, self.root)]
            if not chosen or (depth > _MAX_DEPTH and len(chosen) < len(options)):
                return None
            return self.value(chosen[0], name, index, depth)
        kind = _schema_type(schema)
        if kind == "object":
            return self.object(schema, index, depth)
        if kind == "array":
            return self.array(schema, name, depth)
        if kind in ("integer", "number"):
            return self.number(schema, integral=kind == "integer")
        if kind == "boolean":
            return not self.facts.negated
        if kind == "null":
            return None
        return self.string(schema, name, index)

    def object(self, schema: dict, index: int, depth: int) -> dict[str, Any]:
        """All declared properties (required only, past the depth limit, to stop recursion).

        ``index`` is the object's position in an enclosing array, passed on so
        that sibling objects get different values.
        """
        properties = schema.get("properties", {})
        required = schema.get("required", ())
        return {
            key: self.value(sub, key, index, depth + 1)
            for key, sub in properties.items()
            if depth <= _MAX_DEPTH or key in required
        }

    def array(self, schema: dict, name: str, depth: int) -> list[Any]:
        """Between one and three items by default, as many as the material has sentences."""
        items = schema.get("items", {})
        wanted = 0 if depth > _MAX_DEPTH else min(3, max(1, len(self.facts.sentences)))
        count = max(wanted, schema.get("minItems", 0))
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        return [self.value(items, name, index, depth + 1) for index in range(count)]

    def enum(self, values: list[Any]) -> Any:
        """The value whose words all appear in the request, else sampled (or the first at T=0)."""
        for value in values:
            terms = set(_terms(str(value)))
            if terms and terms <= self.facts.request_terms:
                return value
        return self.rng.choice(values) if self.rng else values[0]

    def number(self, schema: dict, *, integral: bool) -> int | float:
        """A number from the text if one fits the bounds, else the request's word count, bounded."""
        low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
        open_low, open_high = _bound(schema, "exclusiveMinimum"), _bound(schema, "exclusiveMaximum")

        def fits(number: float) -> bool:
            return (
                (low is None or number >= low)
                and (high is None or number <= high)
                and (open_low is None or number > open_low)
                and (open_high is None or number < open_high)
                and (not integral or number.is_integer())
            )

        for number in (*self.facts.numbers, float(self.facts.word_count)):
            if fits(number):
                return int(number) if integral else number
        if integral:
            lows = [math.ceil(low)] if low is not None else []
            lows += [math.floor(open_low) + 1] if open_low is not None else []
            highs = [math.floor(high)] if high is not None else []
            highs += [math.ceil(open_high) - 1] if open_high is not None else []
            return min([max([self.facts.word_count, *lows]), *highs])
        floor = max((b for b in (low, open_low) if b is not None), default=None)
        ceiling = min((b for b in (high, open_high) if b is not None), default=None)
        if floor is not None and ceiling is not None:
            return (floor + ceiling) / 2
        return floor + 1 if floor is not None else (ceiling or 0.0) - 1

    def string(self, schema: dict, name: str, index: int) -> str:
        key = name.lower()
        if schema.get("format") == "email" or key == "email" or key.endswith("_email"):
            text = self.facts.email
        elif schema.get("format") in _FORMAT_EXAMPLES:
            text = _FORMAT_EXAMPLES[schema["format"]]
        elif _SENTENCE_FIELD_RE.search(key):
            text = self.facts.sentence(index)
        elif _PLACE_FIELD_RE.search(key):
            text = self.facts.place(index)
        elif _NAME_FIELD_RE.search(key):
            text = self.facts.name(index)
        elif _TITLE_FIELD_RE.search(key):
            text = self.facts.title(index)
        else:
            text = self.facts.keyword(index)
        minimum = schema.get("minLength", 0)
        while len(text) < minimum:
            text = f"{text} {self.facts.sentence(0)}"
        return text[: schema["maxLength"]] if isinstance(schema.get("maxLength"), int) else text


def _bound(schema: dict, key: str) -> float | None:
    """A numeric bound; draft-4 style boolean ``exclusiveMinimum`` is ignored."""
    value = schema.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dump(value: Any) -> str:
    """JSON as the simulated model writes it: one line, non-ASCII kept readable."""
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------
# Corrupting JSON (the "flaky output" fault).

_INVALID = object()
_FENCE_LEADS = (
    "Here is the JSON you asked for:",
    "Sure! Here's the result:",
    "Certainly. The extracted data is below.",
)


def _loads(text: str) -> Any:
    """Parsed JSON, or ``_INVALID``."""
    try:
        return json.loads(text)
    except ValueError:
        return _INVALID


def _allowed_types(schema: Any, root: dict) -> set[str] | None:
    """The JSON types a schema accepts ("null" included); None when it accepts anything."""
    schema = _resolve(schema, root)
    if (options := _options(schema)) is not None:
        types = [_allowed_types(option, root) for option in options]
        return None if None in types else set().union(*types)
    if "type" in schema:
        declared = schema["type"]
        return set(declared) if isinstance(declared, list) else {declared}
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        return {_json_type(value) for value in values}
    if "properties" in schema or "items" in schema:
        return {_schema_type(schema)}
    return None


def _json_type(value: Any) -> str:
    """The JSON type name of a Python value (integers count as "number")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "string")


_MISTYPES: dict[str, Callable[[Any], Any]] = {
    # Realistic slips that neither JSON Schema nor pydantic's lax mode accepts:
    # "3" would pass as an integer and "yes" as a boolean, so avoid those.
    "integer": lambda value: f"about {value}",
    "number": lambda value: f"about {value}",
    "string": lambda value: len(str(value)),
    "boolean": lambda value: "unclear",
    "array": lambda value: ", ".join(map(str, value)) if isinstance(value, list) else str(value),
    "object": lambda value: _dump(value),
}


def _mistyped(value: Any, schema: Any, root: dict) -> Any | None:
    """``value`` recast as a type ``schema`` rejects, or None if no single type is expected."""
    kinds = sorted((_allowed_types(schema, root) or set()) - {"null"})
    if len(kinds) != 1 or kinds[0] not in _MISTYPES:
        return None
    return _MISTYPES[kinds[0]](value)


# --------------------------------------------------------------------------
# Rule 4: answer a question from documents.

_QUESTION_RE = re.compile(
    r"[?？]|\b(?:what|why|how|which|when|who|whom|whose|where|according to)\b"
    r"|(?:^|[.!:\n]\s*)(?:does|do|did|is|are|was|were|can|could|should|will|would|has|have)\b",
    re.IGNORECASE,
)
_NO_ANSWER = "The documents do not say."


@dataclass(frozen=True)
class _Match:
    """A candidate answer sentence and how well it matches the question."""

    score: int
    order: int
    source: _Source
    start: int
    end: int


def _ranked_sentences(view: _View) -> list[_Match]:
    """Document sentences ranked by shared terms with the request, earlier first on ties."""
    question = set(_terms(view.request))
    matches = [
        _Match(len(question & set(_terms(source.text[start:end]))), order, source, start, end)
        for order, (source, (start, end)) in enumerate(
            (source, span) for source in view.documents for span in source.spans
        )
    ]
    return sorted(matches, key=lambda match: (-match.score, match.order))


def _key_sentence(view: _View) -> str | None:
    """The sentence that best answers the request, else the opening of the longest material."""
    ranked = _ranked_sentences(view)
    if ranked and ranked[0].score > 0:
        return ranked[0].source.text[ranked[0].start : ranked[0].end]
    longest = max(view.material, key=lambda source: len(source.text), default=None)
    return longest.sentences[0] if longest and longest.sentences else None


def _answer(view: _View) -> Reply | None:
    """Quote the one or two sentences that best match the question."""
    if not view.documents or not _QUESTION_RE.search(view.request):
        return None
    if _SUMMARY_RE.search(view.request) or _labels(view)[0]:
        return None  # a question-shaped summary or classification request
    ranked = _ranked_sentences(view)
    if not ranked or ranked[0].score == 0:
        return _plain(_NO_ANSWER, "answer")
    best = ranked[0]
    runner_up = next((match for match in ranked[1:] if match.source is best.source), None)
    chosen = [best]
    if runner_up is not None and runner_up.score >= 2 and 2 * runner_up.score >= best.score:
        chosen = sorted([best, runner_up], key=lambda match: match.start)
    source = best.source
    lead = f'According to "{source.title}", ' if source.title else "According to the document, "
    quotes = [source.text[match.start : match.end] for match in chosen]
    if not (source.citations and source.index is not None):
        return _plain(f'{lead}"{" ".join(quotes)}"', "answer")
    blocks = [Block(lead)]
    for position, match in enumerate(chosen):
        if position:
            blocks.append(Block(" "))
        cited = source.text[match.start : match.end]
        blocks.append(Block(cited, (Citation(source.index, match.start, match.end, cited, source.title),)))
    return Reply(tuple(blocks), "answer")


# --------------------------------------------------------------------------
# Rule 5: summarise.

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


# --------------------------------------------------------------------------
# Rule 6: classify.

_LABEL_LIST_RE = re.compile(
    r"(?:\b(?:labels?|categories|classes|options|choices)\s*:|\bone of\b\s*:?)[ \t]*"
    r"(?P<list>[^\n]+?)(?=[.?!;:](?:\s|$)|\n|$)"
    r"|\b(?:classif|categori[sz]|label)\w*\b[^\n:]*?\bas (?:either\s+)?"
    r"(?P<as>[^\n:.?]+?\bor\b[^\n:.?]+?)(?=[.?!:](?:\s|$)|\n|$)",
    re.IGNORECASE,
)
_LABEL_SPLIT_RE = re.compile(r"\s*(?:,|;|/|\||\bor\b|\band\b)\s*", re.IGNORECASE)
_POSITIVE = frozenset(
    "good great excellent love loved lovely amazing happy fantastic wonderful perfect best recommend"
    " awesome pleased satisfied delighted nice helpful easy beautiful brilliant enjoy enjoyed fast"
    " superb thank thanks work works working".split()
)
_NEGATIVE = frozenset(
    "bad terrible awful hate hated horrible poor worst broken disappointed disappointing angry slow"
    " useless problem issue fail failed failure waste rude annoying unhappy wrong refund cancel"
    " late crash crashed broke".split()
)
_NEUTRAL_LABELS = frozenset("neutral mixed other none unknown general misc ok".split())
_POLARITY_LABELS = {
    **dict.fromkeys("positive pos good happy praise satisfied".split(), 1),
    **dict.fromkeys("negative neg bad unhappy complaint angry dissatisfied".split(), -1),
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


# --------------------------------------------------------------------------
# Rule 7: the default reply.

_OPENERS = (
    "Here is a practical take on {topic}.",
    "Short answer on {topic}: it depends on your constraints, but a few points hold in most setups.",
    "Let's look at {topic}.",
    "You asked about {topic}, so here is what I would do.",
    "On {topic}, the main thing is to be clear about what must never go wrong.",
    "A few thoughts on {topic}.",
)
_POINTS = (
    "Start with the simplest version that works end to end, then measure before you optimise.",
    "Decide up front what should happen on timeouts, bad input and partial results.",
    "Keep the interface small so each piece can be tested on its own.",
    "Validate anything that crosses a boundary instead of trusting it, including another model's output.",
    "Retry transient failures with exponential backoff and jitter, and fail fast on everything else.",
    "Log enough context to reproduce a problem, but keep secrets and personal data out of the logs.",
    "Put a timeout on every network call; a hung request is worse than a failed one.",
    "Write a test for the failure you are most worried about before polishing the happy path.",
    "Make the operation idempotent if it can be retried, so a duplicate request does no harm.",
    "Prefer boring, well-understood tools unless the new one removes a real constraint.",
    "Track cost and latency from day one; they are much harder to claw back later.",
    "Write down the assumptions you are making so a reviewer can challenge them.",
)
_CLOSERS = (
    "If you share more about your setup, I can be more specific.",
    "Happy to go deeper on any of these points.",
    "Let me know which constraint matters most and I can narrow this down.",
    "That should be enough to get a first version working and observable.",
)
_HOW_RE = re.compile(r"^how (?:do|can|should|would|could) (?:i|we|you) ", re.IGNORECASE)
_TOPIC_LEAD_RE = re.compile(
    r"^(?:what(?:'s| is| are) |(?:write|explain|describe|give me|give|list|create|make|build|generate"
    r"|show me|show|suggest|compare|draft|design|implement|fix|review|outline|recommend"
    r"|tell me about|tell me)\s+)",
    re.IGNORECASE,
)
_PRONOUNS = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "i'm": "you're", "i've": "you've", "i'd": "you'd", "i'll": "you'll",
}
_PRONOUN_RE = re.compile(r"\b(?:i'm|i've|i'd|i'll|i|me|my|mine|myself)\b", re.IGNORECASE)
_TOPIC_WORDS = 12
_TOPIC_CHARS = 80


def _topic(request: str) -> str:
    """The request restated as a short phrase ("how to add retries to your client").

    Falls back to quoting the request's first sentence when it has no
    recognisable how-to, what-is or imperative shape.
    """
    sentences = _sentences(request)
    sentence = _LEAD_IN_RE.sub("", sentences[0] if sentences else request.strip())
    sentence = sentence.strip().rstrip(".?!。？！ ")
    if how := _HOW_RE.match(sentence):
        phrase = "how to " + sentence[how.end() :]
    elif lead := _TOPIC_LEAD_RE.match(sentence):
        phrase = sentence[lead.end() :]
    else:
        return f'"{_clip_topic(sentence)}"' if sentence else "your request"
    phrase = _PRONOUN_RE.sub(lambda word: _PRONOUNS[word.group().lower()], phrase)
    return _clip_topic(phrase) or "your request"


def _clip_topic(phrase: str) -> str:
    """Keep a restated topic short enough to sit inside an opener sentence."""
    phrase = _clip_words(phrase, _TOPIC_WORDS)
    return phrase if len(phrase) <= _TOPIC_CHARS else phrase[:_TOPIC_CHARS].rstrip() + "…"


def _default_text(topic: str, chooser: random.Random) -> str:
    """Two to six sentences: an opener restating the topic, a few points, maybe a closer."""
    length = chooser.randint(2, 6)
    opener = chooser.choice(_OPENERS).format(topic=topic)
    points = chooser.sample(_POINTS, length - 1 if length < 4 else length - 2)
    closer = [chooser.choice(_CLOSERS)] if length >= 4 else []
    return " ".join([opener, *points, *closer])


def _stable_seed(prompt: Prompt) -> int:
    """A process-independent seed derived from every field of the prompt.

    Temperature is normalised so that equal prompts (``0 == 0.0``) seed alike.
    """
    fields = {**dataclasses.asdict(prompt), "temperature": float(prompt.temperature)}
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=repr)
    return int.from_bytes(hashlib.sha256(payload.encode("utf-8")).digest()[:8], "big")
