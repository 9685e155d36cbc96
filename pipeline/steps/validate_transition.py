"""ValidateTransition: a phase change must be one the lifecycle allows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.keys import EXISTING
from pipeline.lifecycle import Lifecycle, get_path


@dataclass(frozen=True, slots=True)
class ValidateTransition:
    """Reads ``ctx[EXISTING]`` (its current phase) and ``ctx.input.<target_field>``.

    Raises InvalidArgument for a phase the lifecycle does not have, FailedPrecondition for
    a move it does not allow, e.g. ``cannot move session ses-… to 'closed': it is in 'draft';
    allowed from 'draft': capturing``. Moving to the current phase is allowed (a no-op).
    """

    lifecycle: Lifecycle
    target_field: str = "phase"

    def __call__(self, ctx: RequestContext[Any]) -> None:
        existing = ctx[EXISTING]
        current = get_path(existing, ctx.kind.phase_field)
        target = getattr(ctx.input, self.target_field)
        self.lifecycle.check_move(ctx.kind.name, existing.metadata.id, current, target)
