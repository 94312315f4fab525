"""The providers' batch APIs, simulated: OpenAI Files + Batches, Anthropic Message Batches.

A batch is accepted at once and finishes after a seeded stretch of virtual
time (minutes, growing with its size); until then polling shows it in
progress. Each item is answered by the same engine as a direct call (same
replies, truncation and, in fault scenarios, item-level errors), billed at half
the catalogue price (both providers price batch work at a 50% discount), and
logged in `world.requests` with endpoint `batch:<endpoint>`, starting when the
batch was created and ending when it finished.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2

from ..wire import anthropic_render
from ..wire import openai_render
from .batch_files import BATCH_DISCOUNT, OPENAI_BATCH_ENDPOINTS, multipart_file
from .outcome import Outcome
from ..wire.parse import InvalidRequest
from .records import RequestRecord
from ..wire.framing import EPOCH



class BatchHost(Protocol):
    """What the batch service needs of the engine that serves it: answers in its wire, its spend ledger.

    A protocol, not the engine's class, so that this module sits below the engine that owns it."""

    spend: Any  # a SpendLedger, told when a batch's items are billed

    def answer_json(self, record: RequestRecord, data: dict[str, Any], rid: str, delay: float,
                    status: int = 200, headers: dict[str, str] | None = None) -> Outcome: ...

    def answer_invalid(self, provider: str, record: RequestRecord, rid: str, err: InvalidRequest) -> Outcome: ...

    def answer_batch_item(self, provider: str, endpoint: str, body: dict[str, Any], start: float,
                          end: float) -> tuple[int, dict[str, Any]]: ...

_BASE_SECONDS, _PER_ITEM_SECONDS = 300.0, 1.5
_ANTHROPIC_ROUTES = re.compile(r"^/v1/messages/batches(?:/(?P<id>[\w-]+)(?:/(?P<action>results|cancel))?)?$")
_OPENAI_ROUTES = re.compile(r"^/v1/(?P<kind>files|batches)(?:/(?P<id>[\w-]+)(?:/(?P<action>content|cancel))?)?$")


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH + int(t)))


@dataclass
class _Item:
    custom_id: str
    endpoint: str  # 'chat.completions', 'responses' or 'messages'
    body: dict[str, Any]
    status: int = 0
    result: dict[str, Any] | None = None  # the response body, or the error body


@dataclass
class _Batch:
    id: str
    provider: str
    created: float
    ends: float
    items: list[_Item]
    input_file_id: str | None = None
    endpoint: str = ""
    cancelled_at: float | None = None
    processed: bool = False
    files: dict[str, str] = field(default_factory=dict)  # 'output' / 'error' -> file id


class BatchService:
    """Holds one world's files and batches, and answers the batch routes."""

    def __init__(self, api: BatchHost, seed: int) -> None:
        self._api = api
        self._durations = random.Random(f"{seed}:batches")
        self._files: dict[str, tuple[str, bytes]] = {}  # id -> (filename, content)
        self._batches: dict[str, _Batch] = {}

    def handles(self, provider: str, path: str) -> bool:
        pattern = _OPENAI_ROUTES if provider == "openai" else _ANTHROPIC_ROUTES
        return pattern.match(path) is not None

    def serve(self, provider: str, request: httpx2.Request, record: RequestRecord, rid: str, now: float) -> Outcome:
        record.endpoint = "files" if "/files" in request.url.path else "batches"
        try:
            if provider == "openai":
                return self._openai(request, record, rid, now)
            return self._anthropic(request, record, rid, now)
        except InvalidRequest as err:
            return self._api.answer_invalid(provider, record, rid, err)
        except KeyError as err:
            return self._api.answer_json(record, self._not_found(provider, str(err.args[0]), rid), rid, 0.05, 404)

    # -- OpenAI ---------------------------------------------------------------------------------------

    def _openai(self, request: httpx2.Request, record: RequestRecord, rid: str, now: float) -> Outcome:
        match = _OPENAI_ROUTES.match(request.url.path)
        assert match is not None
        kind, ident, action, method = match["kind"], match["id"], match["action"], request.method
        reply = self._api.answer_json
        if kind == "files" and method == "POST" and ident is None:
            name, content = multipart_file(request)
            file_id = f"file-{rid}"
            self._files[file_id] = (name, content)
            return reply(record, self._file_object(file_id, now), rid, 0.05)
        if kind == "files" and method == "GET" and ident is not None:
            if ident not in self._files:
                raise KeyError(ident)
            if action == "content":
                record.status, record.latency = 200, 0.05
                return Outcome(record, delay=0.05, headers={"content-type": "application/jsonl"},
                               body=self._files[ident][1])
            return reply(record, self._file_object(ident, now), rid, 0.05)
        if kind == "batches" and method == "POST" and ident is None:
            batch = self._create_openai(_json(request), rid, now)
            return reply(record, self._openai_batch(batch, now), rid, 0.05)
        if kind == "batches" and method == "GET" and ident is None:
            data = [self._openai_batch(b, now) for b in self._batches.values() if b.provider == "openai"][::-1]
            return reply(record, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None, "has_more": False}, rid, 0.05)
        if kind == "batches" and ident is not None:
            batch = self._batch(ident, "openai")
            if action == "cancel" and method == "POST":
                self._cancel(batch, now)
            return reply(record, self._openai_batch(batch, now), rid, 0.05)
        raise KeyError(request.url.path)

    def _create_openai(self, body: dict[str, Any], rid: str, now: float) -> _Batch:
        file_id = body.get("input_file_id")
        if file_id not in self._files:
            raise InvalidRequest(f"Invalid 'input_file_id': {file_id!r}. No such file.", "input_file_id")
        endpoint = body.get("endpoint")
        if endpoint not in OPENAI_BATCH_ENDPOINTS:
            raise InvalidRequest(f"Invalid 'endpoint': {endpoint!r}. The simulated world batches "
                                 f"{', '.join(OPENAI_BATCH_ENDPOINTS)}.", "endpoint")
        items = []
        for number, line in enumerate(self._files[file_id][1].decode().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise InvalidRequest(f"line {number} of the input file is not valid JSON", "input_file_id") from None
            if entry.get("url") != endpoint or not isinstance(entry.get("body"), dict) or "custom_id" not in entry:
                raise InvalidRequest(f"line {number} of the input file needs custom_id, method, url={endpoint!r} "
                                     "and a body", "input_file_id")
            items.append(_Item(str(entry["custom_id"]), OPENAI_BATCH_ENDPOINTS[endpoint], entry["body"]))
        return self._start(f"batch_{rid}", "openai", items, now, input_file_id=file_id, endpoint=endpoint)

    def _openai_batch(self, batch: _Batch, now: float) -> dict[str, Any]:
        self._process_if_due(batch, now)
        done = batch.processed
        status = "cancelled" if batch.cancelled_at is not None else ("completed" if done else "in_progress")
        failed = sum(1 for i in batch.items if i.status >= 400) if done else 0
        return {
            "id": batch.id, "object": "batch", "endpoint": batch.endpoint, "errors": None,
            "input_file_id": batch.input_file_id, "completion_window": "24h", "status": status,
            "output_file_id": batch.files.get("output"), "error_file_id": batch.files.get("error"),
            "created_at": EPOCH + int(batch.created), "in_progress_at": EPOCH + int(batch.created),
            "expires_at": EPOCH + int(batch.created) + 86_400,
            "completed_at": EPOCH + int(batch.ends) if done else None,
            "cancelled_at": EPOCH + int(batch.cancelled_at) if batch.cancelled_at is not None else None,
            "request_counts": {"total": len(batch.items), "completed": len(batch.items) - failed if done else 0,
                               "failed": failed},
            "metadata": None,
        }

    def _file_object(self, file_id: str, now: float) -> dict[str, Any]:
        name, content = self._files[file_id]
        return {"id": file_id, "object": "file", "bytes": len(content), "created_at": EPOCH + int(now),
                "filename": name, "purpose": "batch", "status": "processed"}

    # -- Anthropic --------------------------------------------------------------------------------------

    def _anthropic(self, request: httpx2.Request, record: RequestRecord, rid: str, now: float) -> Outcome:
        match = _ANTHROPIC_ROUTES.match(request.url.path)
        assert match is not None
        ident, action, method = match["id"], match["action"], request.method
        reply = self._api.answer_json
        if ident is None and method == "POST":
            requests = _json(request).get("requests")
            if not isinstance(requests, list) or not requests:
                raise InvalidRequest("requests: at least one request is required")
            items = [_Item(str(r.get("custom_id")), "messages", r.get("params") or {}) for r in requests]
            batch = self._start(f"msgbatch_{rid}", "anthropic", items, now)
            return reply(record, self._anthropic_batch(batch, now), rid, 0.05)
        if ident is None and method == "GET":
            data = [self._anthropic_batch(b, now) for b in self._batches.values() if b.provider == "anthropic"][::-1]
            return reply(record, {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None}, rid, 0.05)
        batch = self._batch(ident, "anthropic")
        if action == "cancel" and method == "POST":
            self._cancel(batch, now)
        if action == "results":
            self._process_if_due(batch, now)
            if not batch.processed:
                raise InvalidRequest(f"Batch {ident} is still processing; results are available when it has ended.")
            lines = [json.dumps({"custom_id": i.custom_id, "result": i.result}) for i in batch.items]
            record.status, record.latency = 200, 0.05
            return Outcome(record, delay=0.05, headers={"content-type": "application/binary"},
                           body=("\n".join(lines) + "\n").encode())
        return reply(record, self._anthropic_batch(batch, now), rid, 0.05)

    def _anthropic_batch(self, batch: _Batch, now: float) -> dict[str, Any]:
        self._process_if_due(batch, now)
        done = batch.processed
        counts = {"processing": 0 if done else len(batch.items), "succeeded": 0, "errored": 0, "canceled": 0,
                  "expired": 0}
        if done:
            for item in batch.items:
                counts[item.result["type"]] += 1  # type: ignore[index]
        return {
            "id": batch.id, "type": "message_batch",
            "processing_status": "ended" if done else ("canceling" if batch.cancelled_at is not None else "in_progress"),
            "request_counts": counts, "created_at": _iso(batch.created), "expires_at": _iso(batch.created + 86_400),
            "ended_at": _iso(batch.ends) if done else None, "archived_at": None,
            "cancel_initiated_at": _iso(batch.cancelled_at) if batch.cancelled_at is not None else None,
            "results_url": f"https://api.anthropic.com/v1/messages/batches/{batch.id}/results" if done else None,
        }

    # -- shared -------------------------------------------------------------------------------------------

    def _start(self, batch_id: str, provider: str, items: list[_Item], now: float, **extra: Any) -> _Batch:
        duration = (_BASE_SECONDS + _PER_ITEM_SECONDS * len(items)) * self._durations.uniform(0.8, 2.5)
        batch = _Batch(batch_id, provider, now, now + duration, items, **extra)
        self._batches[batch_id] = batch
        return batch

    def _batch(self, ident: str, provider: str) -> _Batch:
        batch = self._batches.get(ident)
        if batch is None or batch.provider != provider:
            raise KeyError(ident)
        return batch

    def _cancel(self, batch: _Batch, now: float) -> None:
        if not batch.processed and batch.cancelled_at is None:
            batch.cancelled_at = now
            batch.ends = now  # the simulated batch stops at once; unfinished items are cancelled

    def _process_if_due(self, batch: _Batch, now: float) -> None:
        """Answer every item once the batch's time has come (lazily: on the first look after it ends)."""
        if batch.processed or now < batch.ends:
            return
        batch.processed = True
        for item in batch.items:
            if batch.cancelled_at is not None:
                item.status, item.result = 499, _cancelled(batch.provider)
            else:
                item.status, item.result = self._api.answer_batch_item(batch.provider, item.endpoint, item.body,
                                                                        batch.created, batch.ends)
        if batch.provider == "openai":
            self._write_openai_files(batch)
        if self._api.spend is not None:
            self._api.spend.batch_billed(batch.id)

    def _write_openai_files(self, batch: _Batch) -> None:
        for kind, keep in (("output", lambda s: s < 400), ("error", lambda s: s >= 400)):
            lines = [json.dumps({"id": f"batch_req_{n:06d}", "custom_id": i.custom_id,
                                 "response": {"status_code": i.status, "request_id": f"req_{batch.id}_{n}",
                                              "body": i.result}, "error": None})
                     for n, i in enumerate(batch.items) if keep(i.status)]
            if lines:
                file_id = f"file-{batch.id}-{kind}"
                self._files[file_id] = (f"{batch.id}_{kind}.jsonl", ("\n".join(lines) + "\n").encode())
                batch.files[kind] = file_id

    @staticmethod
    def _not_found(provider: str, what: str, rid: str) -> dict[str, Any]:
        if provider == "openai":
            return openai_render.error(f"No such object: {what}", "invalid_request_error")
        return anthropic_render.error("not_found_error", f"No such object: {what}", rid)


def _cancelled(provider: str) -> dict[str, Any]:
    if provider == "openai":
        return openai_render.error("The batch was cancelled before this request ran.", "batch_cancelled")
    return {"type": "canceled"}


def _json(request: httpx2.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body
