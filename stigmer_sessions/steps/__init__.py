"""Session-specific steps."""

from stigmer_sessions.steps.filter_by_agent_instance import FilterByAgentInstance

__all__ = ["FilterByAgentInstance"]
