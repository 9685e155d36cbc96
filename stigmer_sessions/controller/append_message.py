"""Append a message to a session's conversation history.

``ValidateProto -> EnforceSizeLimits -> CheckIdempotency -> ExtractResourceId -> LoadExistingForDelete ->
RequirePhase -> AppendMessage -> Persist -> AppendEvent -> Respond -> RememberRequest``

NOT_FOUND for a missing session, FAILED_PRECONDITION when its phase does not accept
messages, INVALID_ARGUMENT above the content or metadata limit. The message, the session's
``message_count``/``last_activity_at`` and a SessionMessageAppended change are one write.
"""

from __future__ import annotations

import protovalidate

from pipeline.events import EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.keys import CHILD
from pipeline.pipeline import Pipeline
from pipeline.steps import (
    AppendEvent,
    CheckIdempotency,
    EnforceSizeLimits,
    ExtractResourceId,
    LoadExistingForDelete,
    Persist,
    RememberRequest,
    RequirePhase,
    Respond,
    SizeLimit,
    ValidateProto,
)
from stigmer_sessions.api import AppendSessionMessageRequest, SessionMessage
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.steps import AppendMessage

DEFAULT_CONFIG = SessionConfig()


def build(
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
    config: SessionConfig = DEFAULT_CONFIG,
) -> Pipeline[AppendSessionMessageRequest]:
    return Pipeline(
        "session.appendMessage",
        [
            ValidateProto(validator),
            EnforceSizeLimits((SizeLimit("metadata", config.max_message_metadata_bytes),), "message"),
            CheckIdempotency(SessionMessage),
            ExtractResourceId("session_id"),
            LoadExistingForDelete(),
            RequirePhase(config.lifecycle.accepts_messages, "accept messages"),
            AppendMessage(config.max_message_bytes),
            Persist(),
            AppendEvent("MessageAppended", hub),
            Respond(CHILD),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
