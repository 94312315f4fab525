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
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2

from ..wire.dialects import DIALECTS
from ..wire.framing import EPOCH, rfc3339
from ..wire.parse import InvalidRequest
from .batch_files import OPENAI_BATCH_ENDPOINTS, multipart_file
from .outcome import Outcome
from .records import RequestRecord


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
    """Holds one world's files and batches, and answers the batch routes of every provider that has them.

    Each batch API (`Dialect.batch_api`) is served by its own class below; what they share (the files,
    the batches, their timing and processing) is here, and the items' result shapes are the dialect's.
    """

    def __init__(self, api: BatchHost, seed: int) -> None:
        self.api = api
        self._durations = random.Random(f"{seed}:batches")
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (filename, content)
        self.batches: dict[str, _Batch] = {}
        self._apis: dict[str, _FilesAndBatches | _MessageBatches] = {
            "files-and-batches": _FilesAndBatches(self), "message-batches": _MessageBatches(self)}

    def handles(self, provider: str, path: str) -> bool:
        routes = DIALECTS[provider].batch_routes
        return routes is not None and routes.match(path) is not None

    def serve(self, provider: str, request: httpx2.Request, record: RequestRecord, rid: str, now: float) -> Outcome:
        """Answer a request to one of the provider's batch routes (`handles` said it is one)."""
        dialect = DIALECTS[provider]
        assert dialect.batch_routes is not None and dialect.batch_api is not None
        match = dialect.batch_routes.match(request.url.path)
        assert match is not None
        record.endpoint = "files" if "/files" in request.url.path else "batches"
        try:
            return self._apis[dialect.batch_api].serve(provider, match, request, record, rid, now)
        except InvalidRequest as err:
            return self.api.answer_invalid(provider, record, rid, err)
        except KeyError as err:
            return self.api.answer_json(record, dialect.no_such_object(str(err.args[0]), rid), rid, 0.05, 404)

    def start(self, batch_id: str, provider: str, items: list[_Item], now: float, **extra: Any) -> _Batch:
        duration = (_BASE_SECONDS + _PER_ITEM_SECONDS * len(items)) * self._durations.uniform(0.8, 2.5)
        batch = _Batch(batch_id, provider, now, now + duration, items, **extra)
        self.batches[batch_id] = batch
        return batch

    def batch(self, ident: str, provider: str) -> _Batch:
        batch = self.batches.get(ident)
        if batch is None or batch.provider != provider:
            raise KeyError(ident)
        return batch

    def listed(self, provider: str) -> list[_Batch]:
        """The provider's batches, oldest first (the order they are processed in when a listing finds them due)."""
        return [b for b in self.batches.values() if b.provider == provider]

    @staticmethod
    def cancel(batch: _Batch, now: float) -> None:
        if not batch.processed and batch.cancelled_at is None:
            batch.cancelled_at = now
            batch.ends = now  # the simulated batch stops at once; unfinished items are cancelled

    def process_if_due(self, batch: _Batch, now: float) -> None:
        """Answer every item once the batch's time has come (lazily: on the first look after it ends)."""
        if batch.processed or now < batch.ends:
            return
        batch.processed = True
        dialect = DIALECTS[batch.provider]
        for item in batch.items:
            if batch.cancelled_at is not None:
                item.status, item.result = 499, dialect.batch_cancelled()
            else:
                item.status, item.result = self.api.answer_batch_item(batch.provider, item.endpoint, item.body,
                                                                       batch.created, batch.ends)
        assert dialect.batch_api is not None
        self._apis[dialect.batch_api].finished(batch)
        if self.api.spend is not None:
            self.api.spend.batch_billed(batch.id)


class _FilesAndBatches:
    """OpenAI's batch API: upload a JSONL file of requests, create a batch from it, download the output files."""

    def __init__(self, service: BatchService) -> None:
        self._service = service

    def serve(self, provider: str, match: re.Match[str], request: httpx2.Request, record: RequestRecord, rid: str,
              now: float) -> Outcome:
        service = self._service
        kind, ident, action, method = match["kind"], match["id"], match["action"], request.method
        reply = service.api.answer_json
        if kind == "files" and method == "POST" and ident is None:
            name, content = multipart_file(request)
            file_id = f"file-{rid}"
            service.files[file_id] = (name, content)
            return reply(record, self._file_object(file_id, now), rid, 0.05)
        if kind == "files" and method == "GET" and ident is not None:
            if ident not in service.files:
                raise KeyError(ident)
            if action == "content":
                record.status, record.latency = 200, 0.05
                return Outcome(record, delay=0.05, headers={"content-type": "application/jsonl"},
                               body=service.files[ident][1])
            return reply(record, self._file_object(ident, now), rid, 0.05)
        if kind == "batches" and method == "POST" and ident is None:
            batch = self._create(provider, _json(request), rid, now)
            return reply(record, self._batch_object(batch, now), rid, 0.05)
        if kind == "batches" and method == "GET" and ident is None:
            data = [self._batch_object(b, now) for b in service.listed(provider)][::-1]  # newest first
            return reply(record, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None, "has_more": False}, rid, 0.05)
        if kind == "batches" and ident is not None:
            batch = service.batch(ident, provider)
            if action == "cancel" and method == "POST":
                service.cancel(batch, now)
            return reply(record, self._batch_object(batch, now), rid, 0.05)
        raise KeyError(request.url.path)

    def _create(self, provider: str, body: dict[str, Any], rid: str, now: float) -> _Batch:
        files = self._service.files
        file_id = body.get("input_file_id")
        if file_id not in files:
            raise InvalidRequest(f"Invalid 'input_file_id': {file_id!r}. No such file.", "input_file_id")
        endpoint = body.get("endpoint")
        if endpoint not in OPENAI_BATCH_ENDPOINTS:
            raise InvalidRequest(f"Invalid 'endpoint': {endpoint!r}. The simulated world batches "
                                 f"{', '.join(OPENAI_BATCH_ENDPOINTS)}.", "endpoint")
        items = []
        for number, line in enumerate(files[file_id][1].decode().splitlines(), 1):
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
        return self._service.start(f"batch_{rid}", provider, items, now, input_file_id=file_id, endpoint=endpoint)

    def _batch_object(self, batch: _Batch, now: float) -> dict[str, Any]:
        self._service.process_if_due(batch, now)
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
        name, content = self._service.files[file_id]
        return {"id": file_id, "object": "file", "bytes": len(content), "created_at": EPOCH + int(now),
                "filename": name, "purpose": "batch", "status": "processed"}

    def finished(self, batch: _Batch) -> None:
        """Write the batch's output and error files, as the API does when a batch ends."""
        for kind, keep in (("output", lambda s: s < 400), ("error", lambda s: s >= 400)):
            lines = [json.dumps({"id": f"batch_req_{n:06d}", "custom_id": i.custom_id,
                                 "response": {"status_code": i.status, "request_id": f"req_{batch.id}_{n}",
                                              "body": i.result}, "error": None})
                     for n, i in enumerate(batch.items) if keep(i.status)]
            if lines:
                file_id = f"file-{batch.id}-{kind}"
                self._service.files[file_id] = (f"{batch.id}_{kind}.jsonl", ("\n".join(lines) + "\n").encode())
                batch.files[kind] = file_id


class _MessageBatches:
    """Anthropic's batch API: the requests in the create call's body, the results as a JSONL download."""

    def __init__(self, service: BatchService) -> None:
        self._service = service

    def serve(self, provider: str, match: re.Match[str], request: httpx2.Request, record: RequestRecord, rid: str,
              now: float) -> Outcome:
        service = self._service
        ident, action, method = match["id"], match["action"], request.method
        reply = service.api.answer_json
        if ident is None and method == "POST":
            requests = _json(request).get("requests")
            if not isinstance(requests, list) or not requests:
                raise InvalidRequest("requests: at least one request is required")
            items = [_Item(str(r.get("custom_id")), "messages", r.get("params") or {}) for r in requests]
            batch = service.start(f"msgbatch_{rid}", provider, items, now)
            return reply(record, self._batch_object(batch, now), rid, 0.05)
        if ident is None and method == "GET":
            data = [self._batch_object(b, now) for b in service.listed(provider)][::-1]  # newest first
            return reply(record, {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None}, rid, 0.05)
        batch = service.batch(ident, provider)
        if action == "cancel" and method == "POST":
            service.cancel(batch, now)
        if action == "results":
            service.process_if_due(batch, now)
            if not batch.processed:
                raise InvalidRequest(f"Batch {ident} is still processing; results are available when it has ended.")
            lines = [json.dumps({"custom_id": i.custom_id, "result": i.result}) for i in batch.items]
            record.status, record.latency = 200, 0.05
            return Outcome(record, delay=0.05, headers={"content-type": "application/binary"},
                           body=("\n".join(lines) + "\n").encode())
        return reply(record, self._batch_object(batch, now), rid, 0.05)

    def _batch_object(self, batch: _Batch, now: float) -> dict[str, Any]:
        self._service.process_if_due(batch, now)
        done = batch.processed
        counts = {"processing": 0 if done else len(batch.items), "succeeded": 0, "errored": 0, "canceled": 0,
                  "expired": 0}
        if done:
            for item in batch.items:
                counts[item.result["type"]] += 1  # type: ignore[index]
        return {
            "id": batch.id, "type": "message_batch",
            "processing_status": "ended" if done else (
                "canceling" if batch.cancelled_at is not None else "in_progress"),
            "request_counts": counts, "created_at": rfc3339(batch.created),
            "expires_at": rfc3339(batch.created + 86_400),
            "ended_at": rfc3339(batch.ends) if done else None, "archived_at": None,
            "cancel_initiated_at": rfc3339(batch.cancelled_at) if batch.cancelled_at is not None else None,
            "results_url": f"https://api.anthropic.com/v1/messages/batches/{batch.id}/results" if done else None,
        }

    def finished(self, batch: _Batch) -> None:
        """Nothing to write: the results are read from the batch itself."""


def _json(request: httpx2.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body
