"""List the sessions of one agent instance (``agent_id``), newest first, optionally in one org.

``ValidateProto -> FilterByAgentInstance -> ListPage -> BuildListResponse``
"""

from __future__ import annotations

import protovalidate

from pipeline.pipeline import Pipeline
from pipeline.steps import BuildListResponse, ListPage, ValidateProto
from stigmer_sessions.api import ListSessionsByAgentRequest, SessionList
from stigmer_sessions.steps import FilterByAgentInstance


def build(validator: protovalidate.Validator | None = None) -> Pipeline[ListSessionsByAgentRequest]:
    return Pipeline(
        "session.listByAgent",
        [ValidateProto(validator), FilterByAgentInstance(), ListPage(), BuildListResponse(SessionList)],
        write=False,
    )
