"""The Session and AgentInstance API messages, re-exported from the generated code under stable names."""

from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1.change_pb2 import (
    AgentInstanceChange,
    AgentInstanceChangeBookmark,
    AgentInstanceChangeList,
    ListAgentInstanceChangesRequest,
    WatchAgentInstanceChangesRequest,
    WatchAgentInstanceChangesResponse,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1.io_pb2 import (
    AgentInstanceId,
    AgentInstanceList,
    GetAgentInstancesByAgentRequest,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1.spec_pb2 import AgentInstanceSpec
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1.api_pb2 import Session, SessionState
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1.change_pb2 import (
    ListSessionChangesRequest,
    SessionChange,
    SessionChangeBookmark,
    SessionChangeList,
    SessionMessagesRemoval,
    WatchSessionChangesRequest,
    WatchSessionChangesResponse,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1.io_pb2 import (
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    SessionId,
    SessionList,
    TransitionSessionRequest,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1.message_pb2 import (
    AppendSessionMessageRequest,
    AppendSessionMessagesRequest,
    ClearSessionMessagesRequest,
    ListSessionMessagesRequest,
    PopSessionMessagesRequest,
    ResumeSessionRequest,
    ResumeSessionResponse,
    SessionMessage,
    SessionMessageInput,
    SessionMessageList,
    SessionMessageRole,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1.spec_pb2 import SessionSpec
from stigmer_sessions._gen.ai.stigmer.commons.apiresource.apiresourcekind.api_resource_kind_pb2 import (
    ApiResourceKind,
)
from stigmer_sessions._gen.ai.stigmer.commons.apiresource.enum_pb2 import (
    ApiResourceEventType,
    ApiResourceOwnerScope,
)
from stigmer_sessions._gen.ai.stigmer.commons.apiresource.io_pb2 import ApiResourceReference
from stigmer_sessions._gen.ai.stigmer.commons.apiresource.metadata_pb2 import (
    ApiResourceMetadata,
    ApiResourceMetadataVersion,
)
from stigmer_sessions._gen.ai.stigmer.commons.apiresource.status_pb2 import (
    ApiResourceAudit,
    ApiResourceAuditActor,
    ApiResourceAuditInfo,
    ApiResourceAuditStatus,
)
from stigmer_sessions._gen.ai.stigmer.commons.rpc.pagination_pb2 import PageInfo

__all__ = [
    "AgentInstance",
    "AgentInstanceChange",
    "AgentInstanceChangeBookmark",
    "AgentInstanceChangeList",
    "AgentInstanceId",
    "AgentInstanceList",
    "AgentInstanceSpec",
    "ApiResourceAudit",
    "ApiResourceAuditActor",
    "ApiResourceAuditInfo",
    "ApiResourceAuditStatus",
    "ApiResourceEventType",
    "ApiResourceKind",
    "ApiResourceMetadata",
    "ApiResourceMetadataVersion",
    "ApiResourceOwnerScope",
    "ApiResourceReference",
    "AppendSessionMessageRequest",
    "AppendSessionMessagesRequest",
    "ClearSessionMessagesRequest",
    "GetAgentInstancesByAgentRequest",
    "ListAgentInstanceChangesRequest",
    "ListSessionChangesRequest",
    "ListSessionMessagesRequest",
    "ListSessionsByAgentRequest",
    "ListSessionsRequest",
    "PageInfo",
    "PopSessionMessagesRequest",
    "ResumeSessionRequest",
    "ResumeSessionResponse",
    "Session",
    "SessionChange",
    "SessionChangeBookmark",
    "SessionChangeList",
    "SessionId",
    "SessionList",
    "SessionMessage",
    "SessionMessageInput",
    "SessionMessageList",
    "SessionMessageRole",
    "SessionMessagesRemoval",
    "SessionSpec",
    "SessionState",
    "TransitionSessionRequest",
    "WatchAgentInstanceChangesRequest",
    "WatchAgentInstanceChangesResponse",
    "WatchSessionChangesRequest",
    "WatchSessionChangesResponse",
]
