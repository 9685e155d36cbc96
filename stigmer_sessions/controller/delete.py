"""Delete a session and its index entries; returns the deleted session.

``ValidateProto -> CheckIdempotency -> ExtractResourceId -> LoadExistingForDelete ->
CheckVersion -> DeleteResource -> DeleteChildren -> AppendEvent -> RememberRequest``

DeleteChildren removes the session's messages in the same transaction.
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
    DeleteChildren,
    DeleteResource,
    ExtractResourceId,
    LoadExistingForDelete,
    RememberRequest,
    ValidateProto,
)
from stigmer_sessions.api import SessionId


def build(
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
) -> Pipeline[SessionId]:
    return Pipeline(
        "session.delete",
        [
            ValidateProto(validator),
            CheckIdempotency(),
            ExtractResourceId(),
            LoadExistingForDelete(),
            CheckVersion(),
            DeleteResource(),
            DeleteChildren(),
            AppendEvent("Deleted", hub),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
