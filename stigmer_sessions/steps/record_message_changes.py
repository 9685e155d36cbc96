"""RecordMessageChanges: a batch of appended messages records one change per message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline import events
from pipeline.context import RequestContext
from pipeline.events import EventHub
from pipeline.keys import CAUSED_BY, EVENT, IMPERSONATED_BY, REQUEST_ID, RESPONSE
from stigmer_sessions.api import SessionMessage
from stigmer_sessions.steps.keys import APPENDED

VERB = "MessageAppended"


@dataclass(frozen=True, slots=True)
class RecordMessageChanges:
    """Reads ``ctx[APPENDED]`` (the stored messages), ``ctx[RESPONSE]`` (the session as
    stored after the batch), ``ctx[REQUEST_ID]``, ``ctx[CAUSED_BY]``,
    ``ctx[IMPERSONATED_BY]``; writes one ``SessionMessageAppended`` change per message, in
    sequence order at consecutive revisions, all with the request's ids, and ``ctx[EVENT]``
    (the last). After commit, ``hub`` (if any) wakes the watchers once.

    The same change type, one per message, as appendMessage records: a watcher following a
    session's messages sees the same feed whether the writer batched or not. Each change
    carries the session as stored after the whole batch (the only state ever stored).
    """

    hub: EventHub | None = None

    def __call__(self, ctx: RequestContext[Any]) -> None:
        event = None
        for message in ctx[APPENDED].messages:
            event = self._record(ctx, message)
        if event is None:  # a batch has at least one message (the protos)
            return
        ctx[EVENT] = event
        if self.hub is not None:
            hub, revision = self.hub, event.revision
            ctx.after_commit.append(lambda: hub.publish(revision))

    @staticmethod
    def _record(ctx: RequestContext[Any], message: SessionMessage) -> Any:
        """The change of one appended message (the one place it is built)."""
        return events.record(
            ctx.tx,
            ctx.kind,
            ctx[RESPONSE],
            VERB,
            actor=ctx.actor,
            now_ns=ctx.now_ns,
            request_id=ctx.get(REQUEST_ID, ""),
            caused_by=ctx.get(CAUSED_BY, ""),
            impersonated_by=ctx.get(IMPERSONATED_BY, ""),
        )
