"""ListMessages: one page of a session's history, oldest or newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import RESPONSE
from pipeline.listing import (
    DEFAULT_MAX_RESPONSE_BYTES,
    clamp_page_size,
    decode_position,
    encode_token,
    fill_page,
    fingerprint,
)
from pipeline.steps.load_target import load_or_not_found
from stigmer_sessions.api import SessionMessage, SessionMessageList


def message_query(session_id: str, newest_first: bool) -> bytes:
    """The fingerprint binding a messages page token to its session and order (shared with
    ResumeConversation, whose earlier_page_token continues a newest-first listing)."""
    return fingerprint("session", "messages", session_id, newest_first)


@dataclass(frozen=True, slots=True)
class ListMessages:
    """Reads ``ctx.input`` (ListSessionMessagesRequest); writes ``ctx[RESPONSE]``.

    A page is a range scan under the session's key prefix: O(page), however long the
    history. It ends early rather than take the response past ``max_bytes`` (at least one
    message); only the messages returned are parsed. Raises NotFound for a missing
    session, InvalidArgument for a foreign token.
    """

    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __call__(self, ctx: RequestContext[Any]) -> None:
        request = ctx.input
        session = load_or_not_found(ctx, request.session_id)
        page_size = clamp_page_size(request.page_size)
        query = message_query(request.session_id, request.newest_first)
        resume_at = decode_position(request.page_token, query) if request.page_token else None
        if request.newest_first:
            scan = ctx.tx.children.scan(
                ctx.kind.name,
                request.session_id,
                after=request.after_sequence,
                before=resume_at,
                reverse=True,
            )
        else:
            after = resume_at if resume_at is not None else request.after_sequence
            scan = ctx.tx.children.scan(ctx.kind.name, request.session_id, after=after)
        page, more = fill_page(
            ((item, len(item[1])) for item in scan), page_size=page_size, max_bytes=self.max_bytes
        )
        ctx[RESPONSE] = SessionMessageList(
            messages=[SessionMessage.FromString(data) for _, data in page],
            next_page_token=encode_token(query, str(page[-1][0])) if more else "",
            total_size=session.state.message_count,
        )
