"""ScopeToIndex: serve a "the X of one Y" list from Y's index, never from a scan of all records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import InvalidArgument
from pipeline.keys import LIST_SCOPE
from pipeline.listing import ListScope


@dataclass(frozen=True, slots=True)
class ScopeToIndex:
    """Reads ``ctx.input.<field>`` and, when the request has one, ``ctx.input.<org_field>``;
    writes ``ctx[LIST_SCOPE]`` for ListPage: ``org_index`` on (org, value) when an org is
    given and the kind has such an index, else ``index`` on (value,). Raises
    InvalidArgument naming ``field`` when it is empty (an empty value would list every
    record that lacks one, which no caller means).

    Without ``org_index`` an org still filters, but per record: the scope is then not
    exact, so ListPage checks (and counts) the org itself. Without an org the scope names
    ``org_index`` as its ``per_org`` index: ListPage reads it org by org for a caller who
    may read only some orgs.
    """

    field: str
    index: str
    org_index: str | None = None
    org_field: str = "org"

    def __call__(self, ctx: RequestContext[Any]) -> None:
        value = getattr(ctx.input, self.field)
        org = getattr(ctx.input, self.org_field, "")
        if not value:
            raise InvalidArgument.for_field(self.field, "is required", "required")
        if org and self.org_index is not None:
            ctx[LIST_SCOPE] = ListScope(self.org_index, (org, value))
        else:
            ctx[LIST_SCOPE] = ListScope(self.index, (value,), exact=not org, per_org=self.org_index)
