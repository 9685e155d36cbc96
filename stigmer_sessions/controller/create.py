"""Create a session.

``ValidateProto -> CheckIdempotency -> RejectClientId -> ResolveSlug -> CheckDuplicate ->
BuildNewState -> Persist -> RememberRequest``
"""

from __future__ import annotations

import protovalidate

from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.pipeline import Pipeline
from pipeline.steps import (
    BuildNewState,
    CheckDuplicate,
    CheckIdempotency,
    Persist,
    RejectClientId,
    RememberRequest,
    ResolveSlug,
    ValidateProto,
)
from stigmer_sessions.api import Session


def build(
    validator: protovalidate.Validator | None = None, *, request_ttl_ns: int = DEFAULT_TTL_NS
) -> Pipeline[Session]:
    return Pipeline(
        "session.create",
        [
            ValidateProto(validator),
            CheckIdempotency(),
            RejectClientId(),
            ResolveSlug(),
            CheckDuplicate(),
            BuildNewState(),
            Persist(),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
