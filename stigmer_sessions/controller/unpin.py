"""Unpin: clear a session's pinned state, recording a SessionUnpinned change.

``ValidateProto -> CheckIdempotency -> ExtractResourceId -> LoadExistingForDelete ->
CheckVersion -> SetPinned -> Persist -> AppendEvent -> RememberRequest``

The same pipeline as pin (see ``pin.build_pinning``) with the other state: a missing
session is NOT_FOUND, an unpinned one is returned unchanged with no change recorded.
"""

from __future__ import annotations

import protovalidate

from pipeline.events import EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.pipeline import Pipeline
from stigmer_sessions.api import SessionId
from stigmer_sessions.controller.pin import build_pinning


def build(
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
) -> Pipeline[SessionId]:
    return build_pinning(False, validator, request_ttl_ns=request_ttl_ns, hub=hub)
