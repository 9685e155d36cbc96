"""Create a session.

``ValidateProto -> EnforceSizeLimits -> CheckIdempotency -> RejectClientId -> GenerateName -> ResolveSlug ->
CheckDuplicate -> EnforceQuota -> BuildNewState -> SetInitialPhase -> Persist -> AppendEvent ->
RememberRequest``
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
    EnforceQuota,
    EnforceSizeLimits,
    GenerateName,
    Persist,
    RejectClientId,
    RememberRequest,
    ResolveSlug,
    SetInitialPhase,
    ValidateProto,
)
from stigmer_sessions.api import Session
from stigmer_sessions.config import SessionConfig

DEFAULT_CONFIG = SessionConfig()


def build(
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
    config: SessionConfig = DEFAULT_CONFIG,
) -> Pipeline[Session]:
    return Pipeline(
        "session.create",
        [
            ValidateProto(validator),
            EnforceSizeLimits(config.session_size_limits(), "Session"),
            CheckIdempotency(),
            RejectClientId(),
            GenerateName(config.name_pattern),
            ResolveSlug(),
            CheckDuplicate(),
            EnforceQuota(config.max_sessions_per_org, config.max_sessions_per_owner),
            BuildNewState(),
            SetInitialPhase(config.lifecycle),
            Persist(),
            AppendEvent(hub=hub),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
