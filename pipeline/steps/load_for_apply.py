"""LoadForApply: find what an apply updates, if anything, by id or else by (org, slug)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, SLUG
from pipeline.resource import SLUG_INDEX
from pipeline.steps.load_target import load_or_not_found


@dataclass(frozen=True, slots=True)
class LoadForApply:
    """Reads ``ctx.input.metadata.id``/``.org`` and ``ctx[SLUG]``; writes ``ctx[EXISTING]``
    (None when apply will create).

    With an id the record must exist (NotFound otherwise: ids are server-assigned, so an
    unknown id is a mistake, not a request to create). Without one, the (org, slug) unique
    index decides between update and create.
    """

    index: str = SLUG_INDEX

    def __call__(self, ctx: RequestContext[Any]) -> None:
        meta = ctx.input.metadata
        if meta.id:
            ctx[EXISTING] = load_or_not_found(ctx, meta.id)
            return
        holder = ctx.records.find_unique(self.index, (meta.org, ctx[SLUG]))
        ctx[EXISTING] = None if holder is None else load_or_not_found(ctx, holder)
