"""FilterByAgentInstance: ListByAgent reads the agent-instance index, never all sessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import InvalidArgument
from pipeline.keys import LIST_SCOPE
from pipeline.listing import ListScope
from stigmer_sessions.resource import AGENT_INSTANCE_INDEX, ORG_AGENT_INSTANCE_INDEX


@dataclass(frozen=True, slots=True)
class FilterByAgentInstance:
    """Reads ``ctx.input.agent_id`` (matched against ``spec.agent_instance_id``, as Stigmer
    does) and ``ctx.input.org``; writes ``ctx[LIST_SCOPE]`` for ListPage. Raises
    InvalidArgument when agent_id is empty."""

    def __call__(self, ctx: RequestContext[Any]) -> None:
        agent_id, org = ctx.input.agent_id, ctx.input.org
        if not agent_id:
            raise InvalidArgument.for_field("agent_id", "is required", "required")
        if org:
            ctx[LIST_SCOPE] = ListScope(ORG_AGENT_INSTANCE_INDEX, (org, agent_id))
        else:
            ctx[LIST_SCOPE] = ListScope(AGENT_INSTANCE_INDEX, (agent_id,))
