"""The facts the citations lesson states about rapidfuzz and Unicode normalisation, read from the installed library.

The lesson's verifier rests on them (book/tier4/citations.md, "Disguises a verifier must see through" and the
exercise's notes), so a rapidfuzz release or a Unicode update that changed one would fail here, not silently in
a learner's verifier. rapidfuzz as pinned in uv.lock (3.14); unicodedata as Python 3.11 ships it.
"""

from __future__ import annotations

import unicodedata

import rapidfuzz
from rapidfuzz import fuzz

SENTENCE = "On PairPref-3k, RubricScope reaches an agreement with human labels of 86.5%, beating the baseline."


def test_partial_ratio_alignment_finds_the_stretch_or_returns_none_under_the_cutoff():
    text = f"Earlier sentences of the abstract. {SENTENCE} A closing sentence."
    exact = fuzz.partial_ratio_alignment(SENTENCE, text, score_cutoff=95)
    assert exact is not None and exact.score == 100
    assert text[exact.dest_start:exact.dest_end] == SENTENCE  # it says where the quote stands
    slipped = SENTENCE.replace("human labels", "human  labels").replace(",", "", 1)
    assert 95 <= fuzz.partial_ratio(slipped, text) < 100  # a slip costs a point or two
    reworded = ("On PairPref-3k, RubricScope attains agreement with human annotators of 86.5%, "
                "outperforming the baseline.")
    assert fuzz.partial_ratio_alignment(reworded, text, score_cutoff=95) is None  # under the cutoff: None
    assert rapidfuzz.__version__.startswith("3.")


def test_a_changed_digit_scores_above_any_threshold_a_slip_passes():
    changed = SENTENCE.replace("86.5%", "88.5%")
    assert fuzz.partial_ratio(changed, SENTENCE) >= 98


def test_nfkc_folds_compatibility_forms_and_keeps_format_characters_and_look_alikes():
    assert unicodedata.normalize("NFKC", "８６.５％") == "86.5%"  # fullwidth digits and sign
    assert unicodedata.normalize("NFKC", "ﬁnds") == "finds"  # a ligature
    assert unicodedata.normalize("NFKC", "86.5\u00a0%") == "86.5 %"  # a no-break space
    assert unicodedata.normalize("NFKC", "reaches…") == "reaches..."  # the ellipsis character
    for invisible in ("\u200b", "\u00ad"):  # zero-width space, soft hyphen
        assert unicodedata.normalize("NFKC", f"hu{invisible}man") == f"hu{invisible}man"
        assert unicodedata.category(invisible) == "Cf" and not invisible.isspace()
        assert f"hu{invisible}man labels".split() == [f"hu{invisible}man", "labels"]
    cyrillic_a = "\u0430"
    assert unicodedata.normalize("NFKC", f"{cyrillic_a}greement") == f"{cyrillic_a}greement"  # a different letter
    assert unicodedata.name(cyrillic_a) == "CYRILLIC SMALL LETTER A"
