"""ResumeConversation: a session plus its latest messages, from one read transaction."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any

from pipeline import children
from pipeline.context import RequestContext
from pipeline.keys import RESPONSE
from pipeline.listing import MAX_PAGE_SIZE, encode_token
from stigmer_sessions.api import ResumeSessionResponse, SessionMessage
from stigmer_sessions.steps.list_messages import message_query

DEFAULT_RESUME_PAGE = 100


@dataclass(frozen=True, slots=True)
class ResumeConversation:
    """Reads ``ctx[RESPONSE]`` (the session, from LoadTarget) and ``ctx.input.page_size``;
    writes ``ctx[RESPONSE]`` = the session, its latest ``page_size`` messages oldest first,
    and a token for the page before them (listMessages, newest_first). One reverse range
    scan: O(page), however long the history."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        session = ctx[RESPONSE]
        size = min(ctx.input.page_size or DEFAULT_RESUME_PAGE, MAX_PAGE_SIZE)
        latest = list(
            islice(children.scan(ctx.txn, ctx.kind.name, session.metadata.id, reverse=True), size + 1)
        )
        earlier = ""
        if len(latest) > size:  # one more exists before this page
            latest = latest[:size]
            earlier = encode_token(message_query(session.metadata.id, True), str(latest[-1][0]))
        ctx[RESPONSE] = ResumeSessionResponse(
            session=session,
            messages=[SessionMessage.FromString(data) for _, data in reversed(latest)],
            earlier_page_token=earlier,
        )
