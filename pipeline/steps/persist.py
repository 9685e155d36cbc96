"""Persist: write the new state, with its indexes, in the pipeline's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import CHANGED_FIELDS, EXISTING, RESPONSE, UNCHANGED


@dataclass(frozen=True, slots=True)
class Persist:
    """Reads ``ctx.new_state``, ``ctx[EXISTING]`` (optional: the version being replaced),
    ``ctx[UNCHANGED]`` and ``ctx[CHANGED_FIELDS]`` (optional: a status-only change's fields,
    so only the indexes reading them are recomputed); writes the record and ``ctx[RESPONSE]``.

    Skips the write when UNCHANGED. Raises AlreadyExists if a unique index entry is held by
    another record (a guarantee behind CheckDuplicate, never normally reached).
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        state = ctx.new_state
        if not ctx.get(UNCHANGED, False):
            ctx.records.put(state, ctx.get(EXISTING), changed=ctx.get(CHANGED_FIELDS))
        ctx[RESPONSE] = state
