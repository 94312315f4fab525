"""What a batch request carries, read by the batch service and by the spend ledger that prices it first.

Apart from the batch service so that the ledger (which the engine holds) can price a batch before the
engine accepts it without importing the service the engine owns.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP

import httpx2

from ..wire.parse import InvalidRequest

BATCH_DISCOUNT = 0.5  # both providers bill batch work at half the catalogue price
OPENAI_BATCH_ENDPOINTS = {"/v1/chat/completions": "chat.completions", "/v1/responses": "responses"}


def multipart_file(request: httpx2.Request) -> tuple[str, bytes]:
    """The uploaded file of a multipart/form-data request, as the Files API receives it."""
    content_type = request.headers.get("content-type", "")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.content)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)  # decode=True: the part's bytes
            return part.get_filename() or "upload.jsonl", payload if isinstance(payload, bytes) else b""
    raise InvalidRequest("expected a multipart upload with a 'file' field", "file")
