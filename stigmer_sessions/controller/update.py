"""Update a session by ``metadata.id``, optionally only if it is still at a given version.

``ValidateProto -> EnforceSizeLimits -> CheckIdempotency -> LoadExisting -> CheckVersion ->
BuildUpdateState -> Persist -> AppendEvent -> RememberRequest``
"""

from __future__ import annotations

import protovalidate

from pipeline.events import EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.pipeline import Pipeline
from pipeline.steps import (
    AppendEvent,
    BuildUpdateState,
    CheckIdempotency,
    CheckVersion,
    EnforceSizeLimits,
    LoadExisting,
    Persist,
    RememberRequest,
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
        "session.update",
        [
            ValidateProto(validator),
            EnforceSizeLimits(config.session_size_limits(), "Session"),
            CheckIdempotency(),
            LoadExisting(),
            CheckVersion(),
            BuildUpdateState(),
            Persist(),
            AppendEvent(hub=hub),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
