"""AgentInstanceController: agent instances in-process (``SessionController.agent_instances``).

The standard operations come from :class:`pipeline.controller.KindController`, typed with the
AgentInstance messages; getByAgent, the kind's own, from
:class:`stigmer_sessions.methods.AgentInstanceMethods` (shared with the clients). Each method
runs the pipeline the RPC of the same name runs.
"""

from __future__ import annotations

from pipeline.controller import KindController
from pipeline.service import Resources
from stigmer_sessions.api import AgentInstance, AgentInstanceChangeList, WatchAgentInstanceChangesResponse
from stigmer_sessions.methods import AGENT_INSTANCE_TYPES as TYPES
from stigmer_sessions.methods import AgentInstanceMethods
from stigmer_sessions.resource import AGENT_INSTANCE


class AgentInstanceController(
    AgentInstanceMethods,
    KindController[AgentInstance, AgentInstanceChangeList, WatchAgentInstanceChangesResponse],
):
    """Agent instance operations on the store of the :class:`Resources` given (thread-safe).
    ``delete(..., cascade=True)`` also deletes the sessions that name the instance."""

    def __init__(self, resources: Resources) -> None:
        super().__init__(resources, AGENT_INSTANCE.name, TYPES)
