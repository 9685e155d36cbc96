"""AppendEvent: every mutation records one change, in the mutation's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline import events
from pipeline.context import Key, RequestContext
from pipeline.events import EventHub
from pipeline.keys import CAUSED_BY, EVENT, EXISTING, IMPERSONATED_BY, REQUEST_ID, RESPONSE, UNCHANGED


@dataclass(frozen=True, slots=True)
class AppendEvent:
    """Reads ``ctx[RESPONSE]`` (the resource after the change; before it, for a delete),
    ``ctx[UNCHANGED]``, ``ctx[EXISTING]``, ``ctx[REQUEST_ID]``, ``ctx[CAUSED_BY]``,
    ``ctx[IMPERSONATED_BY]`` (and the key ``carry`` or ``carry_each`` names); writes one
    ``ctx.kind.event_type`` change at the next revision and ``ctx[EVENT]``.

    A command with a ``reason`` field (e.g. a transition) passes it on. The type is
    ``<Kind><verb>``; without a ``verb`` it is Created when nothing existed
    before, else Updated. A write that changed nothing records nothing. If the change cannot
    be written the whole transaction fails, so there is never a mutation without its change
    nor a change without its mutation. After commit, ``hub`` (if any) wakes the watchers.

    With ``carry`` (a key holding a child record, e.g. CHILD) the change carries that child
    and only a reference to the resource (:func:`pipeline.events.record`). With
    ``carry_each`` (a key holding the children a write stored, e.g. CHILDREN) it records one
    such change per child, in order at consecutive revisions (``ctx[EVENT]``: the last): a
    batch then looks, in the feed, like its items written one by one. Watchers are woken
    once.
    """

    verb: str | None = None
    hub: EventHub | None = None
    carry: Key[Message] | None = None
    carry_each: Key[list[Any]] | None = None

    def __call__(self, ctx: RequestContext[Any]) -> None:
        if ctx.get(UNCHANGED, False):
            return
        verb = self.verb or ("Updated" if ctx.get(EXISTING) is not None else "Created")
        children: list[Message | None]
        if self.carry_each is not None:
            stored: list[Any] = ctx[self.carry_each]
            children = list(stored)
        else:
            children = [None if self.carry is None else ctx[self.carry]]
        event = None
        for child in children:
            event = events.record(
                ctx.tx,
                ctx.kind,
                ctx[RESPONSE],
                verb,
                actor=ctx.actor,
                now_ns=ctx.now_ns,
                request_id=ctx.get(REQUEST_ID, ""),
                caused_by=ctx.get(CAUSED_BY, ""),
                reason=getattr(ctx.input, "reason", ""),
                impersonated_by=ctx.get(IMPERSONATED_BY, ""),
                child=child,
            )
        if event is None:  # carry_each of nothing: nothing was written, nothing to record
            return
        ctx[EVENT] = event
        if self.hub is not None:
            hub, revision = self.hub, event.revision
            ctx.after_commit.append(lambda: hub.publish(revision))
