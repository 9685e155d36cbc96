"""The Session resource kind: what the generic pipeline needs to store and index sessions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.resource import Index, ResourceKind, metadata_indexes, owner_index
from stigmer_sessions.api import Session, SessionChange

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
    phase_field="state.phase",
    indexes=(
        *metadata_indexes(),
        Index(AGENT_INSTANCE_INDEX, _agent_instance),
        Index(ORG_AGENT_INSTANCE_INDEX, _org_agent_instance),
        Index(PHASE_INDEX, _phase),  # restart recovery finds live sessions without a scan
        owner_index(),  # per-owner quotas
    ),
)
