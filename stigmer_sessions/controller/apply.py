"""Apply (create or update) a session, by id if given, else by (org, slug from name).

``ValidateProto -> ResolveSlug -> LoadForApply -> BuildApplyState -> Persist``
"""

from __future__ import annotations

import protovalidate

from pipeline.pipeline import Pipeline
from pipeline.steps import BuildApplyState, LoadForApply, Persist, ResolveSlug, ValidateProto
from stigmer_sessions.api import Session


def build(validator: protovalidate.Validator | None = None) -> Pipeline[Session]:
    return Pipeline(
        "session.apply",
        [ValidateProto(validator), ResolveSlug(), LoadForApply(), BuildApplyState(), Persist()],
        write=True,
    )
