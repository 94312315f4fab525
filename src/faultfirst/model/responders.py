"""The simulated model: what it replies to a prompt, decided by a chain of responders.

The request-parsing layer turns an OpenAI or Anthropic request into a neutral
:class:`~faultfirst.model.prompt.Prompt`; :class:`Responders` is the chain that decides the reply.  Each link
is a :class:`Responder`: it replies, or returns None to let the next link answer.  The links, in order
(the `skill` each reply carries in brackets):

0. ``responder`` - a learner's function, `World(responder=...)` (see `model/scripted.py`).
1. ``fixture``  - a scripted reply from a :class:`~faultfirst.model.fixtures.FixtureSet`.
2. the built-in skills, tried in order, the first that applies wins:
   ``injected`` - a document, a tool result or the user turn carries an injected
   instruction ("Ignore previous instructions and ...").  The model obeys it with a
   chance that depends on the model, the attack's family and the defences around it
   (`obedience.py`), drawn per attempt from the world's injection stream; when it
   resists, the injected sentence is left out of everything below.
   ``grounded`` - the user asks one of the corpus's questions (docs/corpus.md): answer it from the sources
   given, citing them as the prompt asks, or from memory (``from_memory``) when they miss its gold
   documents (`skills/grounded.py`; it goes before ``json``, whose schema may be its rigid claims).
   ``json``     - the prompt carries a JSON Schema: emit JSON that fits it.
   ``answer``   - documents plus a question: quote the best-matching sentences,
   with Anthropic-style citations when the document enables them.
   ``summary``  - a request to summarise: the opening sentences, within limits.
   ``classify`` - a list of labels: reply with exactly one of them.
3. ``default``  - a short, plausible, engineer-flavoured reply; it always answers, so the chain ends here.

Everything is deterministic.  At ``temperature == 0`` a reply is a pure
function of the prompt and the ``rng`` passed in is never touched; above zero,
wording may be sampled from ``rng`` (the default reply always is), so seeding
the generator reproduces a run.  Where the default reply needs choices at
temperature 0 it draws them from a private ``random.Random`` seeded with a
SHA-256 of the prompt - never from ``hash()``, which is salted per process.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .corpus_questions import find_question
from .fixtures import FixtureSet
from .injections import _obey
from .known_attacks import demanded_call, obeyed_text, without_case
from .obedience import chance
from .prompt import Block, Message, Prompt, Reply, _plain
from .prompt_view import _View
from .skills.answer import _answer
from .skills.classify import _classify
from .skills.default import _default_reply, _stable_seed, _topic
from .skills.grounded import Remembering, grounded
from .skills.json_schema import _dump, _Facts, _fake_json
from .skills.summary import _summary


@dataclass(frozen=True)
class Turn:
    """What the chain is asked: the neutral prompt, and the messages and output budget it came with.

    The built-in links read `prompt` only; `messages` and `max_tokens` are there for a learner's responder.
    """

    prompt: Prompt
    messages: tuple[Message, ...] = ()
    max_tokens: int | None = None
    # The world's draw, in [0, 1), deciding whether an injected instruction is obeyed on this attempt (from
    # its own stream, so it shifts no other draw). None, outside a world: a draw fixed by the prompt.
    injection_draw: float | None = None
    # The world's die deciding whether a corpus question its sources cannot answer is answered from memory,
    # drawn only when one is asked (`{seed}:fault:from_memory`). None, outside a world: a draw fixed by the prompt.
    memory_draw: Callable[[], float] | None = None


class Responder(Protocol):
    """One link of the chain: the reply to `turn`, or None to let the next link answer.

    `rng` is the world's sampling stream (or a choice's own, for n > 1); a link draws from it only for
    what it samples, so a link that answers from the prompt alone shifts no later draw.
    """

    def __call__(self, turn: Turn, rng: random.Random) -> Reply | None: ...


@dataclass(frozen=True)
class Responders:
    """The chain, built in one place: `lead` (a learner's responder) if any, fixtures, skills, the default."""

    fixtures: FixtureSet = FixtureSet()
    lead: Responder | None = None

    def reply(self, turn: Turn, rng: random.Random) -> Reply:
        """The first link's reply that is not None; the built-in skills, then the default reply, close the chain."""
        if self.lead is not None and (reply := self.lead(turn, rng)) is not None:
            return reply
        if (reply := self._fixture(turn, rng)) is not None:
            return reply
        return builtin_reply(turn, rng)

    def with_fixtures_first(self, fixtures: FixtureSet) -> Responders:
        """This chain with `fixtures` matched ahead of its own (`World.script_reply`)."""
        return dataclasses.replace(self, fixtures=FixtureSet(fixtures.entries + self.fixtures.entries))

    def _fixture(self, turn: Turn, rng: random.Random) -> Reply | None:
        """The first matching fixture's reply (a tuple: several text blocks), with its scripted ending."""
        entry = self.fixtures.entry(turn.prompt)
        if entry is None:
            return None
        texts = entry.reply if isinstance(entry.reply, tuple) else (entry.reply,)
        return Reply(tuple(Block(text) for text in texts), "fixture", entry.ending, entry.stop_sequence)


def respond(prompt: Prompt, rng: random.Random, *, fixtures: FixtureSet | None = None,
            injection_draw: float | None = None) -> Reply:
    """What the simulated model replies to `prompt` alone: the chain with no learner's responder.

    `injection_draw` decides an injected instruction as the world's draw would (0.0 always obeys it,
    1.0 never does); None: a draw fixed by the prompt.
    """
    return Responders(fixtures or FixtureSet()).reply(Turn(prompt, injection_draw=injection_draw), rng)


def builtin_reply(turn: Turn, rng: random.Random) -> Reply:
    """The first built-in skill that applies (injected, grounded, json, answer, summary, classify), else the
    default reply. What depends on the prompt alone was decided when the prompt was first read (cached); only
    the sampled part of a reply above temperature 0 (JSON's values, the default reply's wording) draws from `rng`."""
    decision = _resolve(_decide(turn.prompt), turn)
    if isinstance(decision, Reply):
        return decision
    schema = turn.prompt.schema
    if decision.facts is not None and schema is not None:  # facts are only read from a prompt with a schema
        return _plain(_dump(_fake_json(schema, decision.facts, rng)), "json")
    return _default_reply(decision.topic, rng)


def tempted(prompt: Prompt) -> bool:
    """Whether `prompt` carries an injected instruction the model may obey (decided per attempt)."""
    return isinstance(_decide(prompt), _Tempted)


@dataclass(frozen=True)
class _Sampled:
    """What the sampled part of a reply needs from the prompt: facts for JSON, or the topic to talk about."""

    facts: _Facts | None = None
    topic: str = ""


@dataclass(frozen=True)
class _Tempted:
    """A prompt that carries an injected instruction: what obeying it says, what the model says if it resists,
    and the chance it obeys (`obedience.chance`)."""

    obeyed: Reply
    resisted: Reply | _Sampled | Remembering
    chance: float


def _resolve(decision: Reply | _Sampled | _Tempted | Remembering, turn: Turn) -> Reply | _Sampled:
    """The decision for this attempt: a tempted prompt obeys when the attempt's draw falls under its chance; a
    question its sources cannot answer is answered from memory when the attempt's memory die does."""
    if isinstance(decision, _Tempted):
        draw = turn.injection_draw
        if draw is None:
            draw = random.Random(f"injection:{_stable_seed(turn.prompt)}").random()
        decision = decision.obeyed if draw < decision.chance else decision.resisted
    if isinstance(decision, Remembering):
        die = turn.memory_draw() if turn.memory_draw is not None else random.Random(
            f"memory:{_stable_seed(turn.prompt)}").random()
        return decision.recalled if die < decision.chance else decision.silent
    return decision


# Lessons and benchmarks repeat prompts heavily, and reading a prompt (splitting
# sentences, finding injections, ranking) costs more than sampling a reply from
# it, so the prompt-only part of `respond` is cached. Bounded: cleared when full. The bound holds the
# parallelism lesson's thousand documents through every pass and seed its cells make over them.
_DECISIONS: dict[tuple[Any, ...], Reply | _Sampled | _Tempted | Remembering] = {}
_DECISIONS_MAX = 16384


def _decide(prompt: Prompt) -> Reply | _Sampled | _Tempted | Remembering:
    """Everything about the reply that depends on the prompt alone (cached).

    An attempt may ask more than once about the same `Prompt` object (whether it tempts the model, then its reply),
    and loops resend the same bytes, whose parse (and `Prompt`) is cached: the last prompt asked about is
    remembered by identity before the keyed cache.
    """
    global _last
    last = _last  # one read of one tuple, so a thread that replaces it meanwhile cannot mix two prompts' halves
    if last[0] is prompt:
        return last[1]
    decision = _decide_keyed(prompt)
    _last = (prompt, decision)
    return decision


_last: tuple[Prompt | None, Any] = (None, None)


def _decide_keyed(prompt: Prompt) -> Reply | _Sampled | _Tempted | Remembering:
    schema = json.dumps(prompt.schema, sort_keys=True) if prompt.schema is not None else None
    key = (prompt.system, prompt.user, prompt.documents, schema, prompt.temperature > 0, prompt.provider, prompt.model)
    decision = _DECISIONS.get(key)
    if decision is None:
        if len(_DECISIONS) >= _DECISIONS_MAX:
            _DECISIONS.clear()
        decision = _DECISIONS[key] = _decide_uncached(prompt)
    return decision


def _decide_uncached(prompt: Prompt) -> Reply | _Sampled | _Tempted | Remembering:
    view = _View.of(prompt)
    if view.case is not None and view.temptation is not None:
        cleaned = without_case(prompt, view.case)
        obeyed = Reply((Block(obeyed_text(view.case)),), "injected", demanded_call=demanded_call(view.case))
        return _Tempted(obeyed, _decide_resisting(cleaned, _View.of(cleaned)), chance(prompt.model, view.temptation))
    resisted = _decide_resisting(prompt, view)
    if view.injection is None or view.temptation is None:
        return resisted
    return _Tempted(_plain(_obey(view.injection, prompt), "injected"), resisted,
                    chance(prompt.model, view.temptation))


def _decide_resisting(prompt: Prompt, view: _View) -> Reply | _Sampled | Remembering:
    """The reply of a model that follows no injected instruction (the view has already left them out)."""
    if (question := find_question(view.request)) is not None:
        return grounded(view, question)
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
    return _default_reply(topic, random.Random(_stable_seed(prompt)))
