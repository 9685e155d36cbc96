"""ApplyTransition: move a session to the requested phase (already validated)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, UNCHANGED
from pipeline.state import build_status_change

PHASE_FIELDS = frozenset({"state.phase", "state.phase_changed_at"})


@dataclass(frozen=True, slots=True)
class ApplyTransition:
    """Reads ``ctx[EXISTING]`` and ``ctx.input.phase``; writes ``ctx.new_state`` (phase and
    ``phase_changed_at`` set, status audit and version moved on) and ``ctx[UNCHANGED]``
    (True when the session is already in that phase: nothing is written or recorded)."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        target = ctx.input.phase

        def move(session: Any) -> None:
            if session.state.phase != target:
                session.state.phase = target
                session.state.phase_changed_at.FromNanoseconds(ctx.now_ns)

        ctx.new_state, changed = build_status_change(ctx, ctx[EXISTING], move, PHASE_FIELDS)
        ctx[UNCHANGED] = not changed
