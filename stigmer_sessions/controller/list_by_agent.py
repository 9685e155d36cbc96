"""List the sessions of one agent instance (``agent_id``), newest first, optionally in one org.

``ValidateProto -> FilterByAgentInstance -> ListPage -> BuildListResponse``
"""

from __future__ import annotations

import protovalidate

from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from pipeline.pipeline import Pipeline
from pipeline.steps import BuildListResponse, ListPage, ValidateProto
from stigmer_sessions.api import ListSessionsByAgentRequest, SessionList
from stigmer_sessions.steps import FilterByAgentInstance


def build(
    validator: protovalidate.Validator | None = None, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
) -> Pipeline[ListSessionsByAgentRequest]:
    return Pipeline(
        "session.listByAgent",
        [
            ValidateProto(validator),
            FilterByAgentInstance(),
            ListPage(max_bytes=max_response_bytes),
            BuildListResponse(SessionList),
        ],
        write=False,
    )
