"""The simulated model: what it replies to a prompt.

The request-parsing layer turns an OpenAI or Anthropic request into a neutral
:class:`~faultfirst._prompt.Prompt`; :func:`respond` decides the reply.  The engine is a handful of
rules tried in order, the first that applies wins:

1. ``fixture``  - a scripted reply from a :class:`~faultfirst._fixtures.FixtureSet`.
2. ``injected`` - a document or the user turn carries an injected instruction
   ("Ignore previous instructions and ...").  Like a naive model, the engine
   obeys it unless the prompt is *guarded* (it calls document content
   untrusted data); a guarded prompt falls through and the injected sentence
   is left out of everything below.
3. ``json``     - the prompt carries a JSON Schema: emit JSON that fits it.
4. ``answer``   - documents plus a question: quote the best-matching sentences,
   with Anthropic-style citations when the document enables them.
5. ``summary``  - a request to summarise: the opening sentences, within limits.
6. ``classify`` - a list of labels: reply with exactly one of them.
7. ``default``  - a short, plausible, engineer-flavoured reply.

Everything is deterministic.  At ``temperature == 0`` a reply is a pure
function of the prompt and the ``rng`` passed in is never touched; above zero,
wording may be sampled from ``rng`` (the default reply always is), so seeding
the generator reproduces a run.  Where the default reply needs choices at
temperature 0 it draws them from a private ``random.Random`` seeded with a
SHA-256 of the prompt - never from ``hash()``, which is salted per process.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._injections import _obey
from ._prompt import Block, Prompt, Reply, _plain
from ._prompt_view import _View
from ._skill_answer import _answer
from ._skill_classify import _classify
from ._skill_default import _default_text, _stable_seed, _topic
from ._skill_json import _dump, _Facts, _fake_json
from ._skill_summary import _summary

if TYPE_CHECKING:
    from ._fixtures import FixtureSet


def respond(prompt: Prompt, rng: random.Random, *, fixtures: FixtureSet | None = None) -> Reply:
    """Decide what the simulated model replies to ``prompt`` (see the module docstring)."""
    if fixtures is not None and (entry := fixtures.entry(prompt)) is not None:
        texts = entry.reply if isinstance(entry.reply, tuple) else (entry.reply,)  # a tuple: several text blocks
        return Reply(tuple(Block(text) for text in texts), "fixture", entry.ending, entry.stop_sequence)
    decision = _decide(prompt)
    if isinstance(decision, Reply):
        return decision
    # Only prompts above temperature 0 leave a sampled part; it draws from `rng`.
    if decision.facts is not None:
        return _plain(_dump(_fake_json(prompt.schema, decision.facts, rng)), "json")
    return _plain(_default_text(decision.topic, rng), "default")


@dataclass(frozen=True)
class _Sampled:
    """What the sampled part of a reply needs from the prompt: facts for JSON, or the topic to talk about."""

    facts: _Facts | None = None
    topic: str = ""


# Lessons and benchmarks repeat prompts heavily, and reading a prompt (splitting
# sentences, finding injections, ranking) costs more than sampling a reply from
# it, so the prompt-only part of `respond` is cached. Bounded: cleared when full. The bound holds the
# parallelism lesson's thousand documents through every pass and seed its cells make over them.
_DECISIONS: dict[tuple[Any, ...], Reply | _Sampled] = {}
_DECISIONS_MAX = 16384


def _decide(prompt: Prompt) -> Reply | _Sampled:
    """Everything about the reply that depends on the prompt alone (cached)."""
    schema = json.dumps(prompt.schema, sort_keys=True) if prompt.schema is not None else None
    key = (prompt.system, prompt.user, prompt.documents, schema, prompt.temperature > 0, prompt.provider, prompt.model)
    decision = _DECISIONS.get(key)
    if decision is None:
        if len(_DECISIONS) >= _DECISIONS_MAX:
            _DECISIONS.clear()
        decision = _DECISIONS[key] = _decide_uncached(prompt)
    return decision


def _decide_uncached(prompt: Prompt) -> Reply | _Sampled:
    view = _View.of(prompt)
    if view.injection is not None and not view.guarded:
        return _plain(_obey(view.injection, prompt), "injected")
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
    return _plain(_default_text(topic, random.Random(_stable_seed(prompt))), "default")
