"""The fault kinds a world injects, in the order they strike within a stage.

Adding a kind is its module in this package and one line in `_BUILT_IN`. `register` adds one from
outside the package (a test, a maintainer trying a kind out); a world takes the kinds registered
when it is made, for its whole life.

The rate limiter's 429 ("rate_limit") is no kind here: it has no dice. The scenario's limits fill
token buckets (service/rate_limits.py) and an attempt is refused when they are empty, between the
CONNECT and the ADMIT stage; it is labelled where it is enforced.
"""

from __future__ import annotations

from collections.abc import Mapping

from .invented_quote import INVENTED_QUOTE
from .kind import Fault
from .malformed_json import MALFORMED_JSON
from .offset_error import OFFSET_ERROR
from .outage import OUTAGE
from .overload import OVERLOAD
from .paraphrase_as_quote import PARAPHRASE_AS_QUOTE
from .refusal import REFUSAL
from .reset import RESET
from .reversed_quote import REVERSED_QUOTE
from .schema_violation import SCHEMA_VIOLATION
from .stream_error import STREAM_ERROR
from .unprovided_document import UNPROVIDED_DOCUMENT
from .wrong_document import WRONG_DOCUMENT
from .wrong_meaning import WRONG_MEANING

# Within QUOTE: the first kind to take a quote keeps it (the words, then the attribution, then the offsets).
# Within REPLY: a refusal first (it ends the reply), then the meaning and the schema, then the syntax.
_BUILT_IN: tuple[Fault, ...] = (OUTAGE, RESET, OVERLOAD, INVENTED_QUOTE, PARAPHRASE_AS_QUOTE, REVERSED_QUOTE,
                                WRONG_DOCUMENT, UNPROVIDED_DOCUMENT, OFFSET_ERROR, REFUSAL, WRONG_MEANING,
                                SCHEMA_VIOLATION, MALFORMED_JSON, STREAM_ERROR)
_registered: list[Fault] = list(_BUILT_IN)


def kinds() -> tuple[Fault, ...]:
    """The kinds registered now: the built-in ones, then those `register` added, in order."""
    return tuple(_registered)


def register(kind: Fault) -> None:
    """Add `kind` to every world made from now on (after the kinds of its stage already registered)."""
    if any(k.name == kind.name for k in _registered):
        raise ValueError(f"a fault kind named {kind.name!r} is already registered")
    _registered.append(kind)


def unregister(name: str) -> None:
    """Remove the kind `register` added as `name` (built-in kinds stay)."""
    if any(k.name == name for k in _BUILT_IN):
        raise ValueError(f"{name!r} is a built-in fault kind; it cannot be unregistered")
    _registered[:] = [k for k in _registered if k.name != name]


def check_rates(rates: Mapping[str, float], registered: tuple[Fault, ...]) -> None:
    """Refuse a scenario's `rates` entry that no kind reads: a typo would otherwise inject nothing, silently."""
    readers = {k.name for k in registered if k.rate_field is None and k.drawn}
    for name in rates:
        if name not in readers:
            owner = next((k for k in registered if k.name == name), None)
            where = (f"; its rate is Scenario.{owner.rate_field}" if owner is not None and owner.rate_field
                     else f"; rates can set: {', '.join(sorted(readers)) or 'none (no kind registered reads them)'}")
            raise ValueError(f"Scenario.rates names {name!r}, which no registered fault kind reads{where}")
