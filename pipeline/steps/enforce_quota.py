"""EnforceQuota: cap how many resources an org (and optionally each owner) may have."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import ResourceExhausted
from pipeline.keys import EXISTING
from pipeline.resource import ORG_INDEX, ORG_OWNER_INDEX


@dataclass(frozen=True, slots=True)
class EnforceQuota:
    """Reads ``ctx[EXISTING]`` (only a create is counted), ``ctx.new_state.metadata.org`` and
    ``ctx.actor``; raises ResourceExhausted when the org already has ``per_org`` (or the
    actor ``per_owner`` in that org) resources.

    Counts come from index counters (O(1)) read in the write transaction, so concurrent
    creates cannot overshoot: exactly the quota is admitted. None means unlimited.
    """

    per_org: int | None = None
    per_owner: int | None = None

    def __call__(self, ctx: RequestContext[Any]) -> None:
        if ctx.get(EXISTING) is not None:
            return
        org, word = ctx.new_state.metadata.org, ctx.kind.name
        if self.per_org is not None and ctx.records.count(ORG_INDEX, (org,)) >= self.per_org:
            raise ResourceExhausted(
                f"Maximum {self.per_org} {word}s supported in org {org!r}. "
                f"Delete a {word} to create a new one."
            )
        if (
            self.per_owner is not None
            and ctx.records.count(ORG_OWNER_INDEX, (org, ctx.actor)) >= self.per_owner
        ):
            raise ResourceExhausted(
                f"Maximum {self.per_owner} {word}s supported for {ctx.actor!r} in org {org!r}. "
                f"Delete a {word} to create a new one."
            )
