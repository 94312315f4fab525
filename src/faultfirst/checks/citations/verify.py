"""The check of the exercise `citations-verify` (book/tier4/citations.md).

The learner's `verify(answer, sources)` returns one verdict per quote of an answer (`"exact words"
[doc-0042]`), in order, each with `ok`: is the quote in the document it cites, and does it keep that
sentence's meaning. The check scores it against labelled answers it has never seen (`cases.json`): the
simulated model's answers to held-out questions, labelled by the world itself, and hand-made adversarial
quotes. A wrong quote accepted is a miss, a faithful one rejected a false alarm; every case names what it
tries, and the hint of an expectation names the one mistake its failure diagnoses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...model.corpus import load_corpus
from ...text import plural
from .._framework import Mistake, Report, mistakes, register
from . import hints
from .cases import WORLD, LabelledAnswer, load

# The hint for a world fault the verifier let through, by kind (an invented quote has no one mistake behind it).
MISSED = {"wrong_document": hints.CITED_ONLY, "paraphrase_as_quote": hints.PARAPHRASE,
          "unprovided_document": hints.UNPROVIDED, "reversed_quote": hints.REVERSED}
KIND_NAMES = {"invented_quote": "invented quotes", "wrong_document": "real quotes attributed to the wrong document",
              "paraphrase_as_quote": "paraphrases presented as quotes",
              "unprovided_document": "citations to documents never provided",
              "reversed_quote": "quotes cut so that they reverse their sentence"}


def _sources(answer: LabelledAnswer) -> dict[str, str]:
    corpus, sent = load_corpus(), dict(answer.texts)
    return {doc: sent.get(doc) or corpus.paper(doc).abstract for doc in answer.sources}


def _shown(text: str, limit: int = 90) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit - 3] + "...")


def _crash_hint(answer: LabelledAnswer) -> str | None:
    """The hint for a verifier that raised on `answer`: a wrong quote is where a search finds nothing."""
    kinds = set(answer.wrong().values())
    if "empty_quote" in kinds:
        return hints.EMPTY
    return hints.NO_MATCH if kinds else None


def _verdicts(report: Report, fn: Callable[..., Any], answer: LabelledAnswer) -> list[Any]:
    """The learner's verdicts on `answer`, after checking they are a list of verdicts."""
    value, err = report.outcome(fn, answer.answer, _sources(answer))
    report.expect(err is None, f"raised {type(err).__name__}: {err} on the answer {_shown(answer.answer)}",
                  hint=_crash_hint(answer))
    report.expect(isinstance(value, Sequence) and all(hasattr(v, "ok") for v in value),
                  f"returned {type(value).__name__}; expected a list of Verdicts, one per quote")
    return list(value)


def _counted(report: Report, verdicts: list[Any], answer: LabelledAnswer, hint: str | None) -> None:
    report.expect(len(verdicts) == answer.quotes, f"returned {plural(len(verdicts), 'Verdict')} for an answer with "
                  f"{plural(answer.quotes, 'quote')}: {_shown(answer.answer)}", hint=hint)


Misjudged = tuple[int, Any, str | None]  # a quote's number, the learner's verdict, its label (None: faithful)


def _misjudged(report: Report, fn: Callable[..., Any], answer: LabelledAnswer,
               hint: str | None = None) -> list[Misjudged]:
    """The learner's verdicts on `answer` that go against its labels, after checking there is one per quote (`hint`
    for an answer whose quotes were miscounted)."""
    verdicts = _verdicts(report, fn, answer)
    _counted(report, verdicts, answer, hint)
    wrong = answer.wrong()
    return [(n, v, wrong.get(n)) for n, v in enumerate(verdicts, start=1) if bool(v.ok) == (n in wrong)]


def _said(n: int, verdict: Any, answer: LabelledAnswer, label: str | None) -> str:
    """What went wrong with quote `n`, in words: the quote, what the verifier said, and what it is."""
    why = getattr(verdict, "why", "")
    quoted = f"{_shown(str(getattr(verdict, 'quote', '')), 70)} [{getattr(verdict, 'doc', '?')}]"
    return (f"quote {n} of the answer, {quoted}, was {'accepted' if verdict.ok else 'rejected'}"
            + (f" ({why})" if why else "") + (f"; it is labelled {label}" if label else "; it is a faithful quote")
            + f". The answer: {_shown(answer.answer)}")


@register("citations-verify")
def _check(fn: Callable[..., Any], report: Report) -> None:
    answers = load()
    world = [a for a in answers if a.origin == WORLD]
    for kind in sorted({kind for answer in world for kind in answer.wrong().values()}):
        spoiled = [a for a in world if kind in a.wrong().values()]
        with report.case(f"the world's {KIND_NAMES.get(kind, kind)}: each one rejected") as notes:
            missed = [_said(n, verdict, answer, label) for answer in spoiled
                      for n, verdict, label in _misjudged(report, fn, answer) if label == kind]
            notes.detail = f"caught {len(spoiled) - len(missed)} of {plural(len(spoiled), 'quote')}"
            report.expect(not missed, missed[0] if missed else "", hint=MISSED.get(kind))

    with report.case("the world's faithful quotes: none rejected") as notes:
        faithful = sum(answer.quotes - len(answer.wrong()) for answer in world)
        false_alarms = [_said(n, verdict, answer, label) for answer in world
                        for n, verdict, label in _misjudged(report, fn, answer) if label is None]
        notes.detail = f"{plural(len(false_alarms), 'false alarm')} in {plural(faithful, 'faithful quote')}"
        report.expect(not false_alarms, false_alarms[0] if false_alarms else "")

    for answer in (a for a in answers if a.origin != WORLD):
        hint = getattr(hints, answer.hint) if answer.hint else None
        with report.case(f"hand-made: {answer.origin}"):
            for n, verdict, label in _misjudged(report, fn, answer, hint):
                report.expect(False, _said(n, verdict, answer, label), hint=hint)

    with report.case("every labelled quote: precision and recall of the rejections") as notes:
        caught = wrong = rejected = 0
        for answer in answers:
            verdicts = _verdicts(report, fn, answer)
            _counted(report, verdicts, answer, None)
            labels = answer.wrong()
            wrong += len(labels)
            caught += sum(not v.ok for n, v in enumerate(verdicts, start=1) if n in labels)
            rejected += sum(not v.ok for v in verdicts)
        recall, precision = caught / max(wrong, 1), caught / max(rejected, 1)
        notes.detail = (f"caught {caught} of {plural(wrong, 'wrong quote')} (recall {recall:.0%}); {caught} of "
                        f"{plural(rejected, 'rejection')} right (precision {precision:.0%})")
        report.expect(recall == 1 and precision == 1, "every wrong quote must be rejected and every faithful one kept")


mistakes(
    "citations-verify",
    Mistake("exact match only",
            changes=(("alignment = fuzz.partial_ratio_alignment(piece, text[start:], score_cutoff=threshold)",
                      "alignment = None"),),
            hint=hints.FUZZY),
    Mistake("a fuzzy threshold so low that paraphrases pass",
            changes=(("threshold = 95  #", "threshold = 80  #"),),
            hint=hints.PARAPHRASE),
    Mistake("trusts a fuzzy match whose numbers differ",
            changes=(("        if numbers(text[begin:end]) != numbers(piece):\n            return None\n", ""),),
            hint=hints.NUMBERS),
    Mistake("reads the score of an alignment that is not there",
            changes=(("if alignment is None:", "if alignment.score < threshold:"),),
            hint=hints.NO_MATCH),
    Mistake("crashes on an empty quote",
            changes=(("        if not pieces:\n            return False, \"the quote is empty\"\n", ""),),
            hint=hints.EMPTY),
    Mistake("no normalisation of curly quotes",
            changes=((".translate(LOOKALIKES).translate(QUOTE_MARKS)", ".translate(LOOKALIKES)"),),
            hint=hints.CURLY),
    Mistake("whitespace not collapsed",
            changes=(('        return " ".join(text.split())', "        return text"),),
            hint=hints.WHITESPACE),
    Mistake("keeps the invisible characters",
            changes=(('        text = "".join(c for c in text if unicodedata.category(c) != "Cf")', ""),),
            hint=hints.INVISIBLE),
    Mistake("no NFKC",
            changes=(('        text = unicodedata.normalize("NFKC", text)', ""),),
            hint=hints.COMPAT),
    Mistake("no folding of look-alike letters",
            changes=((".translate(LOOKALIKES).translate(QUOTE_MARKS)", ".translate(QUOTE_MARKS)"),),
            hint=hints.LOOKALIKE),
    Mistake("an ellipsis searched as part of the quote",
            changes=(('for piece in quote.split("...") if', "for piece in [quote] if"),),
            hint=hints.ELLIPSIS),
    Mistake("checks the quote against all the sources instead of the one it cites",
            changes=(("normalise(sources[doc])", 'normalise(" ".join(sources.values()))'),),
            hint=hints.CITED_ONLY),
    Mistake("looks an id that was never provided up in the corpus",
            changes=(('        if doc not in sources:\n            return False, f"{doc} was never provided"\n', ""),
                     ("normalise(sources[doc])", "normalise(sources.get(doc) or CORPUS.paper(doc).abstract)")),
            hint=hints.UNPROVIDED),
    Mistake("a fuzzy threshold stricter than 95",
            changes=(("threshold = 95  #", "threshold = 99  #"),),
            hint=hints.SLIPS),
    Mistake("looks for every piece of an ellipsis from the document's start",
            changes=(("cut = locate(piece, text, at)", "cut = locate(piece, text, 0)"),),
            hint=hints.IN_ORDER),
    Mistake("looks for a fuzzy piece anywhere in the document",
            changes=(("fuzz.partial_ratio_alignment(piece, text[start:], score_cutoff=threshold)",
                      "fuzz.partial_ratio_alignment(piece, text, score_cutoff=threshold)"),
                     ("begin, end = start + alignment.dest_start, start + alignment.dest_end",
                      "begin, end = alignment.dest_start, alignment.dest_end"),
                     ("cut = locate(piece, text, at)", "cut = locate(piece, text, 0)")),
            hint=hints.IN_ORDER),
    Mistake("looks qualifiers up without lower-casing",
            changes=(('re.findall(r"[a-z]+", dropped.lower())', 're.findall(r"[a-z]+", dropped)'),),
            hint=hints.CAPITALISED),
    Mistake("looks for qualifiers as substrings",
            changes=(('return next((word for word in re.findall(r"[a-z]+", dropped.lower()) if word in QUALIFIERS), '
                      'None)', "return next((word for word in QUALIFIERS if word in dropped.lower()), None)"),),
            hint=hints.WHOLE_WORDS),
    Mistake("ends a sentence at any period",
            changes=(('begin = text.rfind(". ", 0, cuts[0][0]) + 1', 'begin = text.rfind(".", 0, cuts[0][0]) + 1'),
                     ('end = text.find(". ", cuts[-1][1] - 1)', 'end = text.find(".", cuts[-1][1] - 1)')),
            hint=hints.SENTENCE_END),
    Mistake("judges each distinct quote once",
            changes=(("for quote, doc in QUOTED.findall(normalise(answer))]",
                      "for quote, doc in dict.fromkeys(QUOTED.findall(normalise(answer)))]"),),
            hint=hints.REPEATED),
    Mistake("checks the one source sent, whatever id the quote cites",
            changes=(("        if doc not in sources:\n",
                      "        if len(sources) == 1:\n            doc = next(iter(sources))\n"
                      "        if doc not in sources:\n"),),
            hint=hints.ONE_SOURCE),
    Mistake("tests the quote, not its pieces, for emptiness",
            changes=(("        if not pieces:\n", "        if not quote:\n"),),
            hint=hints.EMPTY),
    Mistake("compares the numbers as a set",
            changes=(("if numbers(text[begin:end]) != numbers(piece):",
                      "if set(numbers(text[begin:end])) != set(numbers(piece)):"),),
            hint=hints.NUMBER_ORDER),
    Mistake("normalises the answer but not the source",
            changes=(("normalise(sources[doc])", "sources[doc]"),),
            hint=hints.SOURCE_SIDE),
    Mistake("normalises the source with NFKC alone",
            changes=(("normalise(sources[doc])", 'unicodedata.normalize("NFKC", sources[doc])'),),
            hint=hints.SOURCE_SIDE),
    Mistake("looks at what a cut leaves out only when it was found exactly",
            changes=(("        if (word := left_out(text, cuts)) is not None:",
                      "        if min(cut[2] for cut in cuts) == 100 and "
                      "(word := left_out(text, cuts)) is not None:"),),
            hint=hints.FUZZY_CUT),
    Mistake("ignores what the cut leaves out",
            changes=(("        if (word := left_out(text, cuts)) is not None:\n"
                      "            return False, f\"leaves out {word!r}\"\n", ""),),
            hint=hints.REVERSED),
)
