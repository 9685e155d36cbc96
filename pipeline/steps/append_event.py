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
    ``ctx[IMPERSONATED_BY]`` (and the key ``carry`` or ``carry_all`` names); writes one
    ``ctx.kind.event_type`` change at the next revision and ``ctx[EVENT]``.

    A command with a ``reason`` field (e.g. a transition) passes it on. The type is
    ``<Kind><verb>``; without a ``verb`` it is Created when nothing existed
    before, else Updated. A write that changed nothing records nothing. If the change cannot
    be written the whole transaction fails, so there is never a mutation without its change
    nor a change without its mutation. After commit, ``hub`` (if any) wakes the watchers.

    With ``carry`` (a key holding a child record the write stored, e.g. CHILD) or
    ``carry_all`` (a key holding the child records, e.g. CHILDREN: a batch) the change
    carries them and only a reference to the resource (:func:`pipeline.events.record`):
    still one change per write, however many children it stored. With ``detail`` (a key
    holding a partial change of the kind's change type, set by an earlier step) the change
    also says what that step put there (``pipeline.events.record``).
    """

    verb: str | None = None
    hub: EventHub | None = None
    carry: Key[Message] | None = None
    carry_all: Key[list[Any]] | None = None
    detail: Key[Any] | None = None

    def __call__(self, ctx: RequestContext[Any]) -> None:
        if ctx.get(UNCHANGED, False):
            return
        verb = self.verb or ("Updated" if ctx.get(EXISTING) is not None else "Created")
        children: list[Message] = []
        if self.carry is not None:
            children.append(ctx[self.carry])
        if self.carry_all is not None:
            stored: list[Any] = ctx[self.carry_all]
            children.extend(stored)
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
            children=children,
            detail=ctx[self.detail] if self.detail is not None else None,
        )
        ctx[EVENT] = event
        if self.hub is not None:
            hub, revision = self.hub, event.revision
            ctx.after_commit.append(lambda: hub.publish(revision))
