"""ExtractResourceId: the id a get/delete targets, from an id-wrapper request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import InvalidArgument
from pipeline.keys import TARGET_ID


@dataclass(frozen=True, slots=True)
class ExtractResourceId:
    """Reads ``ctx.input.<field>`` (default ``value``, as in ``SessionId``); writes
    ``ctx[TARGET_ID]``. Raises InvalidArgument naming the field when it is empty."""

    field: str = "value"

    def __call__(self, ctx: RequestContext[Any]) -> None:
        record_id = getattr(ctx.input, self.field)
        if not record_id:
            raise InvalidArgument.for_field(self.field, "is required", "required")
        ctx[TARGET_ID] = record_id
