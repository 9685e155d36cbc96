"""Create a session.

``ValidateProto -> RejectClientId -> ResolveSlug -> CheckDuplicate -> BuildNewState -> Persist``
"""

from __future__ import annotations

import protovalidate

from pipeline.pipeline import Pipeline
from pipeline.steps import BuildNewState, CheckDuplicate, Persist, RejectClientId, ResolveSlug, ValidateProto
from stigmer_sessions.api import Session


def build(validator: protovalidate.Validator | None = None) -> Pipeline[Session]:
    return Pipeline(
        "session.create",
        [
            ValidateProto(validator),
            RejectClientId(),
            ResolveSlug(),
            CheckDuplicate(),
            BuildNewState(),
            Persist(),
        ],
        write=True,
    )
