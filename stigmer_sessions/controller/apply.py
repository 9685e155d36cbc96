"""Apply (create or update) a session, by id if given, else by (org, slug from name).

``ValidateProto -> EnforceSizeLimits -> CheckIdempotency -> ResolveSlug -> LoadForApply -> CheckVersion ->
EnforceQuota -> BuildApplyState -> SetInitialPhase -> Persist -> AppendEvent -> RememberRequest``

EnforceQuota and SetInitialPhase only act when the apply creates.
"""

from __future__ import annotations

import protovalidate

from pipeline.events import EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.pipeline import Pipeline
from pipeline.steps import (
    AppendEvent,
    BuildApplyState,
    CheckIdempotency,
    CheckVersion,
    EnforceQuota,
    EnforceSizeLimits,
    LoadForApply,
    Persist,
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
        "session.apply",
        [
            ValidateProto(validator),
            EnforceSizeLimits(config.session_size_limits(), "Session"),
            CheckIdempotency(),
            ResolveSlug(),
            LoadForApply(),
            CheckVersion(),
            EnforceQuota(config.max_sessions_per_org, config.max_sessions_per_owner),
            BuildApplyState(),
            SetInitialPhase(config.lifecycle),
            Persist(),
            AppendEvent(hub=hub),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
