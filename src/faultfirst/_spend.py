"""The spend cap: refuse, before sending, any call whose worst case would exceed the world's budget.

The worst case is the request's prompt tokens plus the output it allows
(`max_tokens`, or the model's output limit when not given) at catalogue
prices. Spend so far is the cost recorded in `world.requests`. Refusing before
sending means a cap can never be overshot by the call that crosses it.
"""

from __future__ import annotations

import httpx2

from ._catalog import Catalog
from ._errors import SpendCapExceeded
from ._parse import GENERATING_ROUTES, InvalidRequest, decode_body, parse_request
from ._records import RequestRecord



def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.4f}"


def check_spend(cap_usd: float | None, log: list[RequestRecord], catalog: Catalog, request: httpx2.Request) -> None:
    """Raise SpendCapExceeded if this request could take spending past `cap_usd`; do nothing without a cap."""
    if cap_usd is None:
        return
    endpoint = GENERATING_ROUTES.get(request.url.path)
    if endpoint is None or request.method != "POST":
        return  # counting tokens, polling a batch, listing: nothing generated, nothing billed
    body = decode_body(request.content or b"{}")
    spec = catalog.resolve(body.get("model")) if body else None
    if spec is None:
        return  # the API will refuse it, for free
    try:
        parsed = parse_request(endpoint, spec, request.content or b"{}")
    except InvalidRequest:
        return  # likewise refused before any generation
    worst = spec.cost_usd(parsed.input_tokens, parsed.max_tokens or spec.max_output_tokens)
    spent = sum(record.cost_usd for record in log)
    if spent + worst > cap_usd:
        raise SpendCapExceeded(
            f"refused before sending: this {spec.name} call could cost up to {_usd(worst)} "
            f"({parsed.input_tokens:,} prompt tokens + {parsed.max_tokens or spec.max_output_tokens:,} output tokens "
            f"at catalogue prices), and the world's spend cap is {_usd(cap_usd)} with {_usd(spent)} spent "
            f"({_usd(max(0.0, cap_usd - spent))} left). Lower max_tokens, or raise the cap: World(spend_cap_usd=...).",
            cap_usd=cap_usd, spent_usd=spent, worst_case_usd=worst)
