"""RejectClientId: ids are assigned by the server; a create must not bring one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class RejectClientId:
    """Reads ``ctx.input.metadata.id``. Raises InvalidArgument (field ``metadata.id``) when
    set: accepting it would let clients pick ids that break time ordering or collide."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        if ctx.input.metadata.id:
            raise InvalidArgument.for_field(
                "metadata.id",
                "must be empty on create: ids are assigned by the server (use update or apply to change "
                "an existing resource)",
                "metadata.id.server_assigned",
            )
