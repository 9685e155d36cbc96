"""SetPinned: pin or unpin a session (system-managed ``state``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, UNCHANGED
from pipeline.state import build_status_change

PIN_FIELDS = frozenset({"state.pinned", "state.pinned_at", "state.pinned_by"})


@dataclass(frozen=True, slots=True)
class SetPinned:
    """Reads ``ctx[EXISTING]``; writes ``ctx.new_state`` and ``ctx[UNCHANGED]``.

    Pinning records when and by whom; unpinning clears the state. Pinning a pinned (or
    unpinning an unpinned) session is UNCHANGED: nothing is written and, downstream, no
    change is recorded, so repeating the command is harmless and leaves no noise in the feed.
    """

    pinned: bool

    def __call__(self, ctx: RequestContext[Any]) -> None:
        def mutate(session: Any) -> None:
            if not self.pinned:  # only the pin fields: state also holds phase and history counts
                session.state.pinned = False
                session.state.ClearField("pinned_at")
                session.state.pinned_by = ""
            elif not session.state.pinned:
                session.state.pinned = True
                session.state.pinned_at.FromNanoseconds(ctx.now_ns)
                session.state.pinned_by = ctx.actor

        ctx.new_state, changed = build_status_change(ctx, ctx[EXISTING], mutate, PIN_FIELDS)
        ctx[UNCHANGED] = not changed
