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


def created_after_boundary(ctx: RequestContext[Any], session_id: str, after_ns: int) -> int:
    """The highest sequence number whose message, and every one before it, was created at
    or before ``after_ns``: the messages created after it are exactly those above it.

    A binary search over the sequence numbers, reading the first message at or above each
    midpoint (one seek and one parse: O(log n) reads, however long the history). Correct
    because created_at never decreases along sequence (AppendMessage's ``activity_ns``);
    gaps left by removed messages are skipped over by the seek."""
    children, kind = ctx.tx.children, ctx.kind.name
    low, high = 0, children.last_sequence(kind, session_id)
    # Every message at or below `low` is created <= after_ns; every one above `high` after it.
    while low < high:
        mid = (low + high + 1) // 2
        found = next(iter(children.scan(kind, session_id, after=mid - 1, before=high + 1)), None)
        if found is not None and SessionMessage.FromString(found[1]).created_at.ToNanoseconds() <= after_ns:
            low = found[0]
        else:  # none in [mid, high], or the first there (so all from mid on) is later
            high = mid - 1
    return low


@dataclass(frozen=True, slots=True)
class ListMessages:
    """Reads ``ctx.input`` (ListSessionMessagesRequest); writes ``ctx[RESPONSE]``.

    A page is a range scan under the session's key prefix: O(page), however long the
    history. It ends early rather than take the response past ``max_bytes`` (at least one
    message); only the messages returned are parsed. With ``created_after`` the range
    starts above :func:`created_after_boundary` (O(log n) more reads). Raises NotFound for a
    missing session, InvalidArgument for a foreign token.
    """

    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __call__(self, ctx: RequestContext[Any]) -> None:
        request = ctx.input
        session = load_or_not_found(ctx, request.session_id)
        page_size = clamp_page_size(request.page_size)
        query = message_query(request.session_id, request.newest_first)
        resume_at = decode_position(request.page_token, query) if request.page_token else None
        floor = request.after_sequence
        if request.HasField("created_after"):
            boundary = created_after_boundary(ctx, request.session_id, request.created_after.ToNanoseconds())
            floor = max(floor, boundary)
        if request.newest_first:
            scan = ctx.tx.children.scan(
                ctx.kind.name,
                request.session_id,
                after=floor,
                before=resume_at,
                reverse=True,
            )
        else:
            after = max(resume_at, floor) if resume_at is not None else floor
            scan = ctx.tx.children.scan(ctx.kind.name, request.session_id, after=after)
        page, more = fill_page(
            ((item, len(item[1])) for item in scan), page_size=page_size, max_bytes=self.max_bytes
        )
        ctx[RESPONSE] = SessionMessageList(
            messages=[SessionMessage.FromString(data) for _, data in page],
            next_page_token=encode_token(query, str(page[-1][0])) if more else "",
            total_size=session.state.message_count,
        )
