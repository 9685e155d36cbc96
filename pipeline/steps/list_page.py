"""ListPage: one page of a filtered list, read from an index in id (creation) order."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.authorization import access
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


def plan_scope(records: RecordStore[Any], filters: Filters, *, per_org: bool = False) -> ListScope:
    """The cheapest index for the filters: among the org index, each tag's (org+)tag index
    and each ``key=value`` label's index, the one with the fewest entries (counters say so,
    in O(1) each). Every other filter is checked per record while scanning it. ``per_org``
    (the filters name an org) keeps to the indexes keyed by org, so that a list read org by
    org never scans another org's entries."""
    alone = filters.count == 1
    candidates: list[ListScope] = []
    if filters.org:
        candidates.append(ListScope(ORG_INDEX, (filters.org,), exact=alone))
    for tag in filters.tags:
        if filters.org:
            candidates.append(ListScope(ORG_TAG_INDEX, (filters.org, tag), exact=filters.count == 2))
        else:
            candidates.append(ListScope(TAG_INDEX, (tag,), exact=alone))
    for requirement in () if per_org else filters.labels:
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
        query = fingerprint(ctx.kind.name, given, filters.key(), reverse)
        after = decode_token(token, query) if token else None
        parts = self._parts(ctx, given, filters)
        found: Iterator[tuple[Any, int]] = _merged(
            [self._scan(ctx, scope, where, after, reverse) for scope, where in parts], reverse
        )
        if skip:
            found = itertools.islice(found, skip, None)
        page = Page(page_size=page_size)
        page.entries, more = fill_page(found, page_size=page_size, max_bytes=self.max_bytes)
        if more:
            page.next_page_token = encode_token(query, page.entries[-1].metadata.id)
        page.total_size = sum(self._total(ctx, scope, where) for scope, where in parts)
        ctx[LIST_PAGE] = page

    @staticmethod
    def _parts(ctx: RequestContext[Any], given: ListScope | None, filters: Filters) -> list[_Part]:
        """What the list is read from: one scope, or, for a principal who may read only some
        orgs and names none, one per readable org (the per-org indexes), each with the
        filters it must still check."""
        granted = access(ctx)
        orgs = None if granted is None or filters.org else granted.readable_orgs()
        if orgs is None:  # trusted, an org already authorized, or every org readable
            if given is not None:
                exact = given.exact and not filters.beyond_org
                return [(ListScope(given.index, given.values, exact=exact), filters)]
            return [(plan_scope(ctx.records, filters), filters)]
        parts: list[_Part] = []
        for org in sorted(orgs):
            within = dataclasses.replace(filters, org=org)
            if given is None:
                parts.append((plan_scope(ctx.records, within, per_org=True), within))
            elif given.per_org is not None:
                scope = ListScope(given.per_org, (org, *given.values), exact=not filters.beyond_org)
                parts.append((scope, within))
            else:  # no per-org index: the kind's own index, each record's org checked
                parts.append((ListScope(given.index, given.values, exact=False), within))
        return parts

    @staticmethod
    def _scan(
        ctx: RequestContext[Any], scope: ListScope, where: Filters, after: str | None, reverse: bool
    ) -> Iterator[tuple[Any, int]]:
        found = ctx.records.scan_sized(scope.index, scope.values, after_id=after, reverse=reverse)
        if scope.exact:  # an exact index already is the filter: nothing to re-check
            return found
        return (entry for entry in found if where.matches(entry[0]))

    @staticmethod
    def _total(ctx: RequestContext[Any], scope: ListScope, where: Filters) -> int:
        if scope.exact:
            return ctx.records.count(scope.index, scope.values)
        return sum(1 for r, _ in ctx.records.scan_sized(scope.index, scope.values) if where.matches(r))


_Part = tuple[ListScope, Filters]


def _merged(scans: list[Iterator[tuple[Any, int]]], reverse: bool) -> Iterator[tuple[Any, int]]:
    """The scans (each in id order) as one, in id order: ids are unique across orgs."""
    if len(scans) == 1:
        return scans[0]
    return heapq.merge(*scans, key=lambda entry: str(entry[0].metadata.id), reverse=reverse)
