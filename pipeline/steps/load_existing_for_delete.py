"""LoadExistingForDelete: a delete returns what it deleted, so read it first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, TARGET_ID
from pipeline.steps.load_target import load_or_not_found


@dataclass(frozen=True, slots=True)
class LoadExistingForDelete:
    """Reads ``ctx[TARGET_ID]``; writes ``ctx[EXISTING]``. Raises NotFound naming the id (a
    delete of something absent is an error, not a silent success, as in Stigmer)."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx[EXISTING] = load_or_not_found(ctx, ctx[TARGET_ID])
