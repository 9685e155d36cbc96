"""CheckIdempotency: a retried write (same request id, same payload) gets its first answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline import idempotency
from pipeline.context import RequestContext
from pipeline.errors import AlreadyExists, quote
from pipeline.keys import EXPECTED_VERSION, PRINCIPAL, REPLAYED, REQUEST_ID, RESPONSE


@dataclass(frozen=True, slots=True)
class CheckIdempotency:
    """Reads ``ctx[REQUEST_ID]`` (optional), ``ctx.input``, ``ctx.operation`` and
    ``ctx[EXPECTED_VERSION]``; on a remembered, unexpired request writes ``ctx[RESPONSE]``,
    ``ctx[REPLAYED]`` and finishes the pipeline, so nothing is written again.

    Request ids are the caller's own (``ctx[PRINCIPAL]``, :func:`pipeline.idempotency.scoped`):
    another principal's is neither replayed nor refused, as if never used.

    Raises AlreadyExists when the request id was used for a different request (another
    operation, payload or precondition): silently answering it with the other request's
    result would hide a client bug.
    """

    #: What the pipeline answers with (default: the kind's resource message).
    response_type: type[Message] | None = None

    def __call__(self, ctx: RequestContext[Any]) -> None:
        request_id = ctx.get(REQUEST_ID)
        if not request_id:
            return
        principal = ctx.get(PRINCIPAL)
        key = idempotency.scoped(request_id, None if principal is None else principal.id)
        entry = ctx.tx.requests.lookup(ctx.kind.name, key, ctx.now_ns)
        if entry is None:
            return
        digest = idempotency.fingerprint(ctx.operation, ctx.input, ctx.get(EXPECTED_VERSION, ""))
        if entry.fingerprint != digest:
            raise AlreadyExists(
                f"request id {quote(request_id)} was already used for a different request; "
                f"use a new request id for a new request"
            )
        ctx[RESPONSE] = (self.response_type or ctx.kind.message_type).FromString(entry.response)
        ctx[REPLAYED] = True
        ctx.finish()
