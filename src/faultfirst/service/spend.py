"""The spend cap: refuse, before sending, any call whose worst case would exceed the world's budget.

The worst case of a call is its prompt tokens plus the output it allows
(`max_tokens`, or the model's output limit when not given) at catalogue
prices; of a batch, the sum over its requests at the batch discount.

What counts against the cap is what has been billed (the costs in
`world.requests`) plus what is *held*: the worst case of every call that has
been sent and not yet answered, and of every batch that has been accepted and
not yet billed. Holding at send time is what stops concurrent calls from
overshooting: forty calls gathered at once each see the other thirty-nine's
worst case, not a spend of zero. A hold is released when its cost is known -
at once in the simulated world, which bills a call when it plans it; when the
answer ends in live mode; when a simulated batch's items are billed. A live
batch's hold is never released: its real bill arrives outside the world's view.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import httpx2

from ..model.catalog import Catalog
from ..wire.client_errors import SpendCapExceeded
from ..wire.dialects import GENERATING_ROUTES, parse_request
from ..wire.parse import InvalidRequest, decode_body
from .batch_files import BATCH_DISCOUNT, OPENAI_BATCH_ENDPOINTS, multipart_file
from .records import RequestRecord


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.4f}"


@dataclass(eq=False)
class Hold:
    """The worst case of one call or batch, counted against the cap until its real cost is known."""

    usd: float
    batch: bool  # a batch's hold outlives its request: it goes when the batch's items are billed


class SpendLedger:
    """One world's billed and held spending, and the admission check in front of every request."""

    def __init__(self, cap_usd: Callable[[], float | None], catalog: Catalog, log: list[RequestRecord]) -> None:
        self._cap_usd, self._catalog, self._log = cap_usd, catalog, log
        self._holds: dict[Hold, None] = {}  # insertion-ordered set
        self._batches: dict[str, Hold] = {}  # batch id -> its hold, until its items are billed
        self._batch_files: dict[str, float] = {}  # uploaded OpenAI batch input file id -> its worst case

    def spent(self) -> float:
        """Dollars billed so far: the cost of every attempt in the log."""
        return sum(record.cost_usd for record in self._log)

    def held(self) -> float:
        """Dollars held for calls in flight and batches not yet billed."""
        return sum(hold.usd for hold in self._holds)

    # -- before sending -----------------------------------------------------------------------------

    def admit(self, request: httpx2.Request) -> Hold | None:
        """Hold this request's worst case, or raise SpendCapExceeded; None when there is no cap or nothing billable."""
        cap = self._cap_usd()
        if cap is None:
            return None
        worst = self._worst_case(request)
        if worst is None:
            return None
        usd, description, batch = worst
        spent, held = self.spent(), self.held()
        if spent + held + usd > cap:
            in_flight = f" and {_usd(held)} held for calls and batches not yet billed" if held else ""
            raise SpendCapExceeded(
                f"refused before sending: {description} could cost up to {_usd(usd)} at catalogue prices, and the "
                f"world's spend cap is {_usd(cap)} with {_usd(spent)} spent{in_flight} "
                f"({_usd(max(0.0, cap - spent - held))} left). Lower max_tokens, send fewer requests at once, "
                "or raise the cap: World(spend_cap_usd=...).",
                cap_usd=cap, spent_usd=spent, worst_case_usd=usd)
        if usd == 0:
            return None
        hold = Hold(usd, batch)
        self._holds[hold] = None
        return hold

    # -- after the answer ---------------------------------------------------------------------------

    def settle(self, hold: Hold | None, request: httpx2.Request, status: int | None, content: bytes) -> None:
        """The answer is in: a call's hold goes (its cost is in the log), an accepted batch's hold stays until billed.

        Also remembers the worst case of an uploaded OpenAI batch input file, which the batch that names it
        will be checked against. Does nothing without a cap.
        """
        accepted = status is not None and 200 <= status < 300
        if accepted and request.method == "POST" and self._cap_usd() is not None and request.url.path == "/v1/files":
            worst = self._file_worst_case(request)
            ident = _json_id(content)
            if worst is not None and ident is not None:
                self._batch_files[ident] = worst
        if hold is None:
            return
        ident = _json_id(content) if accepted and hold.batch else None
        if ident is not None:
            self._batches[ident] = hold
        else:
            self.release(hold)

    def release(self, hold: Hold | None) -> None:
        """Stop counting a hold (its real cost is in the log now, or nothing was spent)."""
        if hold is not None:
            self._holds.pop(hold, None)

    def batch_billed(self, batch_id: str) -> None:
        """A simulated batch's items are in the log: its hold has done its job."""
        self.release(self._batches.pop(batch_id, None))

    # -- worst cases --------------------------------------------------------------------------------

    def _worst_case(self, request: httpx2.Request) -> tuple[float, str, bool] | None:
        """(dollars, what it is, whether it is a batch) for a request that can be billed; None for one that cannot."""
        if request.method != "POST":
            return None  # polling, listing, downloading results: free
        path = request.url.path
        endpoint = GENERATING_ROUTES.get(path)
        if endpoint is not None:
            worst = self._call_worst_case(endpoint, request.content or b"{}")
            return None if worst is None else (*worst, False)
        body = decode_body(request.content or b"{}") or {}
        if path == "/v1/messages/batches":
            params = [r.get("params") for r in body.get("requests") or [] if isinstance(r, dict)]
            usd = sum(self._item_worst_case("messages", p) for p in params if isinstance(p, dict))
            return usd * BATCH_DISCOUNT, f"this batch of {len(params):,} requests", True
        if path == "/v1/batches":
            file_usd = self._batch_files.get(str(body.get("input_file_id")))
            return None if file_usd is None else (file_usd, f"the batch over file {body.get('input_file_id')}", True)
        return None

    def _call_worst_case(self, endpoint: str, content: bytes) -> tuple[float, str] | None:
        body = decode_body(content)
        spec = self._catalog.resolve(body.get("model")) if body else None
        if spec is None:
            return None  # the API will refuse it, for free
        try:
            parsed = parse_request(endpoint, spec, content)
        except InvalidRequest:
            return None  # likewise refused before any generation
        output = parsed.max_tokens or spec.max_output_tokens
        return (spec.cost_usd(parsed.input_tokens, output),
                f"this {spec.name} call ({parsed.input_tokens:,} prompt tokens + {output:,} output tokens)")

    def _item_worst_case(self, endpoint: str, body: dict[str, object]) -> float:
        worst = self._call_worst_case(endpoint, json.dumps(body, sort_keys=True).encode())
        return 0.0 if worst is None else worst[0]

    def _file_worst_case(self, request: httpx2.Request) -> float | None:
        """The discounted worst case of an uploaded JSONL batch input file; None if it is not one."""
        try:
            _, content = multipart_file(request)
        except InvalidRequest:
            return None
        usd, lines = 0.0, 0
        for line in content.decode("utf-8", "replace").splitlines():
            entry = decode_body(line.encode()) if line.strip() else None
            endpoint = OPENAI_BATCH_ENDPOINTS.get(str((entry or {}).get("url")))
            if entry is not None and endpoint is not None and isinstance(entry.get("body"), dict):
                usd += self._item_worst_case(endpoint, entry["body"])
                lines += 1
        return usd * BATCH_DISCOUNT if lines else None


def _json_id(content: bytes) -> str | None:
    body = decode_body(content) if content else None
    ident = (body or {}).get("id")
    return ident if isinstance(ident, str) else None
