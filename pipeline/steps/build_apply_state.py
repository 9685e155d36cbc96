"""BuildApplyState: create-or-update, decided by what LoadForApply found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, SLUG, UNCHANGED
from pipeline.state import build_new, build_update


@dataclass(frozen=True, slots=True)
class BuildApplyState:
    """Reads ``ctx[EXISTING]``, ``ctx.input`` and ``ctx[SLUG]``; writes ``ctx.new_state`` and
    ``ctx[UNCHANGED]``. Exactly what BuildNewState or BuildUpdateState would build, so apply
    never disagrees with create or update; re-applying the same request changes nothing.
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        existing = ctx[EXISTING]
        if existing is None:
            build_new(ctx, ctx[SLUG])
            ctx[UNCHANGED] = False
            return
        ctx.new_state, changed = build_update(ctx, existing, ctx.input)
        ctx[UNCHANGED] = not changed
