"""DeleteChildren: deleting a resource deletes its child records, in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING


@dataclass(frozen=True, slots=True)
class DeleteChildren:
    """Reads ``ctx[EXISTING]``; removes every child record (e.g. message) stored under it."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx.tx.children.delete_all(ctx.kind.name, ctx[EXISTING].metadata.id)
