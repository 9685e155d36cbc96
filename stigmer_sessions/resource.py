"""The resource kinds (Session, AgentInstance): what the generic pipeline needs to store and index them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.resource import Index, ResourceKind, metadata_indexes, owner_index
from stigmer_sessions.api import AgentInstance, AgentInstanceChange, Session, SessionChange

AGENT_INSTANCE_INDEX = "agent_instance"
PHASE_INDEX = "phase"
ORG_AGENT_INSTANCE_INDEX = "org_agent_instance"


def _agent_instance(s: Any) -> Iterable[tuple[str, ...]]:
    return [(s.spec.agent_instance_id,)]


def _org_agent_instance(s: Any) -> Iterable[tuple[str, ...]]:
    return [(s.metadata.org, s.spec.agent_instance_id)]


def _phase(s: Any) -> Iterable[tuple[str, ...]]:
    return [(s.state.phase,)]


SESSION: ResourceKind[Session] = ResourceKind(
    name="session",
    kind="Session",
    api_version="agentic.stigmer.ai/v1",
    id_prefix="ses",
    message_type=Session,
    server_fields=("status", "state"),
    event_type=SessionChange,
    event_resource_field="session",
    event_child_field="messages",
    phase_field="state.phase",
    indexes=(
        *metadata_indexes(),
        Index(AGENT_INSTANCE_INDEX, _agent_instance, reads=("spec.agent_instance_id",)),
        Index(
            ORG_AGENT_INSTANCE_INDEX, _org_agent_instance, reads=("metadata.org", "spec.agent_instance_id")
        ),
    ),
    optional_indexes=(
        # restart recovery (a lifecycle with a recovery phase) finds live sessions without a scan
        Index(PHASE_INDEX, _phase, reads=("state.phase",)),
        owner_index(),  # per-owner quotas (max_sessions_per_owner)
    ),
)


AGENT_INDEX = "agent"
ORG_AGENT_INDEX = "org_agent"


def _agent(a: Any) -> Iterable[tuple[str, ...]]:
    return [(a.spec.agent_id,)]


def _org_agent(a: Any) -> Iterable[tuple[str, ...]]:
    return [(a.metadata.org, a.spec.agent_id)]


AGENT_INSTANCE: ResourceKind[AgentInstance] = ResourceKind(
    name="agent_instance",
    kind="AgentInstance",
    api_version="agentic.stigmer.ai/v1",
    id_prefix="ain",
    message_type=AgentInstance,
    event_type=AgentInstanceChange,
    event_resource_field="agent_instance",
    indexes=(
        *metadata_indexes(),
        Index(AGENT_INDEX, _agent, reads=("spec.agent_id",)),  # getByAgent
        Index(ORG_AGENT_INDEX, _org_agent, reads=("metadata.org", "spec.agent_id")),  # getByAgent in one org
    ),
)
