"""Steps only these kinds use (sessions, and what ties sessions to agent instances)."""

from stigmer_sessions.steps.append_message import AppendMessage
from stigmer_sessions.steps.append_messages import AppendMessages
from stigmer_sessions.steps.apply_transition import ApplyTransition
from stigmer_sessions.steps.clear_messages import ClearMessages
from stigmer_sessions.steps.enforce_batch_limits import EnforceBatchLimits
from stigmer_sessions.steps.guard_sessions import GuardSessions
from stigmer_sessions.steps.list_messages import ListMessages
from stigmer_sessions.steps.pop_messages import PopMessages
from stigmer_sessions.steps.require_agent_instance import RequireAgentInstance
from stigmer_sessions.steps.resume_conversation import ResumeConversation
from stigmer_sessions.steps.set_pinned import SetPinned

__all__ = [
    "AppendMessage",
    "AppendMessages",
    "ApplyTransition",
    "ClearMessages",
    "EnforceBatchLimits",
    "GuardSessions",
    "ListMessages",
    "PopMessages",
    "RequireAgentInstance",
    "ResumeConversation",
    "SetPinned",
]
