"""AppendMessage: add one message to a session's history and bump its bookkeeping.

The helpers below are what appending means for one message or many (AppendMessages): the
content limit, how a stored message is built and written, and the session's bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import FieldViolation, InvalidArgument
from pipeline.ids import new_id
from pipeline.keys import CHILD, EXISTING, UNCHANGED
from pipeline.state import build_status_change
from stigmer_sessions.api import SessionMessage

DEFAULT_MAX_CONTENT_BYTES = 1024 * 1024
#: What an append changes in the session (besides its status audit and version).
COUNTS = frozenset({"state.message_count", "state.last_activity_at", "state.last_sequence"})


def next_sequence(ctx: RequestContext[Any], session: Any) -> int:
    """The sequence number the session's next message gets: one above the highest ever
    given (``state.last_sequence``, which a removal leaves as it was, so a freed number is
    never reused), or above the last stored message for a session from before that field."""
    stored = ctx.tx.children.last_sequence(ctx.kind.name, session.metadata.id)
    return max(stored, int(session.state.last_sequence)) + 1


def body_size(given: Any) -> int:
    """What a message's limit counts: its content's UTF-8 bytes plus its payload's bytes (one
    limit for both, so a framework moving its item from content to payload gains nothing)."""
    return len(given.content.encode()) + len(given.payload)


def content_violation(field: str, given: Any, max_bytes: int) -> FieldViolation | None:
    """The violation of ``field`` when ``given``'s content plus payload (an
    AppendSessionMessageRequest or a SessionMessageInput) is over ``max_bytes``, else None."""
    size = body_size(given)
    if size <= max_bytes:
        return None
    what = "bytes of content and payload" if given.payload else "bytes"
    return FieldViolation(field, "content.max_bytes", f"is {size} {what}; the limit is {max_bytes} bytes")


def activity_ns(ctx: RequestContext[Any], session: Any) -> int:
    """When a write to ``session``'s history happens: now, but never before its last
    activity. So ``created_at`` never decreases along ``sequence`` (a writer whose clock is
    behind, or whose request started before a concurrent one committed, is clamped), which
    is what lets ListMessages find ``created_after`` by a binary search over sequences."""
    return max(ctx.now_ns, int(session.state.last_activity_at.ToNanoseconds()))


def store_message(
    ctx: RequestContext[Any], session_id: str, sequence: int, given: Any, at_ns: int
) -> SessionMessage:
    """Write ``given``'s role, content, metadata, payload and media type (an AppendSessionMessageRequest or a
    SessionMessageInput) as the message at ``sequence`` under the session's key prefix and
    return it (id and actor from the request, created at ``at_ns``: :func:`activity_ns`)."""
    message = SessionMessage(
        id=new_id("msg", ctx.now_ns),
        session_id=session_id,
        sequence=sequence,
        role=given.role,
        content=given.content,
        metadata=given.metadata,
        actor_id=ctx.actor,
        payload=given.payload,
        media_type=given.media_type,
    )
    message.created_at.FromNanoseconds(at_ns)
    ctx.tx.children.append(ctx.kind.name, session_id, sequence, message.SerializeToString())
    return message


def count_messages(ctx: RequestContext[Any], session: Any, appended: int, last_sequence: int) -> None:
    """``ctx.new_state``: ``session`` with ``appended`` more messages, the last numbered
    ``last_sequence``, active now (one rewrite of the session however many were appended);
    the write is never UNCHANGED."""
    at_ns = activity_ns(ctx, session)

    def bump(s: Any) -> None:
        s.state.message_count += appended
        s.state.last_activity_at.FromNanoseconds(at_ns)
        s.state.last_sequence = last_sequence

    ctx.new_state, _ = build_status_change(ctx, session, bump, COUNTS)
    ctx[UNCHANGED] = False


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """Reads ``ctx.input`` (an AppendSessionMessageRequest) and ``ctx[EXISTING]`` (the session);
    writes the message under the session's key prefix, ``ctx[CHILD]`` (the stored message)
    and ``ctx.new_state`` (the session with ``message_count`` + 1 and ``last_activity_at``).

    The sequence number is the highest ever given + 1 (:func:`next_sequence`), read in the
    write transaction, so it is unique and increasing per session under concurrency (and
    gap-free while nothing is removed). Raises InvalidArgument naming the limit when the
    content (UTF-8 bytes) plus the payload is larger than ``max_content_bytes``.
    """

    max_content_bytes: int = DEFAULT_MAX_CONTENT_BYTES

    def __call__(self, ctx: RequestContext[Any]) -> None:
        request, session = ctx.input, ctx[EXISTING]
        violation = content_violation("content", request, self.max_content_bytes)
        if violation is not None:
            raise InvalidArgument(f"{violation.field}: {violation.message}", [violation])
        session_id = session.metadata.id
        sequence = next_sequence(ctx, session)
        ctx[CHILD] = store_message(ctx, session_id, sequence, request, activity_ns(ctx, session))
        count_messages(ctx, session, 1, sequence)
