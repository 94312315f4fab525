"""Rule 3 of the simulated model: JSON that fits a requested JSON Schema, filled from the prompt."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..prompt_view import _IMPERATIVE_RE, _Source, _View
from ..text_tools import (
    _LOOKBEHIND,
    _NEGATORS,
    _STOPWORDS,
    _TERM_RE,
    _sentences,
    _terms,
    _words,
)
from .answer import _key_sentence

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
_DATE_RE = re.compile(r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])")  # an ISO date, as invoices and logs write them
# An identifier: letters and digits together, maybe joined by - or _ ("INV-2041", "A17", "ord_77")
_ID_RE = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*(?![\w-])")
_TOTAL_FIELD_RE = re.compile(r"^(?:total|sum|amount)$|_(?:total|sum|amount)$|^(?:total|sum|amount)_", re.IGNORECASE)
_ITEM_NUMBER_RE = re.compile(r"amount|price|total|subtotal|cost|value", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]\d)")
_PROPER_RUN_RE = re.compile(r"[A-ZÀ-Ý][\w'’-]*(?:[ \t]+[A-ZÀ-Ý][\w'’-]*)*")
_PLACE_RE = re.compile(r"\b(?:in|from|at|near|to)[ \t]+(?P<place>[A-ZÀ-Ý][\w'’-]*(?:[ \t]+[A-ZÀ-Ý][\w'’-]*)*)")
_GREETINGS = frozenset(["hi", "hello", "dear", "thanks", "thank", "regards", "best", "cheers", "yes", "ok"])


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
    dates: tuple[str, ...] = ()  # ISO dates in the text, in order
    ids: tuple[str, ...] = ()  # identifiers in the text ("INV-2041"), in order

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
            # numbers outside dates and identifiers: "INV-2041 of 2026-03-14" holds no amount
            numbers=tuple(float(n) for n in _NUMBER_RE.findall(_ID_RE.sub(" ", _DATE_RE.sub(" ", everything)))),
            request_terms=frozenset(_terms(view.request)),
            word_count=len(view.request.split()),
            negated=any(word in _NEGATORS for word in _words(everything)),
            email=email.group() if email else "jane.doe@example.com",
            dates=tuple(dict.fromkeys(_DATE_RE.findall(everything))),
            ids=tuple(dict.fromkeys(_ID_RE.findall(everything))),
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
            return self.number(schema, index, integral=kind == "integer")
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
        filled = {
            key: self.value(sub, key, index, depth + 1)
            for key, sub in properties.items()
            if depth <= _MAX_DEPTH or key in required
        }
        for key, value in filled.items():  # a total beside line items is their sum, as a careful model writes it
            total = line_items_total(filled, key)
            if total is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if isinstance(value, float):
                filled[key] = total
            elif total.is_integer():  # an integer field keeps a sum it cannot hold as it was: the schema comes first
                filled[key] = int(total)
        return filled

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

    def number(self, schema: dict, index: int, *, integral: bool) -> int | float:
        """A number from the text if one fits the bounds, else the request's word count, bounded.

        The `index`-th object of an array starts from the text's `index`-th number, so line items get
        the amounts the text lists in turn.
        """
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

        numbers = self.facts.numbers
        for number in (*numbers[index:], *numbers[:index], float(self.facts.word_count)):
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
        elif is_date_field(name, schema) and schema.get("format") != "date-time" and self.facts.dates:
            text = self.facts.dates[index % len(self.facts.dates)]
        elif is_id_field(name) and self.facts.ids:
            text = self.facts.ids[index % len(self.facts.ids)]
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


def is_date_field(name: str, schema: dict) -> bool:
    """A field whose name or format says it holds a date."""
    return schema.get("format") in ("date", "date-time") or "date" in name.lower()


def is_id_field(name: str) -> bool:
    """A field named as an identifier: `id`, `*_id`, `*Id`."""
    return name.lower() == "id" or name.lower().endswith("_id") or name.endswith("Id")


def line_items_total(value: dict[str, Any], key: str) -> float | None:
    """What `value[key]` adds up to when it is a total (named total/sum/amount) beside line items, else None.

    Line items are a sibling array of objects; each contributes its number named like an amount
    (amount, price, total, subtotal, cost, value), or its only number.
    """
    if not _TOTAL_FIELD_RE.search(key):
        return None
    amounts: list[float] = []
    for sibling in value.values():
        for item in sibling if isinstance(sibling, list) else ():
            if not isinstance(item, dict):
                continue
            numbers = {k: v for k, v in item.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            named = [v for k, v in numbers.items() if _ITEM_NUMBER_RE.search(k)]
            picked = named[:1] or (list(numbers.values()) if len(numbers) == 1 else [])
            amounts.extend(float(v) for v in picked)
    return round(sum(amounts), 2) if amounts else None


def _bound(schema: dict, key: str) -> float | None:
    """A numeric bound; draft-4 style boolean ``exclusiveMinimum`` is ignored."""
    value = schema.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dump(value: Any) -> str:
    """JSON as the simulated model writes it: one line, non-ASCII kept readable."""
    return json.dumps(value, ensure_ascii=False)
