"""List sessions, newest first, filtered by org and tags, one page at a time.

``ValidateProto -> ListPage -> BuildListResponse``
"""

from __future__ import annotations

import protovalidate

from pipeline.pipeline import Pipeline
from pipeline.steps import BuildListResponse, ListPage, ValidateProto
from stigmer_sessions.api import ListSessionsRequest, SessionList


def build(validator: protovalidate.Validator | None = None) -> Pipeline[ListSessionsRequest]:
    return Pipeline(
        "session.list",
        [ValidateProto(validator), ListPage(), BuildListResponse(SessionList)],
        write=False,
    )
