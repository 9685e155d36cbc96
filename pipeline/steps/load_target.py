"""LoadTarget: read the record a query names by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import NotFound
from pipeline.keys import RESPONSE, TARGET_ID


def load_or_not_found(ctx: RequestContext[Any], record_id: str) -> Any:
    """The stored record ``record_id`` of ``ctx.kind``, or NotFound naming it."""
    record = ctx.records.get(record_id)
    if record is None:
        raise NotFound(f"{ctx.kind.name} {record_id!r} not found")
    return record


@dataclass(frozen=True, slots=True)
class LoadTarget:
    """Reads ``ctx[TARGET_ID]``; writes ``ctx[RESPONSE]``. Raises NotFound naming the id."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx[RESPONSE] = load_or_not_found(ctx, ctx[TARGET_ID])
