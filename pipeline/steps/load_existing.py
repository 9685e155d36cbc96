"""LoadExisting: an update targets a stored record, named by metadata.id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import InvalidArgument
from pipeline.keys import EXISTING
from pipeline.steps.load_target import load_or_not_found


@dataclass(frozen=True, slots=True)
class LoadExisting:
    """Reads ``ctx.input.metadata.id``; writes ``ctx[EXISTING]``. Raises InvalidArgument when the
    id is empty and NotFound when no such record exists."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        record_id = ctx.input.metadata.id
        if not record_id:
            raise InvalidArgument.for_field(
                "metadata.id",
                "is required to update; use apply to create-or-update by name",
                "metadata.id.required",
            )
        ctx[EXISTING] = load_or_not_found(ctx, record_id)
