"""AppendMessage: add one message to a session's history and bump its bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import InvalidArgument
from pipeline.ids import new_id
from pipeline.keys import CHILD, EXISTING, UNCHANGED
from pipeline.state import build_status_change
from stigmer_sessions.api import SessionMessage

DEFAULT_MAX_CONTENT_BYTES = 1024 * 1024
#: What an append changes in the session (besides its status audit and version).
COUNTS = frozenset({"state.message_count", "state.last_activity_at"})


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """Reads ``ctx.input`` (an AppendSessionMessageRequest) and ``ctx[EXISTING]`` (the session);
    writes the message under the session's key prefix, ``ctx[CHILD]`` (the stored message)
    and ``ctx.new_state`` (the session with ``message_count`` + 1 and ``last_activity_at``).

    The sequence number is the last stored one + 1, read in the write transaction, so it is
    gap-free per session under concurrency. Raises InvalidArgument naming the limit when the
    content is larger than ``max_content_bytes`` (UTF-8 bytes).
    """

    max_content_bytes: int = DEFAULT_MAX_CONTENT_BYTES

    def __call__(self, ctx: RequestContext[Any]) -> None:
        request, session = ctx.input, ctx[EXISTING]
        size = len(request.content.encode())
        if size > self.max_content_bytes:
            raise InvalidArgument.for_field(
                "content",
                f"is {size} bytes; the limit is {self.max_content_bytes} bytes",
                "content.max_bytes",
            )
        session_id = session.metadata.id
        sequence = ctx.tx.children.last_sequence(ctx.kind.name, session_id) + 1
        message = SessionMessage(
            id=new_id("msg", ctx.now_ns),
            session_id=session_id,
            sequence=sequence,
            role=request.role,
            content=request.content,
            metadata=request.metadata,
            actor_id=ctx.actor,
        )
        message.created_at.FromNanoseconds(ctx.now_ns)
        ctx.tx.children.append(ctx.kind.name, session_id, sequence, message.SerializeToString())

        def bump(s: Any) -> None:
            s.state.message_count += 1
            s.state.last_activity_at.FromNanoseconds(ctx.now_ns)

        ctx.new_state, _ = build_status_change(ctx, session, bump, COUNTS)
        ctx[UNCHANGED] = False
        ctx[CHILD] = message
