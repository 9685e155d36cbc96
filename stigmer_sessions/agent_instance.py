"""The AgentInstance kind's service: Stigmer's AgentInstance, built from the standard operations.

Everything here is what the kind states; every step is generic. Create, update, apply,
delete, get, getByReference and listChanges are :mod:`pipeline.operations` with one rule
(size limits, the same configured bounds as a session's); getByAgent is the generic list
with Stigmer's page numbers. No generated names, quota or lifecycle: an agent instance is
configuration, named by its creator.
"""

from __future__ import annotations

from typing import Any

from pipeline import operations as ops
from pipeline.auth import Role
from pipeline.operations import Rules, Settings, operation
from pipeline.pipeline import Pipeline
from pipeline.resource import ResourceKind
from pipeline.service import ChangeFeed, KindService
from pipeline.steps import (
    Authorize,
    BuildListResponse,
    EnforceSizeLimits,
    ListPage,
    PageByNumber,
    ScopeToIndex,
    SizeLimit,
    ValidateProto,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import change_pb2, command_pb2, query_pb2
from stigmer_sessions.api import AgentInstanceChangeList, AgentInstanceList, WatchAgentInstanceChangesResponse
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.resource import AGENT_INDEX, AGENT_INSTANCE, ORG_AGENT_INDEX
from stigmer_sessions.steps import GuardSessions

SERVICES = (
    command_pb2.DESCRIPTOR.services_by_name["AgentInstanceCommandController"],
    query_pb2.DESCRIPTOR.services_by_name["AgentInstanceQueryController"],
    change_pb2.DESCRIPTOR.services_by_name["AgentInstanceChangeController"],
)


def size_limits(config: SessionConfig) -> tuple[SizeLimit, ...]:
    """The annotations and the whole instance, bounded as a session's are (docs/limits.md)."""
    return (
        SizeLimit("metadata.annotations", config.max_annotations_bytes),
        SizeLimit("", config.max_session_bytes),
    )


def agent_instance_service(config: SessionConfig, s: Settings, sessions: ResourceKind[Any]) -> KindService:
    """Every AgentInstance operation. A delete first settles the ``sessions`` naming the
    instance (GuardSessions): refused while there are any with ``require_agent_instance``,
    deleted with it when the caller asks for the cascade."""
    rules = Rules(
        size_limits=EnforceSizeLimits(size_limits(config), "AgentInstance"),
        on_delete=(GuardSessions(config.require_agent_instance, sessions),),
    )
    return KindService(
        AGENT_INSTANCE,
        [
            ops.create(AGENT_INSTANCE, s, rules),
            ops.update(AGENT_INSTANCE, s, rules),
            ops.apply(AGENT_INSTANCE, s, rules),
            ops.delete(AGENT_INSTANCE, s, rules),
            ops.get(AGENT_INSTANCE, s),
            ops.get_by_reference(AGENT_INSTANCE, s),
            get_by_agent(s),
            ops.list_changes(AGENT_INSTANCE, s, AgentInstanceChangeList, "agent_instance_id"),
        ],
        services=SERVICES,
        feed=ChangeFeed(WatchAgentInstanceChangesResponse, "agent_instance_id"),
    )


def get_by_agent(s: Settings) -> Pipeline[Any]:
    return operation(
        AGENT_INSTANCE,
        "getByAgent",
        [
            Authorize(Role.VIEWER, "org"),
            ValidateProto(s.validator),
            ScopeToIndex("agent_id", AGENT_INDEX, ORG_AGENT_INDEX),
            PageByNumber(),
            ListPage(max_bytes=s.max_response_bytes),
            BuildListResponse(AgentInstanceList, entries="items", total="total_count", pages=None),
        ],
        write=False,
        doc="One page of the instances of one agent (spec.agent_id), newest first: by page_info "
        "number, or after a page_token; total_count counts every match.",
    )
