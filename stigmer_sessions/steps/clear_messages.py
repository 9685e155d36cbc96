"""ClearMessages: remove every message of a session's history, keeping the session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, UNCHANGED
from stigmer_sessions.api import SessionChange, SessionMessagesRemoval
from stigmer_sessions.steps.keys import REMOVAL
from stigmer_sessions.steps.pop_messages import remove_after


@dataclass(frozen=True, slots=True)
class ClearMessages:
    """Reads ``ctx[EXISTING]`` (the session); deletes all its messages and writes
    ``ctx[REMOVAL]`` (the change's ``removed``: the range, no ids) and ``ctx.new_state``
    (message_count 0, ``state.last_sequence`` kept, so later appends number on after the
    cleared messages); with no message, ``ctx[UNCHANGED]`` (nothing written, no change).

    One range walk (LMDB) or one statement (PostgreSQL) over the session's messages: O(n)
    in the history's length, in one transaction. Raises nothing itself.
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        session = ctx[EXISTING]
        last = ctx.tx.children.last_sequence(ctx.kind.name, session.metadata.id)
        if last == 0:
            ctx.new_state = session
            ctx[UNCHANGED] = True
            return
        count = remove_after(ctx, session, 0, last)
        ctx[REMOVAL] = SessionChange(
            removed=SessionMessagesRemoval(after_sequence=0, last_sequence=last, count=count)
        )
