"""Token counting: a real BPE, offline, exact, and consistent with the usage the world reports."""

from __future__ import annotations

import random

import pytest

from faultfirst.model.prompt import Prompt
from faultfirst.model.responders import respond
from faultfirst.model.tokens import count_tokens, encoding, truncate_to_tokens
from tests.conftest import ask

SAMPLES = [
    "", "hello", "Hello, world. How are you? Fine: thanks; bye!", "a  b. c\n\nd. e.\nf",
    "東京は日本の首都です。 Paris is the capital of France. 😀 emoji. ok",
    "def f(x):\n    return x ** 2. # done. next", "Dr. Smith arrived at 3 p.m. today. Then left.",
    "Sentence one.  Two spaces. Tab\tthen. End.", "x. " * 50, "...... !!! ??? :: ;; . .",
]


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_sentence_cached_count_equals_whole_text_encoding(name):
    """Counting sentence by sentence gives exactly len(encode(text)), on awkward texts and on real replies."""
    enc = encoding(name)
    rng = random.Random(0)
    texts = list(SAMPLES)
    for i in range(200):
        texts.append(respond(Prompt(system="", user=f"Question {i}: explain topic {rng.random()}"), rng).text)
    for text in texts:
        assert count_tokens(text, name) == len(enc.encode_ordinary(text)), text


def test_token_counts_differ_from_words_and_characters():
    """Tokens are neither words nor characters, and multi-byte text costs more per character."""
    english, japanese = "The quick brown fox jumps over the lazy dog.", "素早い茶色の狐がのろまな犬を飛び越える。"
    assert count_tokens(english) not in (len(english.split()), len(english))
    assert count_tokens(japanese) / len(japanese) > count_tokens(english) / len(english)


def test_truncation_keeps_a_prefix_of_at_most_the_limit():
    """truncate_to_tokens cuts on a token boundary and never exceeds the limit."""
    text = "One two three four five six seven eight nine ten."
    cut = truncate_to_tokens(text, 4, "o200k_base")
    assert text.startswith(cut) and count_tokens(cut) == 4
    assert truncate_to_tokens(text, 100, "o200k_base") == text


def test_usage_matches_the_tokenizer_and_cost_matches_the_catalogue(world):
    """Output tokens equal the BPE count of the reply text; cost is tokens times catalogue prices."""
    completion = world.openai().chat.completions.create(model="gpt-strong", messages=ask("Explain hedged requests."))
    text = completion.choices[0].message.content
    assert completion.usage.completion_tokens == count_tokens(text, "o200k_base")
    spec, record = world.catalog["gpt-strong"], world.requests[-1]
    expected = (completion.usage.prompt_tokens * spec.input_usd_per_mtok
                + completion.usage.completion_tokens * spec.output_usd_per_mtok) / 1e6
    assert record.cost_usd == pytest.approx(expected)
    assert (record.input_tokens, record.output_tokens) == (completion.usage.prompt_tokens,
                                                           completion.usage.completion_tokens)


def test_anthropic_models_count_with_another_encoding(world):
    """The same text is counted with cl100k_base for the simulated Claude models."""
    text = "Context windows are measured in tokens, not words."
    message = world.anthropic().messages.count_tokens(model="claude-fast", messages=ask(text))
    gpt = world.openai().chat.completions.create(model="gpt-fast", messages=ask(text), max_tokens=1)
    assert message.input_tokens - count_tokens(text, "cl100k_base") == gpt.usage.prompt_tokens - count_tokens(text)


def test_a_cut_inside_a_character_keeps_whole_characters():
    """Cutting Japanese or emoji on a token boundary never leaves a U+FFFD at the end of a reply."""
    for name in ("o200k_base", "cl100k_base"):
        for text in ("締め切りは金曜日です。", "🌧️🌧️ rain"):
            for limit in range(1, count_tokens(text, name)):
                cut = truncate_to_tokens(text, limit, name)
                assert "\ufffd" not in cut and text.startswith(cut)
