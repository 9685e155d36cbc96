"""ListPage: one page of a filtered list, read from an index in id (creation) order."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import LIST_PAGE, LIST_SCOPE, PAGE_REQUEST
from pipeline.listing import (
    DEFAULT_MAX_RESPONSE_BYTES,
    Filters,
    ListScope,
    Page,
    clamp_page_size,
    decode_token,
    encode_token,
    fill_page,
    fingerprint,
    newest_first,
)
from pipeline.resource import LABEL_INDEX, ORG_INDEX, ORG_TAG_INDEX, TAG_INDEX
from pipeline.selectors import EQUALS
from pipeline.storage import RecordStore


def plan_scope(records: RecordStore[Any], filters: Filters) -> ListScope:
    """The cheapest index for the filters: among the org index, each tag's (org+)tag index
    and each ``key=value`` label's index, the one with the fewest entries (counters say so,
    in O(1) each). Every other filter is checked per record while scanning it."""
    alone = filters.count == 1
    candidates: list[ListScope] = []
    if filters.org:
        candidates.append(ListScope(ORG_INDEX, (filters.org,), exact=alone))
    for tag in filters.tags:
        if filters.org:
            candidates.append(ListScope(ORG_TAG_INDEX, (filters.org, tag), exact=filters.count == 2))
        else:
            candidates.append(ListScope(TAG_INDEX, (tag,), exact=alone))
    for requirement in filters.labels:
        if requirement.op == EQUALS:
            candidates.append(ListScope(LABEL_INDEX, (requirement.key, requirement.value), exact=alone))
    if not candidates:
        return ListScope(exact=filters.count == 0)
    return min(candidates, key=lambda scope: records.count(scope.index, scope.values))


@dataclass(frozen=True, slots=True)
class ListPage:
    """Reads ``ctx.input.page_size``/``.page_token`` and whichever generic filters the request
    has (``org``, ``tags``, ``label_selector``, ``owner_scope``, ``order_by``); reads
    ``ctx[LIST_SCOPE]`` when a kind-specific step chose the index, and ``ctx[PAGE_REQUEST]``
    instead of ``page_size``/``page_token`` when a step read other paging fields
    (PageByNumber: its ``skip`` drops that many matches first, at O(skip)); writes
    ``ctx[LIST_PAGE]``.

    Newest first unless ``order_by`` (or ``newest_first=False``) says otherwise. Pages are
    full (``page_size`` entries unless the list ends, or the next entry would take the
    response past ``max_bytes``; at least one entry either way): records an index cannot
    rule out are checked while scanning. A page costs O(page_size) when the index matches
    the filters exactly, and ``total_size`` then comes from a counter in O(1); otherwise the
    total takes one more pass over the chosen index. Raises InvalidArgument for a bad
    selector, order or token, or a token issued for another query.
    """

    newest_first: bool = True
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __call__(self, ctx: RequestContext[Any]) -> None:
        request = ctx.input
        paging = ctx.get(PAGE_REQUEST)
        if paging is None:
            page_size, token, skip = clamp_page_size(request.page_size), request.page_token, 0
        else:
            page_size, token, skip = paging.size, paging.token, paging.skip
        filters = Filters.of(request)
        reverse = newest_first(getattr(request, "order_by", ""), self.newest_first)
        given = ctx.get(LIST_SCOPE)
        if given is not None:
            scope = ListScope(given.index, given.values, exact=given.exact and not filters.beyond_org)
        else:
            scope = plan_scope(ctx.records, filters)
        query = fingerprint(ctx.kind.name, given, filters.key(), reverse)
        after = decode_token(token, query) if token else None

        found: Iterator[tuple[Any, int]] = ctx.records.scan_sized(
            scope.index, scope.values, after_id=after, reverse=reverse
        )
        if not scope.exact:  # an exact index already is the filter: nothing to re-check
            found = (entry for entry in found if filters.matches(entry[0]))
        if skip:
            found = itertools.islice(found, skip, None)
        page = Page(page_size=page_size)
        page.entries, more = fill_page(found, page_size=page_size, max_bytes=self.max_bytes)
        if more:
            page.next_page_token = encode_token(query, page.entries[-1].metadata.id)
        if scope.exact:
            page.total_size = ctx.records.count(scope.index, scope.values)
        else:
            page.total_size = sum(
                1 for r, _ in ctx.records.scan_sized(scope.index, scope.values) if filters.matches(r)
            )
        ctx[LIST_PAGE] = page
