"""AppendMessages: add a batch of messages to a session's history in one write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import CHILDREN, EXISTING
from stigmer_sessions.api import SessionMessageList
from stigmer_sessions.steps.append_message import activity_ns, count_messages, next_sequence, store_message
from stigmer_sessions.steps.keys import APPENDED


@dataclass(frozen=True, slots=True)
class AppendMessages:
    """Reads ``ctx.input`` (an AppendSessionMessagesRequest, its limits already enforced:
    EnforceBatchLimits) and ``ctx[EXISTING]`` (the session); writes each message under the
    session's key prefix, ``ctx[CHILDREN]`` (the stored messages, in order),
    ``ctx[APPENDED]`` (the response: them and the session's message count after them) and
    ``ctx.new_state`` (the session with ``message_count`` + n and ``last_activity_at``: one
    rewrite for the whole batch).

    The sequence numbers are the highest ever given + 1 ... + n, read in the write
    transaction, so they are contiguous and never interleaved with another writer's,
    whether other writers append batches or single messages. Raises nothing itself: a failure of
    any later step aborts the transaction, and with it every message of the batch.
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        session = ctx[EXISTING]
        session_id = session.metadata.id
        first, at_ns = next_sequence(ctx, session), activity_ns(ctx, session)
        stored = [
            store_message(ctx, session_id, first + i, given, at_ns)
            for i, given in enumerate(ctx.input.messages)
        ]
        count_messages(ctx, session, len(stored), stored[-1].sequence)
        ctx[CHILDREN] = stored
        ctx[APPENDED] = SessionMessageList(messages=stored, total_size=ctx.new_state.state.message_count)
