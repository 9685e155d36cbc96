"""RememberRequest: record a write's response under its request id, in the write's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline import idempotency
from pipeline.context import RequestContext
from pipeline.keys import EXPECTED_VERSION, PRINCIPAL, REQUEST_ID, RESPONSE


@dataclass(frozen=True, slots=True)
class RememberRequest:
    """Reads ``ctx[REQUEST_ID]`` (optional; the principal's own, ``ctx[PRINCIPAL]``) and
    ``ctx[RESPONSE]``; stores them for ``ttl_ns`` (default 24 h) and purges a few expired
    entries; without a request id it does nothing.
    Last step of a write pipeline: it runs only if everything before succeeded, and its
    entry commits or aborts with the change.
    """

    ttl_ns: int = idempotency.DEFAULT_TTL_NS

    def __call__(self, ctx: RequestContext[Any]) -> None:
        request_id = ctx.get(REQUEST_ID)
        if not request_id:
            return
        # Only writes with a request id add entries, so purging on exactly those bounds the
        # table (each adds one, removes up to PURGE_PER_WRITE) and plain writes pay nothing.
        requests = ctx.tx.requests
        requests.purge_expired(ctx.now_ns, idempotency.PURGE_PER_WRITE)
        digest = idempotency.fingerprint(ctx.operation, ctx.input, ctx.get(EXPECTED_VERSION, ""))
        principal = ctx.get(PRINCIPAL)
        requests.remember(
            ctx.kind.name,
            idempotency.scoped(request_id, None if principal is None else principal.id),
            fingerprint=digest,
            response=ctx[RESPONSE].SerializeToString(),
            expires_at_ns=ctx.now_ns + self.ttl_ns,
        )
