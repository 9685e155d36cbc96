"""Create a session.

``ValidateProto -> CheckIdempotency -> RejectClientId -> ResolveSlug -> CheckDuplicate ->
BuildNewState -> Persist -> AppendEvent -> RememberRequest``
"""

from __future__ import annotations

import protovalidate

from pipeline.events import EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.pipeline import Pipeline
from pipeline.steps import (
    AppendEvent,
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
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
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
            AppendEvent(hub=hub),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
