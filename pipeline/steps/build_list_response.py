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
    next_page_token=..., total_size=..., total_pages=...)`` (totals saturate at int32 max)."""

    response_type: type[Message]

    def __call__(self, ctx: RequestContext[Any]) -> None:
        page = ctx[LIST_PAGE]
        ctx[RESPONSE] = self.response_type(
            entries=page.entries,
            next_page_token=page.next_page_token,
            total_size=min(page.total_size, _INT32_MAX),
            total_pages=min(page.total_pages, _INT32_MAX),
        )
