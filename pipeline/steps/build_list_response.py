"""BuildListResponse: turn a Page into the kind's list message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline.context import RequestContext
from pipeline.keys import LIST_PAGE, RESPONSE

_INT32_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class BuildListResponse:
    """Reads ``ctx[LIST_PAGE]``; writes ``ctx[RESPONSE]`` = ``response_type(entries=...,
    next_page_token=..., total_size=..., total_pages=...)`` (totals saturate at int32 max).

    The field names are the list message's own (Stigmer's lists differ: AgentInstanceList
    has ``items`` and ``total_count`` and no page count); ``pages=None`` leaves the page
    count out."""

    response_type: type[Message]
    entries: str = "entries"
    total: str = "total_size"
    next_token: str = "next_page_token"
    pages: str | None = "total_pages"

    def __call__(self, ctx: RequestContext[Any]) -> None:
        page = ctx[LIST_PAGE]
        fields: dict[str, Any] = {
            self.entries: page.entries,
            self.next_token: page.next_page_token,
            self.total: min(page.total_size, _INT32_MAX),
        }
        if self.pages is not None:
            fields[self.pages] = min(page.total_pages, _INT32_MAX)
        ctx[RESPONSE] = self.response_type(**fields)
