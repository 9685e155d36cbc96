"""ListPage: one page of a filtered list, read from an index in id (creation) order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import LIST_PAGE, LIST_SCOPE
from pipeline.listing import ListScope, Page, clamp_page_size, decode_token, encode_token, fingerprint
from pipeline.records import Records
from pipeline.resource import ORG_INDEX, ORG_TAG_INDEX, TAG_INDEX


def plan_scope(records: Records[Any], org: str, tags: tuple[str, ...]) -> ListScope:
    """The cheapest index for an (org, tags) filter. With several tags, the rarest one drives
    the scan (its counter says how rare) and the others are checked per record."""
    if tags:
        index, prefix = (ORG_TAG_INDEX, (org,)) if org else (TAG_INDEX, ())
        rarest = min(tags, key=lambda tag: records.count(index, (*prefix, tag)))
        return ListScope(index, (*prefix, rarest), exact=len(tags) == 1)
    if org:
        return ListScope(ORG_INDEX, (org,))
    return ListScope()


def _matcher(org: str, tags: tuple[str, ...]) -> Callable[[Any], bool]:
    def matches(record: Any) -> bool:
        meta = record.metadata
        return (not org or meta.org == org) and all(tag in meta.tags for tag in tags)

    return matches


@dataclass(frozen=True, slots=True)
class ListPage:
    """Reads ``ctx.input.page_size``/``.page_token`` and, where the request has them, ``.org``
    and ``.tags``; reads ``ctx[LIST_SCOPE]`` when a kind-specific step chose the index;
    writes ``ctx[LIST_PAGE]``.

    Newest first by default (``newest_first=False`` for oldest first). A page costs
    O(page_size) index reads when the index matches the filters exactly; ``total_size`` then
    comes from the index counter in O(1). Only multi-tag filters check records beyond the
    page. Raises InvalidArgument for a malformed token or one from another query.
    """

    newest_first: bool = True

    def __call__(self, ctx: RequestContext[Any]) -> None:
        request = ctx.input
        page_size = clamp_page_size(request.page_size)
        org: str = getattr(request, "org", "")
        tags = tuple(sorted(set(getattr(request, "tags", ()))))
        given_scope = ctx.get(LIST_SCOPE)
        scope = given_scope or plan_scope(ctx.records, org, tags)
        query = fingerprint(ctx.kind.name, given_scope, org, tags, self.newest_first)
        after = decode_token(request.page_token, query) if request.page_token else None
        matches = _matcher(org, tags)

        page = Page(page_size=page_size)
        scan = ctx.records.scan(scope.index, scope.values, after_id=after, reverse=self.newest_first)
        for record in scan:
            if not matches(record):
                continue
            if len(page.entries) == page_size:  # one more exists: there is a next page
                page.next_page_token = encode_token(query, page.entries[-1].metadata.id)
                break
            page.entries.append(record)
        if scope.exact:
            page.total_size = ctx.records.count(scope.index, scope.values)
        else:
            page.total_size = sum(1 for r in ctx.records.scan(scope.index, scope.values) if matches(r))
        ctx[LIST_PAGE] = page
