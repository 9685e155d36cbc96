"""GuardSessions: what deleting an agent instance does to the sessions that name it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline import events
from pipeline.context import RequestContext
from pipeline.errors import FailedPrecondition, quote
from pipeline.keys import CASCADE, CAUSED_BY, EXISTING, IMPERSONATED_BY, REQUEST_ID
from pipeline.resource import ResourceKind
from stigmer_sessions.resource import ORG_AGENT_INSTANCE_INDEX, SESSION


@dataclass(frozen=True, slots=True)
class GuardSessions:
    """Reads ``ctx[EXISTING]`` (the agent instance being deleted), ``ctx[CASCADE]``,
    ``ctx[REQUEST_ID]``, ``ctx[CAUSED_BY]``, ``ctx[IMPERSONATED_BY]``; deletes sessions
    (with their messages, each with a SessionDeleted change) when cascading; raises
    FailedPrecondition naming how many sessions of the instance's org still name it when
    ``refuse`` and not cascading.

    With ``refuse`` (``--require-agent-instance``) an instance with sessions cannot go
    unless the caller asks for the cascade (``x-cascade: true``); without it the sessions
    stay, as in Stigmer, unless the caller asks. Either way it is the delete's transaction:
    the instance and every cascaded session go together, or nothing does.
    """

    refuse: bool = False
    #: The Session kind as served (with its optional indexes, so a cascade removes theirs).
    sessions: ResourceKind[Any] = SESSION

    def __call__(self, ctx: RequestContext[Any]) -> None:
        instance = ctx[EXISTING]
        key = (instance.metadata.org, instance.metadata.id)
        sessions = ctx.tx.records(self.sessions)
        if not ctx.get(CASCADE, False):
            count = sessions.count(ORG_AGENT_INSTANCE_INDEX, key) if self.refuse else 0
            if count:
                raise FailedPrecondition(
                    f"agent instance {quote(instance.metadata.id)} still has {count} session(s) in org "
                    f"{quote(instance.metadata.org)}: delete them first, or delete with cascade "
                    f"(x-cascade: true) to delete them with it"
                )
            return
        request_id = ctx.get(REQUEST_ID, "")
        caused_by = ctx.get(CAUSED_BY, "") or request_id
        reason = f"cascade: agent instance {instance.metadata.id} deleted"
        for session, _ in list(sessions.scan_sized(ORG_AGENT_INSTANCE_INDEX, key)):
            sessions.delete(session)
            ctx.tx.children.delete_all(self.sessions.name, session.metadata.id)
            events.record(
                ctx.tx,
                self.sessions,
                session,
                "Deleted",
                actor=ctx.actor,
                now_ns=ctx.now_ns,
                request_id=request_id,
                caused_by=caused_by,
                reason=reason,
                impersonated_by=ctx.get(IMPERSONATED_BY, ""),
            )
