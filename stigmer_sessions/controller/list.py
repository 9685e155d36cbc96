"""List sessions, newest first, filtered by org and tags, one page at a time.

``ValidateProto -> ListPage -> BuildListResponse``
"""

from __future__ import annotations

import protovalidate

from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from pipeline.pipeline import Pipeline
from pipeline.steps import BuildListResponse, ListPage, ValidateProto
from stigmer_sessions.api import ListSessionsRequest, SessionList


def build(
    validator: protovalidate.Validator | None = None, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
) -> Pipeline[ListSessionsRequest]:
    return Pipeline(
        "session.list",
        [ValidateProto(validator), ListPage(max_bytes=max_response_bytes), BuildListResponse(SessionList)],
        write=False,
    )
