"""Transition: move a session to another phase of the configured lifecycle.

``ValidateProto -> CheckIdempotency -> ExtractResourceId -> LoadExistingForDelete ->
CheckVersion -> ValidateTransition -> ApplyTransition -> Persist -> AppendEvent ->
RememberRequest``

An illegal move is FAILED_PRECONDITION and changes nothing; a move to the current phase
is a no-op (no write, no change recorded); a legal move records SessionPhaseChanged.
"""

from __future__ import annotations

import protovalidate

from pipeline.events import EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.pipeline import Pipeline
from pipeline.steps import (
    AppendEvent,
    CheckIdempotency,
    CheckVersion,
    ExtractResourceId,
    LoadExistingForDelete,
    Persist,
    RememberRequest,
    ValidateProto,
    ValidateTransition,
)
from stigmer_sessions.api import TransitionSessionRequest
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.steps import ApplyTransition

DEFAULT_CONFIG = SessionConfig()


def build(
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
    config: SessionConfig = DEFAULT_CONFIG,
) -> Pipeline[TransitionSessionRequest]:
    return Pipeline(
        "session.transition",
        [
            ValidateProto(validator),
            CheckIdempotency(),
            ExtractResourceId("session_id"),
            LoadExistingForDelete(),
            CheckVersion(),
            ValidateTransition(config.lifecycle),
            ApplyTransition(),
            Persist(),
            AppendEvent("PhaseChanged", hub),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
