"""AgentInstanceController: agent instances in-process (``SessionController.agent_instances``).

The standard operations come from :class:`pipeline.controller.KindController`, typed with the
AgentInstance messages; only getByAgent is the kind's own. Each method runs the pipeline the
RPC of the same name runs.
"""

from __future__ import annotations

from typing import Any

from pipeline.auth import Principal
from pipeline.controller import KindController, KindTypes
from pipeline.service import Resources
from stigmer_sessions.agent_instance import SERVICES
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceChangeList,
    AgentInstanceList,
    GetAgentInstancesByAgentRequest,
    WatchAgentInstanceChangesResponse,
)
from stigmer_sessions.resource import AGENT_INSTANCE

TYPES = KindTypes.served_by(SERVICES)


class AgentInstanceController(
    KindController[AgentInstance, AgentInstanceChangeList, WatchAgentInstanceChangesResponse]
):
    """Agent instance operations on the store of the :class:`Resources` given (thread-safe).
    ``delete(..., cascade=True)`` also deletes the sessions that name the instance."""

    def __init__(self, resources: Resources) -> None:
        super().__init__(resources, AGENT_INSTANCE.name, TYPES)

    def get_by_agent(
        self,
        request: GetAgentInstancesByAgentRequest | None = None,
        *,
        principal: Principal | None = None,
        **fields: Any,
    ) -> AgentInstanceList:
        """One page of the instances of ``agent_id``: ``get_by_agent(agent_id="agt-1",
        page_info=PageInfo(num=2, size=20))``, or ``page_token=``; ``org=`` narrows."""
        request = request or GetAgentInstancesByAgentRequest(**fields)
        return self.call("getByAgent", request, AgentInstanceList, principal=principal)
