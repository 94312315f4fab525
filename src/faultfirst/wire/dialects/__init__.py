"""One dialect per provider: everything that differs between the providers' APIs, behind one object each.

The engine, the batch service, the attempt hooks, `faultfirst serve` and live mode look a provider's
dialect up once (`DIALECTS[provider]`) and ask it; none of them tests a provider's name. Adding a provider
is adding a module to this package (docs/architecture.md, "Adding a provider"): every module here but
`base` holds one provider's dialect as its `DIALECT`, and is found by being here, so that a new provider
is one new file and no list to extend. Each must serve a provider of the catalogue, and every provider of
the catalogue needs one (tests/test_dialects.py holds both to it).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import lru_cache

from ...model.catalog import ModelSpec
from ..parse import ParsedRequest, decode_body
from .base import Dialect, Generation

__all__ = ["DIALECTS", "GENERATING_ROUTES", "Dialect", "Generation", "dialect_for", "parse_request"]


def _dialects() -> dict[str, Dialect]:
    """Provider -> dialect, for every module of this package but `base`, in file-name order."""
    found: dict[str, Dialect] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"):
        dialect = importlib.import_module(f"{__name__}.{module}").DIALECT
        if not isinstance(dialect, Dialect) or dialect.provider in found:
            raise TypeError(f"wire/dialects/{module}.py: DIALECT must be a Dialect of a provider no other module has")
        found[dialect.provider] = dialect
    return found


DIALECTS: Mapping[str, Dialect] = _dialects()

# The routes that generate (and bill) a reply, every provider's: path -> the endpoint parse_request reads it as.
GENERATING_ROUTES: Mapping[str, str] = {path: endpoint for d in DIALECTS.values()
                                        for path, endpoint in d.generating.items()}

_DIALECT_OF_ENDPOINT = {endpoint: d for d in DIALECTS.values()
                        for endpoint in (*d.generating.values(), *d.counting.values())}


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
    say (GET /v1/models, which every API has, and paths none has, whose 404 should come in the asker's
    shape) does a header its SDK always sends decide; a request with none is for the first dialect that
    has no such header (OpenAI's, whose wire most other clients speak).
    """
    for dialect in DIALECTS.values():
        if dialect.serves(path):
            return dialect
    for dialect in DIALECTS.values():
        if dialect.sdk_header is not None and dialect.sdk_header in headers:
            return dialect
    return next(d for d in DIALECTS.values() if d.sdk_header is None)
