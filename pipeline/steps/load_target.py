"""LoadTarget: read the record a query names by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.authorization import access
from pipeline.context import RequestContext
from pipeline.errors import NotFound
from pipeline.keys import RESPONSE, TARGET_ID


def load_or_not_found(ctx: RequestContext[Any], record_id: str) -> Any:
    """The stored record ``record_id`` of ``ctx.kind``, or NotFound naming it.

    With a principal (``ctx[ACCESS]``, see :mod:`pipeline.authorization`), a record of an
    org it may not read is that same NotFound, so existence never leaks; one it may read
    but not act on with the operation's role is PermissionDenied naming the org. Every
    loader goes through here, so every by-id operation is checked once the org is known.
    """
    record = ctx.records.get(record_id)
    if record is None:
        raise _missing(ctx, record_id)
    granted = access(ctx)
    if granted is not None:
        granted.check_record(record.metadata.org, lambda: _missing(ctx, record_id))
    return record


def _missing(ctx: RequestContext[Any], record_id: str) -> NotFound:
    # built only when it is raised: a Get that finds its record pays nothing for it
    return NotFound(f"{ctx.kind.name} {record_id!r} not found")


@dataclass(frozen=True, slots=True)
class LoadTarget:
    """Reads ``ctx[TARGET_ID]``; writes ``ctx[RESPONSE]``. Raises NotFound naming the id."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx[RESPONSE] = load_or_not_found(ctx, ctx[TARGET_ID])
