"""stigmer-sessions: Stigmer-compatible Session resources on embedded LMDB.

>>> from stigmer_sessions import SessionController, Session
>>> with SessionController("./data") as sessions:
...     created = sessions.create(session)  # doctest: +SKIP
"""

from pipeline.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    ResourceError,
)
from pipeline.retry import retry_on_conflict
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceId,
    AgentInstanceList,
    AgentInstanceSpec,
    ApiResourceMetadata,
    ApiResourceOwnerScope,
    ApiResourceReference,
    GetAgentInstancesByAgentRequest,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    PageInfo,
    Session,
    SessionId,
    SessionList,
    SessionSpec,
)
from stigmer_sessions.controller.agent_instance_controller import AgentInstanceController
from stigmer_sessions.controller.session_controller import SessionController

__all__ = [
    "Aborted",
    "AgentInstance",
    "AgentInstanceController",
    "AgentInstanceId",
    "AgentInstanceList",
    "AgentInstanceSpec",
    "AlreadyExists",
    "ApiResourceMetadata",
    "ApiResourceOwnerScope",
    "ApiResourceReference",
    "FailedPrecondition",
    "FieldViolation",
    "GetAgentInstancesByAgentRequest",
    "Internal",
    "InvalidArgument",
    "ListSessionsByAgentRequest",
    "ListSessionsRequest",
    "NotFound",
    "PageInfo",
    "ResourceError",
    "Session",
    "SessionController",
    "SessionId",
    "SessionList",
    "SessionSpec",
    "retry_on_conflict",
]
