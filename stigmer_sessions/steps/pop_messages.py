"""PopMessages: remove the latest messages of a session's history in one write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, UNCHANGED
from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES, fill_page
from pipeline.state import build_status_change
from stigmer_sessions.api import SessionChange, SessionMessage, SessionMessageList, SessionMessagesRemoval
from stigmer_sessions.steps.append_message import activity_ns
from stigmer_sessions.steps.keys import REMOVAL, REMOVED

#: What a removal changes in the session (besides its status audit and version).
REMOVAL_FIELDS = frozenset({"state.message_count", "state.last_activity_at", "state.last_sequence"})
DEFAULT_POP = 1


def remove_after(ctx: RequestContext[Any], session: Any, after: int, last: int) -> int:
    """Delete the session's messages above ``after`` (the highest is ``last``), write
    ``ctx.new_state`` (the count down by as many, active now, ``state.last_sequence`` kept
    at least ``last`` so the freed numbers are never given out again) and return how many
    were deleted. Shared with ClearMessages."""
    removed = ctx.tx.children.delete_after(ctx.kind.name, session.metadata.id, after)
    at_ns = activity_ns(ctx, session)

    def shrink(s: Any) -> None:
        s.state.message_count = max(s.state.message_count - removed, 0)
        s.state.last_activity_at.FromNanoseconds(at_ns)
        s.state.last_sequence = max(s.state.last_sequence, last)

    ctx.new_state, _ = build_status_change(ctx, session, shrink, REMOVAL_FIELDS)
    ctx[UNCHANGED] = False
    return removed


@dataclass(frozen=True, slots=True)
class PopMessages:
    """Reads ``ctx.input`` (a PopSessionMessagesRequest) and ``ctx[EXISTING]`` (the session);
    deletes its latest ``count`` (default 1) messages and writes ``ctx[REMOVED]`` (them, in
    sequence order, and the count after), ``ctx[REMOVAL]`` (the change's ``removed``) and
    ``ctx.new_state``; with no message to remove, ``ctx[UNCHANGED]`` (nothing written, no
    change recorded).

    One reverse range scan of the messages removed: O(count), however long the history. It
    stops early rather than answer past ``max_bytes`` (removing at least one), so a client
    that pops many large messages gets exactly those removed, never a response too large
    to receive. Raises nothing itself.
    """

    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __call__(self, ctx: RequestContext[Any]) -> None:
        session = ctx[EXISTING]
        scan = ctx.tx.children.scan(ctx.kind.name, session.metadata.id, reverse=True)
        latest, _ = fill_page(
            ((item, len(item[1])) for item in scan),
            page_size=ctx.input.count or DEFAULT_POP,
            max_bytes=self.max_bytes,
        )
        messages = [SessionMessage.FromString(data) for _, data in reversed(latest)]
        if not messages:
            ctx.new_state = session
            ctx[UNCHANGED] = True
            ctx[REMOVED] = SessionMessageList(total_size=session.state.message_count)
            return
        # Everything above the oldest removed goes: the scan read exactly the tail it removes.
        after, last = messages[0].sequence - 1, messages[-1].sequence
        remove_after(ctx, session, after, last)
        ctx[REMOVED] = SessionMessageList(messages=messages, total_size=ctx.new_state.state.message_count)
        ctx[REMOVAL] = SessionChange(
            removed=SessionMessagesRemoval(
                after_sequence=after,
                last_sequence=last,
                count=len(messages),
                message_ids=[m.id for m in messages],
            )
        )
