"""A learner's responder (`World(responder=fn)`): a plain function that scripts the model's reply.

It leads the chain (`model.responders.Responders`): `fn` gets a read-only `ModelRequest` and returns a str (one
text block), a tuple of str (several blocks), or None to let the world's own model answer. Only the text
is scripted: faults, latency, token counting, usage, max_tokens, streaming and stop sequences are the
world's, applied to it as to any reply.

A responder's bug must not look like a fault of the API. The SDKs turn any Exception raised under their
HTTP call into a connection error and retry it, so an exception from `fn`, or a reply of the wrong type,
leaves as `ResponderFailed`: a BaseException, as `HookFailed` is, with the original (or a TypeError
saying what was returned and what is accepted) as its `__cause__`.
"""

from __future__ import annotations

import copy
import random
import reprlib
from collections.abc import Callable
from dataclasses import dataclass

from .prompt import Block, Reply
from .request import ModelRequest
from .responders import Turn

ResponderFunction = Callable[[ModelRequest], "str | tuple[str, ...] | None"]

_ACCEPTED = ("a str (one text block), a non-empty tuple of str (one text block each), "
             "or None (to let the world's own model answer)")


class ResponderFailed(BaseException):
    """A `World(responder=...)` function raised, or returned something that is not a reply: a bug in it.

    A BaseException, so that neither the SDKs' retry loops nor an `except Exception:` in the code under
    test hide it: it stops the call being made. Its `__cause__` is what the responder raised, or a
    TypeError naming what it returned.
    """


@dataclass(frozen=True)
class ScriptedResponder:
    """The link of the chain that calls a learner's function."""

    function: ResponderFunction

    def __post_init__(self) -> None:
        if not callable(self.function):
            raise TypeError(f"responder must be a function taking a faultfirst.ModelRequest and returning "
                            f"{_ACCEPTED}; got {type(self.function).__name__} {self.function!r}")

    @property
    def name(self) -> str:
        return getattr(self.function, "__qualname__", None) or repr(self.function)

    def __call__(self, turn: Turn, rng: random.Random) -> Reply | None:
        prompt = turn.prompt
        request = ModelRequest(
            provider=prompt.provider, model=prompt.model, system=prompt.system, messages=turn.messages,
            user=prompt.user, max_tokens=turn.max_tokens,
            schema=copy.deepcopy(prompt.schema),  # parsed requests are cached and shared: the responder gets its own
        )
        try:
            returned = self.function(request)
        except Exception as err:
            raise ResponderFailed(f"the responder {self.name} raised {type(err).__name__}: {err}") from err
        if returned is None:
            return None
        texts = (returned,) if isinstance(returned, str) else returned
        if not isinstance(texts, tuple) or not texts or not all(isinstance(text, str) for text in texts):
            shown = f"{type(returned).__name__} {reprlib.repr(returned)}"
            problem = TypeError(f"the responder {self.name} returned {shown}; a responder returns {_ACCEPTED}")
            raise ResponderFailed(str(problem)) from problem
        return Reply(tuple(Block(text) for text in texts), "responder")
