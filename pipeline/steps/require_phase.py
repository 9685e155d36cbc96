"""RequirePhase: some commands only make sense in some phases (e.g. appending messages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import FailedPrecondition
from pipeline.keys import EXISTING
from pipeline.lifecycle import get_path


@dataclass(frozen=True, slots=True)
class RequirePhase:
    """Reads ``ctx[EXISTING]``'s phase; raises FailedPrecondition naming the phase, what is
    refused and the phases that allow it, unless the phase is one of ``phases``."""

    phases: frozenset[str]
    action: str

    def __call__(self, ctx: RequestContext[Any]) -> None:
        existing = ctx[EXISTING]
        phase = get_path(existing, ctx.kind.phase_field)
        if phase not in self.phases:
            allowed = ", ".join(sorted(self.phases)) or "none"
            raise FailedPrecondition(
                f"{ctx.kind.name} {existing.metadata.id} is in {phase!r}, which does not {self.action}; "
                f"phases that do: {allowed}"
            )
