"""ResumeConversation: a session plus its latest messages, from one read transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import RESPONSE
from pipeline.listing import (
    DEFAULT_MAX_RESPONSE_BYTES,
    ENTRY_OVERHEAD_BYTES,
    MAX_PAGE_SIZE,
    encode_token,
    fill_page,
)
from stigmer_sessions.api import ResumeSessionResponse, SessionMessage
from stigmer_sessions.steps.list_messages import message_query

DEFAULT_RESUME_PAGE = 100


@dataclass(frozen=True, slots=True)
class ResumeConversation:
    """Reads ``ctx[RESPONSE]`` (the session, from LoadTarget) and ``ctx.input.page_size``;
    writes ``ctx[RESPONSE]`` = the session, its latest ``page_size`` messages oldest first,
    and a token for the page before them (listMessages, newest_first). One reverse range
    scan: O(page), however long the history.

    The session counts against ``max_bytes`` too: fewer messages are returned rather than
    take the response past it, but at least one when there is one."""

    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __call__(self, ctx: RequestContext[Any]) -> None:
        session = ctx[RESPONSE]
        size = min(ctx.input.page_size or DEFAULT_RESUME_PAGE, MAX_PAGE_SIZE)
        scan = ctx.tx.children.scan(ctx.kind.name, session.metadata.id, reverse=True)
        latest, more = fill_page(
            ((item, len(item[1])) for item in scan),
            page_size=size,
            max_bytes=self.max_bytes,
            reserved=session.ByteSize() + ENTRY_OVERHEAD_BYTES,
        )
        earlier = ""
        if more:  # one more exists before this page
            earlier = encode_token(message_query(session.metadata.id, True), str(latest[-1][0]))
        ctx[RESPONSE] = ResumeSessionResponse(
            session=session,
            messages=[SessionMessage.FromString(data) for _, data in reversed(latest)],
            earlier_page_token=earlier,
        )
