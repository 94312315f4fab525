"""The hand-made adversarial answers of the citations check, built from held-out documents (write_cases.py writes
them into cases.json with the world's answers; the check never imports this).

Each case is one thing a verifier can get wrong, named for what it tries and carrying the name of the hint in
hints.py that a failure on it needs, and each asserts what makes it a fair test: a faithful disguise (look-alike
letters, invisible characters, a spaced-out quote, a source sent as a PDF's text) really falls below the fuzzy
threshold until it is normalised, a changed number really scores above it, a quote spanning two documents really is
in the sources joined together.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

from rapidfuzz import fuzz

from ...model.corpus import Paper, load_corpus, load_questions
from . import hints

THRESHOLD = 95  # the lesson's fuzzy threshold: a disguise must fall below it, a changed number score above it
QUALIFIER_RE = re.compile(r"\b(not|no|never|nor|neither|none|without|only|cannot|fail|fails|failed|unlike|instead|"
                          r"rather|except|barely|hardly|merely|but|yet|although|though)\b", re.IGNORECASE)
Case = dict[str, object]


def _sentences(paper: Paper) -> list[str]:
    return re.split(r"(?<=\.) ", paper.abstract)


def _papers() -> list[Paper]:
    """The held-out questions' gold documents, in question order, each once: the hand-made cases' material."""
    corpus, seen, papers = load_corpus(), set(), []
    for question in load_questions("heldout"):
        for span in question.spans:
            if span.doc not in seen:
                seen.add(span.doc)
                papers.append(corpus.paper(span.doc))
    return papers


def _sentence(where: Callable[[str], bool]) -> tuple[Paper, str]:
    """The first sentence of a held-out document that `where` accepts, and its paper."""
    for paper in _papers():
        for sentence in _sentences(paper):
            if where(sentence):
                return paper, sentence
    raise LookupError("no held-out sentence fits the case")


def _sources(paper: Paper) -> list[str]:
    """The cited paper and two other held-out documents, as a retriever would return them."""
    others = [p.id for p in _papers() if p.id != paper.id and p.topics[0] != paper.topics[0]]
    return [paper.id, *others[:2]]


def case(origin: str, answer: str, sources: list[str], quotes: int, *faults: str, hint: str | None = None,
          texts: dict[str, str] | None = None) -> Case:
    """One labelled answer; `hint` names the constant of hints.py that a verifier failing on it needs, `texts` the
    sources sent as other text than their abstract."""
    assert hint is None or hasattr(hints, hint), hint
    labelled: Case = {"origin": origin, "answer": answer, "sources": sources, "quotes": quotes,
                      "faults": list(faults), "hint": hint}
    return labelled if texts is None else {**labelled, "texts": texts}


def _score(quote: str, paper: Paper) -> float:
    return fuzz.partial_ratio(quote, paper.abstract)


def _plain(sentence: str) -> bool:
    """A sentence with no qualifier in it: nothing a cut of it could drop."""
    return QUALIFIER_RE.search(sentence) is None


def _disguised(origin: str, hint: str, where: Callable[[str], bool], disguise: Callable[[str], str],
               frame: str = "The paper says \"{quote}\" [{doc}].", *, parsed: bool = True) -> Case:
    """A faithful whole-sentence quote in a disguise that falls below the threshold until it is normalised, or
    (`parsed=False`) that hides the quote from a parser that reads the answer as it stands."""
    paper, sentence = _sentence(lambda s: where(s) and _plain(s))
    quote = disguise(sentence)
    answer = frame.format(quote=quote, doc=paper.id)
    assert quote != sentence, origin
    assert _score(quote, paper) < THRESHOLD if parsed else not re.search(r'"[^"]*" \[', answer), origin
    return case(origin, answer, _sources(paper), 1, hint=hint)


def _spaced(sentence: str) -> str:
    gaps = ("\n", "  ", "\t", " \n   ", "   ")
    words = sentence.split()
    return words[0] + "".join(gaps[i % len(gaps)] + word for i, word in enumerate(words[1:]))


def _invisible(sentence: str) -> str:
    def hide(match: re.Match[str]) -> str:
        word = match.group()
        return f"{word[:3]}\u200b{word[3:6]}\u00ad{word[6:]}"
    return re.sub(r"\w{7,}", hide, sentence)


def _compatible(sentence: str) -> str:
    fullwidth = str.maketrans({**{str(d): chr(0xFF10 + d) for d in range(10)}, "%": "\uff05"})
    words = sentence.translate(fullwidth).replace("fi", "\ufb01").replace("fl", "\ufb02").split(" ")
    return "".join(word + ("\u00a0" if i % 2 else " ") for i, word in enumerate(words)).rstrip()


def _lookalike(sentence: str) -> str:
    return sentence.translate(str.maketrans("aeocpxy", "\u0430\u0435\u043e\u0441\u0440\u0445\u0443"))


def _faithful_disguises() -> Iterator[Case]:
    yield _disguised("curly quote marks and a curly apostrophe", "CURLY", lambda s: "'s " in s,
                     lambda s: s.replace("'", "\u2019"), "The paper says \u201c{quote}\u201d [{doc}].", parsed=False)
    yield _disguised("line breaks, tabs and runs of spaces", "WHITESPACE", lambda s: len(s.split()) >= 12, _spaced,
                     "The paper says \"{quote}\"\n   [{doc}].", parsed=False)
    yield _disguised("zero-width spaces and soft hyphens", "INVISIBLE", lambda s: len(re.findall(r"\w{7,}", s)) >= 4,
                     _invisible)
    yield _disguised("fullwidth digits, ligatures and no-break spaces", "COMPAT",
                     lambda s: bool(re.search(r"\d", s)) and "fi" in s, _compatible)
    yield _disguised("Cyrillic look-alike letters", "LOOKALIKE", lambda s: len(s) >= 60, _lookalike)


def _ellipsis() -> Case:
    """Words left out of a long sentence with "...", none of them a qualifier: faithful."""
    paper, sentence = _sentence(lambda s: len(s.split()) >= 14 and _plain(s))
    words = sentence.split()
    quote = " ".join(words[:4]) + " ... " + " ".join(words[-4:])
    assert _score(quote, paper) < THRESHOLD
    return case("an ellipsis for words left out", f"It \"{quote}\" [{paper.id}].", _sources(paper), 1,
                 hint="ELLIPSIS")


def _slip() -> Case:
    """A hyphen copied as a space: not exact, but a fuzzy match well above the threshold. Faithful."""
    paper, sentence = _sentence(lambda s: bool(re.search(r"[a-z]-[a-z]", s)) and len(s) >= 80 and _plain(s))
    quote = re.sub(r"([a-z])-([a-z])", r"\1 \2", sentence, count=1)
    assert quote not in paper.abstract and _score(quote, paper) >= THRESHOLD
    return case("a copying slip (a hyphen as a space)", f"They write \"{quote}\" [{paper.id}].", _sources(paper), 1,
                 hint="FUZZY")


def _changed_number() -> Case:
    """One digit of a result changed: a fuzzy score above the threshold, and a false quote."""
    paper, sentence = _sentence(lambda s: bool(re.search(r"\d\.\d%", s)) and len(s) >= 70)
    digit = re.search(r"\d(?=%)", sentence)
    assert digit is not None
    quote = sentence[:digit.start()] + str((int(digit.group()) + 3) % 10) + sentence[digit.end():]
    assert _score(quote, paper) >= THRESHOLD
    return case("a changed number", f"The result: \"{quote}\" [{paper.id}].", _sources(paper), 1,
                 "changed_number@1", hint="NUMBERS")


def _spanning() -> Case:
    """The last sentence of one source and the first of the next, cited to the first: in the sources joined."""
    first, second = _papers()[0], next(p for p in _papers() if p.topics[0] != _papers()[0].topics[0])
    quote = f"{_sentences(first)[-1]} {_sentences(second)[0]}"
    faithful = _sentences(second)[-1]
    assert quote in f"{first.abstract} {second.abstract}" and _score(quote, first) < THRESHOLD
    answer = f"One source says \"{faithful}\" [{second.id}], and another \"{quote}\" [{first.id}]."
    return case("a quote spanning two documents", answer, [first.id, second.id], 2, "spanning_documents@2",
                 hint="CITED_ONLY")


def _unprovided() -> Case:
    """A real sentence of a corpus paper that was not among the sources, cited by its own id."""
    paper, sentence = _sentence(lambda s: bool(re.search(r"\d", s)))
    stranger = next(p for p in load_corpus().papers if p.id not in {x.id for x in _papers()}
                    and p.topics[0] != paper.topics[0])
    quote = next(s for s in _sentences(stranger) if re.search(r"\d", s))
    sources = _sources(paper)
    assert all(quote not in load_corpus().paper(doc).abstract for doc in sources)
    return case("a document that was never provided", f"Reported: \"{quote}\" [{stranger.id}].", sources, 1,
                 "unprovided_document@1", hint="UNPROVIDED")


def _cut_after(word: str) -> Case:
    """The words after a sentence's `word` ("not", "no" ...), quoted as if the sentence said them."""
    pattern = re.compile(rf"\b{word}\b (.+)\.$")

    def fits(sentence: str) -> bool:
        found = pattern.search(sentence)
        return found is not None and len(found.group(1).split()) >= 3 and _plain(found.group(1))

    paper, sentence = _sentence(fits)
    found = pattern.search(sentence)
    assert found is not None
    quote = found.group(1)
    return case(f"a cut that drops '{word}'", f"In short, it does \"{quote}\" [{paper.id}].", _sources(paper), 1,
                 "reversed_quote@1", hint="REVERSED")


def _cut_before_but() -> Case:
    """A claim quoted without the limit its sentence puts on it after "but"."""
    def fits(sentence: str) -> bool:
        before = sentence.partition(" but ")[0].rstrip(",")
        return " but " in sentence and len(before.split()) >= 4 and _plain(before)

    paper, sentence = _sentence(fits)
    quote = sentence.partition(" but ")[0].rstrip(",")
    return case("a cut that drops what follows 'but'", f"As the paper puts it, \"{quote}\" [{paper.id}].",
                 _sources(paper), 1, "reversed_quote@1", hint="REVERSED")


def _ellipsis_over_only() -> Case:
    """A result "only" qualifies, with "only" left out behind an ellipsis."""
    paper, sentence = _sentence(lambda s: re.search(r"\bonly \d", s) is not None)
    before, _, after = sentence.rstrip(".").partition(" only ")
    quote = f"{before} ... {after}"
    faithful = next(s for s in _sentences(paper) if _plain(s) and s != sentence)
    answer = f"The paper finds that \"{faithful}\" [{paper.id}] and that \"{quote}\" [{paper.id}]."
    return case("an ellipsis that drops 'only'", answer, _sources(paper), 2, "reversed_quote@2", hint="REVERSED")


def _empty() -> Case:
    """An empty quote, in a document whose opening sentence has no qualifier (so only emptiness can reject it)."""
    paper = next(p for p in _papers() if _plain(_sentences(p)[0]))
    faithful = _sentences(paper)[-1]
    answer = f"The sources agree \"\" [{paper.id}], and \"{faithful}\" [{paper.id}]."
    return case("an empty quote", answer, _sources(paper), 2, "empty_quote@1", hint="EMPTY")


def _slips() -> Case:
    """Hyphens copied as spaces and a comma dropped: a fuzzy score between the threshold and 99. Faithful."""
    def slipped(sentence: str) -> str:
        return re.sub(r"([a-z])-([a-z])", r"\1 \2", sentence).replace(",", "", 1)

    paper, sentence = _sentence(lambda s: len(re.findall(r"[a-z]-[a-z]", s)) >= 2 and "," in s and _plain(s)
                                and THRESHOLD <= _score(slipped(s), _paper_of(s)) < 99)
    quote = slipped(sentence)
    return case("several copying slips (a score of 95 to 99)", f"They write \"{quote}\" [{paper.id}].",
                 _sources(paper), 1, hint="SLIPS")


def _paper_of(sentence: str) -> Paper:
    return next(p for p in _papers() if sentence in p.abstract)


def _swapped_ellipsis() -> Case:
    """The two ends of a sentence, quoted around an ellipsis in the wrong order: each piece is in the document."""
    paper, sentence = _sentence(lambda s: len(s.split()) >= 14 and _plain(s))
    words = sentence.split()
    quote = " ".join(words[-4:]) + " ... " + " ".join(words[:4])
    return case("an ellipsis joining two pieces in the wrong order", f"It \"{quote}\" [{paper.id}].",
                 _sources(paper), 1, "reordered_quote@1", hint="IN_ORDER")


def _cut_capitalised() -> Case:
    """A sentence that opens with a capitalised qualifier ("Unlike prior work, ..."), quoted after its comma: the
    quote keeps whatever qualifiers its own words hold, and drops the opening one."""
    opening = re.compile(r"^(Unlike|Without|Only|Although|Though|Rather|Instead|Not|No|Yet|But)\b[^,]*, (.+)\.$")

    def fits(sentence: str) -> bool:
        found = opening.search(sentence)
        return found is not None and len(found.group(2).split()) >= 4

    paper, sentence = _sentence(fits)
    found = opening.search(sentence)
    assert found is not None
    return case(f"a cut that drops a capitalised '{found.group(1)}'", f"It says \"{found.group(2)}\" [{paper.id}].",
                 _sources(paper), 1, "reversed_quote@1", hint="CAPITALISED")


def _cut_near_lookalike_words() -> Case:
    """A faithful cut whose left-out words only contain a qualifier ("nodes" holds "no", "distributed" "but")."""
    inner = re.compile(r"\b\w*(?:no|but|yet|only|not)\w*\b", re.IGNORECASE)

    def fits(sentence: str) -> bool:
        words = sentence.split()
        return (len(words) >= 10 and _plain(sentence) and inner.search(" ".join(words[:3])) is not None
                and "," not in " ".join(words[:3]))

    paper, sentence = _sentence(fits)
    quote = " ".join(sentence.split()[3:]).rstrip(".")
    return case("a faithful cut leaving out words that contain a qualifier's letters",
                 f"It finds that \"{quote}\" [{paper.id}].", _sources(paper), 1, hint="WHOLE_WORDS")


def _cut_after_decimal() -> Case:
    """A sentence quoted from after a decimal number, with a qualifier before the number left out ("Compared with
    BM25 without reranking (0.232), X obtains ...")."""
    pattern = re.compile(r"\d\.\d\S*\W*(\w.*)\.$")

    def fits(sentence: str) -> bool:
        found = pattern.search(sentence)
        return (found is not None and QUALIFIER_RE.search(sentence[:found.start()]) is not None
                and len(found.group(1).split()) >= 5 and _plain(found.group(1)))

    paper, sentence = _sentence(fits)
    found = pattern.search(sentence)
    assert found is not None
    return case("a cut after a decimal number, with a qualifier before it", f"Reported: \"{found.group(1)}\" "
                 f"[{paper.id}].", _sources(paper), 1, "reversed_quote@1", hint="SENTENCE_END")


def _repeated() -> Case:
    """The same faithful quote twice in one answer: two quotes, two verdicts."""
    paper, quote = _sentence(_plain)  # nothing to leave out: only the count can go wrong
    answer = f"First, \"{quote}\" [{paper.id}]. As said, \"{quote}\" [{paper.id}]."
    return case("the same quote given twice", answer, _sources(paper), 2, hint="REPEATED")


def _one_source() -> Case:
    """One source sent, and a quote of it cited to an id that was not: the id is wrong, whatever the text."""
    paper = _papers()[2]
    stranger = next(p for p in load_corpus().papers if p.id not in {x.id for x in _papers()})
    answer = f"The source says \"{_sentences(paper)[0]}\" [{stranger.id}]."
    return case("one source sent, another id cited", answer, [paper.id], 1, "unprovided_document@1",
                 hint="ONE_SOURCE")


def _only_an_ellipsis() -> Case:
    paper, faithful = _sentence(_plain)
    answer = f"The sources agree \"...\" [{paper.id}], and \"{faithful}\" [{paper.id}]."
    return case("a quote that is only an ellipsis", answer, _sources(paper), 2, "empty_quote@1", hint="EMPTY")


def _cut_with_slip() -> Case:
    """A claim quoted without what follows its "but", with a copying slip in it: found only by the fuzzy search."""
    def fits(sentence: str) -> bool:
        before = sentence.partition(" but ")[0].rstrip(",")
        return " but " in sentence and re.search(r"[a-z]-[a-z]", before) is not None and _plain(before)

    paper, sentence = _sentence(fits)
    quote = re.sub(r"([a-z])-([a-z])", r"\1 \2", sentence.partition(" but ")[0].rstrip(","), count=1)
    assert quote not in paper.abstract and _score(quote, paper) >= THRESHOLD
    return case("a cut that drops what follows 'but', with a copying slip", f"They say \"{quote}\" [{paper.id}].",
                 _sources(paper), 1, "reversed_quote@1", hint="FUZZY_CUT")


def _swapped_numbers() -> Case:
    """A sentence comparing two results, quoted with the two numbers exchanged: each number is in the sentence."""
    pattern = re.compile(r"\d+\.\d+")

    def fits(sentence: str) -> bool:
        found = pattern.findall(sentence)
        return len(found) == 2 and found[0] != found[1] and len(found[0]) == len(found[1])

    paper, sentence = _sentence(fits)
    first, second = pattern.findall(sentence)
    quote = sentence.replace(first, "\0").replace(second, first).replace("\0", second)
    assert _score(quote, paper) >= THRESHOLD
    return case("two results exchanged", f"The paper reports \"{quote}\" [{paper.id}].", _sources(paper), 1,
                 "changed_number@1", hint="NUMBER_ORDER")


def _source_in_compatibility_forms() -> Case:
    """A plain quote of a source sent as a PDF's text is (ligatures, fullwidth digits, no-break spaces, line breaks,
    soft hyphens): faithful, and below the threshold unless the document is normalised as fully as the answer."""
    paper, sentence = _sentence(lambda s: bool(re.search(r"\d", s)) and "fi" in s and _plain(s))
    sent = _invisible(_compatible(paper.abstract).replace(" ", "\n"))
    assert fuzz.partial_ratio(sentence, sent) < THRESHOLD
    assert fuzz.partial_ratio(sentence, unicodedata.normalize("NFKC", sent)) < THRESHOLD
    return case("a source sent with ligatures, fullwidth digits, no-break spaces, line breaks and soft hyphens",
                 f"The paper says \"{sentence}\" [{paper.id}].", _sources(paper), 1, hint="SOURCE_SIDE",
                 texts={paper.id: sent})


def _without_quotes() -> Iterator[Case]:
    paper = _papers()[0]
    yield case("an answer with no quotes", "The documents do not say.", _sources(paper), 0)
    yield case("an empty answer", "", _sources(paper), 0)


def hand_made() -> list[Case]:
    """The adversarial answers, each named for what it tries on a verifier."""
    return [*_without_quotes(), *_faithful_disguises(), _ellipsis(), _slip(), _changed_number(), _spanning(),
            _unprovided(), _cut_after("not"), _cut_before_but(), _ellipsis_over_only(), _empty(), _slips(),
            _swapped_ellipsis(), _cut_capitalised(), _cut_near_lookalike_words(), _cut_after_decimal(), _repeated(),
            _one_source(), _only_an_ellipsis(), _swapped_numbers(), _source_in_compatibility_forms(),
            _cut_with_slip()]
