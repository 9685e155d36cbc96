"""AppendEvent: every mutation records one change, in the mutation's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import Internal
from pipeline.events import EventHub
from pipeline.ids import new_id
from pipeline.keys import CAUSED_BY, EVENT, EXISTING, REQUEST_ID, RESPONSE, UNCHANGED


@dataclass(frozen=True, slots=True)
class AppendEvent:
    """Reads ``ctx[RESPONSE]`` (the resource after the change; before it, for a delete),
    ``ctx[UNCHANGED]``, ``ctx[EXISTING]``, ``ctx[REQUEST_ID]``, ``ctx[CAUSED_BY]``; writes
    one ``ctx.kind.event_type`` change at the next revision and ``ctx[EVENT]``.

    A command with a ``reason`` field (e.g. a transition) passes it on. The type is
    ``<Kind><verb>``; without a ``verb`` it is Created when nothing existed
    before, else Updated. A write that changed nothing records nothing. If the change cannot
    be written the whole transaction fails, so there is never a mutation without its change
    nor a change without its mutation. After commit, ``hub`` (if any) wakes the watchers.
    """

    verb: str | None = None
    hub: EventHub | None = None

    def __call__(self, ctx: RequestContext[Any]) -> None:
        if ctx.get(UNCHANGED, False):
            return
        event_type = ctx.kind.event_type
        if event_type is None:
            raise Internal(f"{ctx.kind.name} has no change type; AppendEvent cannot record it")
        resource = ctx[RESPONSE]
        verb = self.verb or ("Updated" if ctx.get(EXISTING) is not None else "Created")
        request_id = ctx.get(REQUEST_ID, "")
        event = event_type(
            id=new_id("chg", ctx.now_ns),
            type=f"{ctx.kind.kind}{verb}",
            resource_kind=ctx.kind.name,
            resource_id=resource.metadata.id,
            org=resource.metadata.org,
            actor_id=ctx.actor,
            request_id=request_id,
            caused_by=ctx.get(CAUSED_BY) or request_id,
            reason=getattr(ctx.input, "reason", ""),
        )
        event.time.FromNanoseconds(ctx.now_ns)  # type: ignore[attr-defined]
        getattr(event, ctx.kind.event_resource_field).CopyFrom(resource)
        revision = ctx.tx.changes.append(
            event,
            kind=ctx.kind.name,
            resource_id=resource.metadata.id,
            org=resource.metadata.org,
            time_ns=ctx.now_ns,
        )
        ctx[EVENT] = event
        if self.hub is not None:
            hub = self.hub
            ctx.after_commit.append(lambda: hub.publish(revision))
