"""The default reply's wording is drawn as the standard library's sampling would draw it.

`_default_reply` writes out `randint`, `choice` and `sample` to make fewer calls; every committed notebook's
default replies hang on it drawing the same numbers from the same stream, in the same order.
"""

from __future__ import annotations

import random

from faultfirst.model.skills.default import _CLOSERS, _OPENERS, _POINTS, _default_reply
from faultfirst.model.tokens import count_pieces, count_tokens


def _library_text(topic: str, chooser: random.Random) -> str:
    length = chooser.randint(2, 6)
    opener = chooser.choice(_OPENERS).format(topic=topic)
    points = chooser.sample(_POINTS, length - 1 if length < 4 else length - 2)
    closer = [chooser.choice(_CLOSERS)] if length >= 4 else []
    return " ".join([opener, *points, *closer])


def test_the_written_out_draws_are_the_library_s_draws_and_leave_the_stream_where_it_would():
    for seed in range(2000):
        ours, library = random.Random(seed), random.Random(seed)
        assert _default_reply("retries", ours).blocks[0].text == _library_text("retries", library), seed
        assert ours.random() == library.random(), seed  # the stream moved on by as many draws


def test_every_length_and_every_sentence_occurs():
    """Two to six sentences (an opener, points, a closer from four on), each of them reachable."""
    sentences = (*(o.format(topic="x") for o in _OPENERS), *_POINTS, *_CLOSERS)
    texts = [_default_reply("x", random.Random(seed)).blocks[0].text for seed in range(3000)]
    assert {sum(s in t for s in sentences) for t in texts} == {2, 3, 4, 5, 6}
    for sentence in sentences:
        assert any(sentence in t for t in texts), sentence


def test_the_pieces_make_the_text_and_count_its_tokens_exactly():
    for seed in range(300):
        block = _default_reply("how to add retries to your client", random.Random(seed)).blocks[0]
        assert "".join(block.pieces) == block.text
        for encoding in ("o200k_base", "cl100k_base"):
            assert count_pieces(block.pieces, encoding) == count_tokens(block.text, encoding)
