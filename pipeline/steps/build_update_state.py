"""BuildUpdateState: the record an update stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING, UNCHANGED
from pipeline.state import build_update


@dataclass(frozen=True, slots=True)
class BuildUpdateState:
    """Reads ``ctx[EXISTING]`` and ``ctx.input``; writes ``ctx.new_state`` and ``ctx[UNCHANGED]``.

    Spec, name, labels, annotations and tags come from the request; id, slug, org,
    owner_scope and created_* are kept; updated_* and the version move on. A request that
    changes nothing leaves the record (and its version) as is.
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx.new_state, changed = build_update(ctx, ctx[EXISTING], ctx.input)
        ctx[UNCHANGED] = not changed
