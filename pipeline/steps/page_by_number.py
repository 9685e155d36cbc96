"""PageByNumber: Stigmer's page-number paging (``page_info``), beside our page tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import FieldViolation, InvalidArgument
from pipeline.keys import PAGE_REQUEST
from pipeline.listing import PageRequest, clamp_page_size


@dataclass(frozen=True, slots=True)
class PageByNumber:
    """Reads ``ctx.input.<field>`` (a ``PageInfo``: ``num`` 1-based, 0 meaning the first
    page; ``size``, 0 meaning the default 50, clamped to 1000 as ``page_size`` is) and
    ``ctx.input.<token_field>`` when the request has it; writes ``ctx[PAGE_REQUEST]`` for
    ListPage. Raises InvalidArgument for a negative num or size.

    A token wins: the page resumes after the last entry of the previous page, which stays
    right while records come and go. Otherwise ListPage skips ``(num - 1) * size`` matches,
    which costs O(skip) (an index has no positions to seek to): deep page numbers are slow
    by nature, tokens are not. A page past the last one is empty; its total still counts
    every match.
    """

    field: str = "page_info"
    token_field: str = "page_token"

    def __call__(self, ctx: RequestContext[Any]) -> None:
        info = getattr(ctx.input, self.field)
        bad = [
            FieldViolation(f"{self.field}.{name}", "int32.gte", "must be >= 0")
            for name in ("num", "size")
            if getattr(info, name) < 0
        ]
        if bad:
            raise InvalidArgument.listing(bad)
        size = clamp_page_size(info.size)
        token = getattr(ctx.input, self.token_field, "")
        skip = 0 if token else (max(info.num, 1) - 1) * size
        ctx[PAGE_REQUEST] = PageRequest(size=size, token=token, skip=skip)
