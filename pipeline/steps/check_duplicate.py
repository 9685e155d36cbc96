"""CheckDuplicate: no two resources of a kind share a slug within an org."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import AlreadyExists
from pipeline.keys import SLUG
from pipeline.resource import SLUG_INDEX


@dataclass(frozen=True, slots=True)
class CheckDuplicate:
    """Reads ``ctx[SLUG]`` and ``ctx.input.metadata.org``. Raises AlreadyExists naming the slug,
    the org and the id holding them.

    One unique-index lookup, no scan; because the pipeline runs in the write transaction,
    nothing can claim the slug between this check and Persist.
    """

    index: str = SLUG_INDEX

    def __call__(self, ctx: RequestContext[Any]) -> None:
        org, slug = ctx.input.metadata.org, ctx[SLUG]
        holder = ctx.records.find_unique(self.index, (org, slug))
        if holder is not None:
            raise AlreadyExists(
                f"{ctx.kind.name} with slug {slug!r} already exists in org {org!r} (id {holder})"
            )
