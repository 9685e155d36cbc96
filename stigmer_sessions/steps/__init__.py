"""Session-specific steps."""

from stigmer_sessions.steps.filter_by_agent_instance import FilterByAgentInstance
from stigmer_sessions.steps.set_pinned import SetPinned

__all__ = ["FilterByAgentInstance", "SetPinned"]
