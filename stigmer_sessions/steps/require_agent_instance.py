"""RequireAgentInstance: a session may only name an agent instance that exists in its org."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import FailedPrecondition, quote
from stigmer_sessions.resource import AGENT_INSTANCE


@dataclass(frozen=True, slots=True)
class RequireAgentInstance:
    """Reads ``ctx.new_state`` (``spec.agent_instance_id``, ``metadata.org``) and the agent
    instance records; raises FailedPrecondition when no agent instance of that id exists in
    the session's org.

    Off by default (Stigmer does not check): ``--require-agent-instance`` adds it to
    create, update and apply. It reads the instance in the write's own transaction, which
    locks it on PostgreSQL, so a concurrent delete of the instance either sees this session
    or makes this write fail: no session is left naming a deleted instance.
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        session = ctx.new_state
        instance_id, org = session.spec.agent_instance_id, session.metadata.org
        instance = ctx.tx.records(AGENT_INSTANCE).get(instance_id)
        if instance is None or instance.metadata.org != org:
            raise FailedPrecondition(
                f"agent instance {quote(instance_id)} does not exist in org {quote(org)}: create it "
                f"first (this server requires a session's agent instance to exist)"
            )
