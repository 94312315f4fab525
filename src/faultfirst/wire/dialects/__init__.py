"""One dialect per provider: everything that differs between the providers' APIs, behind one object each.

The engine, the batch service, the attempt hooks, `faultfirst serve` and live mode look a provider's
dialect up once (`DIALECTS[provider]`) and ask it; none of them tests a provider's name. Adding a provider
is adding a module to this package (docs/architecture.md, "Adding a provider"): every module here but
`base` holds one provider's dialect as its `DIALECT`, and is found by being here, so that a new provider
is one new file and no list to extend. The dialects are the catalogue's providers, one each, in the
catalogue's order, which decides who answers a path several providers share (an OpenAI-compatible
API's): the provider named first, unless a later one's SDK says it sent the request.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import lru_cache

from ...model.catalog import PROVIDERS, ModelSpec
from ..parse import ParsedRequest, decode_body
from .base import Dialect, Generation

__all__ = ["DIALECTS", "GENERATING_ROUTES", "Dialect", "Generation", "dialect_for", "parse_request"]


def _dialects() -> dict[str, Dialect]:
    """Provider -> dialect, from every module of this package but `base`, in the catalogue's order."""
    found: dict[str, Dialect] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"):
        dialect = importlib.import_module(f"{__name__}.{module}").DIALECT
        if not isinstance(dialect, Dialect) or dialect.provider in found:
            raise TypeError(f"wire/dialects/{module}.py: DIALECT must be a Dialect of a provider no other module has")
        found[dialect.provider] = dialect
    if sorted(found) != sorted(PROVIDERS):
        raise TypeError(f"the catalogue's providers ({', '.join(PROVIDERS)}, model/catalog.py) and the dialects' "
                        f"({', '.join(found)}, wire/dialects/) must be the same")
    return {provider: found[provider] for provider in PROVIDERS}


DIALECTS: Mapping[str, Dialect] = _dialects()

# The routes that generate (and bill) a reply, every provider's: path -> the endpoint parse_request reads it as.
GENERATING_ROUTES: Mapping[str, str] = {path: endpoint for d in DIALECTS.values()
                                        for path, endpoint in d.generating.items()}


def _parsers() -> dict[str, Dialect]:
    """Endpoint name -> the dialect that reads it: the first provider's that has it.

    An endpoint's name means one wire, so a provider that shares another's endpoint (an OpenAI-compatible
    API's chat.completions) reads it alike, and the spend ledger and live mode, which know only the path,
    read it without knowing which of them it went to.
    """
    parsers: dict[str, Dialect] = {}
    for dialect in DIALECTS.values():
        for endpoint in (*dialect.generating.values(), *dialect.counting.values()):
            parsers.setdefault(endpoint, dialect)
    return parsers


_DIALECT_OF_ENDPOINT = _parsers()


# Retries, loops and lessons send the same bytes again and again; reading them once is enough.
# Callers only read the cached values. Failures (InvalidRequest) are not cached. Sized for a lesson that
# sends a thousand distinct documents and their retries.
@lru_cache(maxsize=8192)
def parse_request(endpoint: str, spec: ModelSpec, content: bytes) -> ParsedRequest:
    """The request as the simulated API reads it, for an endpoint of any provider (a JSON object body)."""
    return _DIALECT_OF_ENDPOINT[endpoint].parse(endpoint, decode_body(content) or {}, spec)


def dialect_for(path: str, headers: Mapping[str, str]) -> Dialect:
    """Which API a request over HTTP is for (`faultfirst serve`): the path decides wherever one API has it.

    A client may send `anthropic-version` to an OpenAI route (a gateway that adds every provider's headers,
    a library configured for both), and that request is still an OpenAI one. Only where the path cannot
    say (GET /v1/models, which every API has, paths none has, whose 404 should come in the asker's shape,
    and paths several providers share) does a header its SDK always sends decide; without one, the
    request is for the first of those providers, or for the first with no such header (OpenAI's, whose
    wire most other clients speak).
    """
    serving = [d for d in DIALECTS.values() if d.serves(path)]
    if len(serving) == 1:
        return serving[0]
    for dialect in serving or DIALECTS.values():
        if dialect.sdk_header is not None and dialect.sdk_header in headers:
            return dialect
    return serving[0] if serving else next(d for d in DIALECTS.values() if d.sdk_header is None)
