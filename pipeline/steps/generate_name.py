"""GenerateName: a create without a name gets a readable, unique one."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.resource import SLUG_INDEX
from pipeline.steps.resolve_slug import slug_from_name


@dataclass(frozen=True, slots=True)
class GenerateName:
    """Reads ``ctx.new_state.metadata`` (name, slug, org) and ``ctx.now_ns``; when both name
    and slug are empty writes ``metadata.name`` = ``pattern`` formatted with ``date``
    (YYYY-MM-DD, UTC) and ``n``: the next free number that day in that org.

    A counter per (org, day) makes it O(1); names a client already took are skipped. The
    write transaction serialises creates, so generated names are unique under concurrency.
    """

    pattern: str = "session-{date}-{n:03d}"

    def __call__(self, ctx: RequestContext[Any]) -> None:
        meta = ctx.new_state.metadata
        if meta.name.strip() or meta.slug:
            return
        date = datetime.datetime.fromtimestamp(ctx.now_ns / 1e9, datetime.UTC).strftime("%Y-%m-%d")
        counter = (ctx.kind.name, "_generated_names", meta.org, date)
        while True:
            n = ctx.tx.counters.add(counter, 1)
            name = self.pattern.format(date=date, n=n)
            if ctx.records.find_unique(SLUG_INDEX, (meta.org, slug_from_name(name))) is None:
                meta.name = name
                return
