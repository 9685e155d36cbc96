"""BuildNewState: the record a create stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import SLUG
from pipeline.state import build_new


@dataclass(frozen=True, slots=True)
class BuildNewState:
    """Reads ``ctx.new_state`` (the input's copy) and ``ctx[SLUG]``; completes ``ctx.new_state``: defaults
    for api_version/kind, a new ``<prefix>-<ulid>`` id, audit (created by ``ctx.actor`` at
    ``ctx.now_ns``) and a first version. Client-sent status is dropped: it is server-managed.
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        build_new(ctx, ctx[SLUG])
