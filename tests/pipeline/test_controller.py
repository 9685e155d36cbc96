"""KindController's message types come from the kind's gRPC services."""

from __future__ import annotations

from pipeline.controller import KindTypes
from stigmer_sessions import agent_instance, session
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceChangeList,
    AgentInstanceId,
    ApiResourceReference,
    ListAgentInstanceChangesRequest,
    ListSessionChangesRequest,
    Session,
    SessionChangeList,
    SessionId,
    WatchAgentInstanceChangesRequest,
    WatchAgentInstanceChangesResponse,
    WatchSessionChangesRequest,
    WatchSessionChangesResponse,
)


def test_the_types_are_read_from_the_services() -> None:
    assert KindTypes.served_by(session.SERVICES) == KindTypes(
        Session,
        SessionId,
        ApiResourceReference,
        ListSessionChangesRequest,
        SessionChangeList,
        WatchSessionChangesRequest,
        WatchSessionChangesResponse,
    )
    assert KindTypes.served_by(agent_instance.SERVICES) == KindTypes(
        AgentInstance,
        AgentInstanceId,
        ApiResourceReference,
        ListAgentInstanceChangesRequest,
        AgentInstanceChangeList,
        WatchAgentInstanceChangesRequest,
        WatchAgentInstanceChangesResponse,
    )
