"""DeleteResource: remove a record and every index entry pointing at it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, RESPONSE


@dataclass(frozen=True, slots=True)
class DeleteResource:
    """Reads ``ctx[EXISTING]``; deletes it (record, unique and plain index entries, counters)
    in the pipeline's transaction; writes ``ctx[RESPONSE]`` = the deleted record."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        existing = ctx[EXISTING]
        ctx.records.delete(existing)
        ctx[RESPONSE] = existing
