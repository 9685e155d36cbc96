"""Pin: set a session's system-managed pinned state, recording a SessionPinned change.

``ValidateProto -> CheckIdempotency -> ExtractResourceId -> LoadExistingForDelete ->
CheckVersion -> SetPinned -> Persist -> AppendEvent -> RememberRequest``

A missing session is NOT_FOUND, as for every other command on a session by id (AIP-136).
A session already in the requested state is returned unchanged, with no write and no change.
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
)
from stigmer_sessions.api import SessionId
from stigmer_sessions.steps import SetPinned


def build_pinning(
    pinned: bool,
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
) -> Pipeline[SessionId]:
    """The pin (``pinned``) or unpin pipeline: the same steps, the other state and verb."""
    verb = "pin" if pinned else "unpin"
    return Pipeline(
        f"session.{verb}",
        [
            ValidateProto(validator),
            CheckIdempotency(),
            ExtractResourceId(),
            LoadExistingForDelete(),
            CheckVersion(),
            SetPinned(pinned),
            Persist(),
            AppendEvent("Pinned" if pinned else "Unpinned", hub),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )


def build(
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
) -> Pipeline[SessionId]:
    return build_pinning(True, validator, request_ttl_ns=request_ttl_ns, hub=hub)
