"""stigmer-sessions: Stigmer-compatible Session resources on embedded LMDB.

Over gRPC, :class:`stigmer_sessions.client.SessionClient` has the same methods.

>>> from stigmer_sessions import SessionController, Session
>>> with SessionController("./data") as sessions:
...     created = sessions.create(session)  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

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
from pipeline.lazy import lazy_attributes
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

# The controllers (and with them the store, LMDB and the validator) load on first use (PEP
# 562), so ``import stigmer_sessions.client`` stays light.
_LAZY = {
    "AsyncSessionClient": "stigmer_sessions.client",
    "SessionClient": "stigmer_sessions.client",
    "AgentInstanceController": "stigmer_sessions.controller.agent_instance_controller",
    "SessionController": "stigmer_sessions.controller.session_controller",
}

if TYPE_CHECKING:
    from stigmer_sessions.client import AsyncSessionClient, SessionClient
    from stigmer_sessions.controller.agent_instance_controller import AgentInstanceController
    from stigmer_sessions.controller.session_controller import SessionController


__getattr__, __dir__ = lazy_attributes("stigmer_sessions", _LAZY, globals())


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
    "AsyncSessionClient",
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
    "SessionClient",
    "SessionController",
    "SessionId",
    "SessionList",
    "SessionSpec",
    "retry_on_conflict",
]
