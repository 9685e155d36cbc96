"""List the change feed, oldest first, optionally for one session or org, after a revision.

``ValidateProto -> ListEvents``
"""

from __future__ import annotations

import protovalidate

from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from pipeline.pipeline import Pipeline
from pipeline.steps import ListEvents, ValidateProto
from stigmer_sessions.api import ListSessionChangesRequest, SessionChangeList


def build(
    validator: protovalidate.Validator | None = None, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
) -> Pipeline[ListSessionChangesRequest]:
    return Pipeline(
        "session.listChanges",
        [
            ValidateProto(validator),
            ListEvents(SessionChangeList, resource_field="session_id", max_bytes=max_response_bytes),
        ],
        write=False,
    )
