"""SetInitialPhase: a new resource starts in its lifecycle's initial phase."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING
from pipeline.lifecycle import Lifecycle, set_path


@dataclass(frozen=True, slots=True)
class SetInitialPhase:
    """Reads ``ctx[EXISTING]``; when nothing existed (a create, or an apply that creates) sets
    ``ctx.kind.phase_field`` of ``ctx.new_state`` to ``lifecycle.initial``."""

    lifecycle: Lifecycle

    def __call__(self, ctx: RequestContext[Any]) -> None:
        if ctx.get(EXISTING) is None:
            set_path(ctx.new_state, ctx.kind.phase_field, self.lifecycle.initial)
