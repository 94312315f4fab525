"""Rule 7 of the simulated model: a short, plausible, engineer-flavoured default reply.

At temperature 0 its choices come from a private `random.Random` seeded with a SHA-256 of the
prompt (`_stable_seed`), never from `hash()`, which is salted per process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
from collections.abc import Callable

from ..prompt import Block, Prompt, Reply
from ..prompt_view import _LEAD_IN_RE
from ..text_tools import _clip_words, _sentences

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
# The sentences that follow the opener, with the space that joins them to it: pieces of a reply's token count.
_SPACED_POINTS = tuple(" " + point for point in _POINTS)
_SPACED_CLOSERS = tuple(" " + closer for closer in _CLOSERS)
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


def _default_reply(topic: str, chooser: random.Random) -> Reply:
    """Two to six sentences: an opener restating the topic, a few points, maybe a closer (one block, with its
    sentences as the pieces its tokens are counted from).

    Drawn as `chooser.randint(2, 6)`, `choice(_OPENERS)`, `sample(_POINTS, k)` and `choice(_CLOSERS)` draw (the
    same numbers from the same stream, so the same text: tests/test_default_reply.py compares them), with the
    draws written out: a default reply is sampled on most attempts, and the library's versions of these make
    about twenty Python calls where this makes eight.
    """
    pieces = _default_pieces(topic, chooser)
    return Reply((Block("".join(pieces), pieces=pieces),), "default")


def _default_pieces(topic: str, chooser: random.Random) -> tuple[str, ...]:
    """`_default_reply`'s sentences, each after the first with the space before it: its pieces for counting
    tokens (`Block.pieces`), whose concatenation is the text."""
    bits = chooser.getrandbits
    length = 2 + _below(5, bits)
    opener = _OPENERS[_below(len(_OPENERS), bits)].format(topic=topic)
    pool, n = list(_SPACED_POINTS), len(_SPACED_POINTS)
    sentences = [opener]
    for i in range(length - 1 if length < 4 else length - 2):  # random.sample's pool method (n <= 21)
        j = _below(n - i, bits)
        sentences.append(pool[j])
        pool[j] = pool[n - i - 1]
    if length >= 4:
        sentences.append(_SPACED_CLOSERS[_below(len(_SPACED_CLOSERS), bits)])
    return tuple(sentences)


def _below(n: int, bits: Callable[[int], int]) -> int:
    """A uniform integer in [0, n), drawn as `random.Random._randbelow` draws it: rejection sampling on
    `n.bit_length()` random bits."""
    k = n.bit_length()
    r = bits(k)
    while r >= n:
        r = bits(k)
    return r


def _stable_seed(prompt: Prompt) -> int:
    """A process-independent seed derived from every field of the prompt.

    Temperature is normalised so that equal prompts (``0 == 0.0``) seed alike.
    """
    fields = {**dataclasses.asdict(prompt), "temperature": float(prompt.temperature)}
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=repr)
    return int.from_bytes(hashlib.sha256(payload.encode("utf-8")).digest()[:8], "big")
