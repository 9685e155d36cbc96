"""Resume: a session and its latest messages, read in one transaction.

``ValidateProto -> ExtractResourceId -> LoadTarget -> ResumeConversation``
"""

from __future__ import annotations

import protovalidate

from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from pipeline.pipeline import Pipeline
from pipeline.steps import ExtractResourceId, LoadTarget, ValidateProto
from stigmer_sessions.api import ResumeSessionRequest
from stigmer_sessions.steps import ResumeConversation


def build(
    validator: protovalidate.Validator | None = None, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
) -> Pipeline[ResumeSessionRequest]:
    return Pipeline(
        "session.resume",
        [
            ValidateProto(validator),
            ExtractResourceId("session_id"),
            LoadTarget(),
            ResumeConversation(max_bytes=max_response_bytes),
        ],
        write=False,
    )
