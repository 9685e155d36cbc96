from typing import Any

from pipeline import events
from pipeline.context import RequestContext
from pipeline.events import EventHub
from pipeline.keys import CAUSED_BY, EVENT, EXISTING, REQUEST_ID, RESPONSE
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import AppendSessionMessagesRequest, SessionChange, SessionMessageInput
from stigmer_sessions.steps import AppendMessages, RecordMessageChanges
from tests.conftest import RunStep, make_session


def test_one_message_appended_change_per_message_in_order_with_the_request_ids(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    session = controller.create(make_session())
    request = AppendSessionMessagesRequest(
        session_id=session.metadata.id,
        messages=[SessionMessageInput(role="role_user", content=c) for c in ("a", "b", "c")],
    )
    revision = store.read(lambda tx: tx.changes.current_revision())
    hub = EventHub(revision)

    def append_then_record(ctx: RequestContext[Any]) -> None:
        AppendMessages()(ctx)
        ctx[RESPONSE] = ctx.new_state  # as Persist leaves it
        RecordMessageChanges(hub)(ctx)

    values = {EXISTING: session, REQUEST_ID: "req-9", CAUSED_BY: "cause"}
    ctx = run_step(append_then_record, request, values=values, actor="ann")

    found = store.read(
        lambda tx: list(events.scan(tx, SessionChange, kind="session", after_revision=revision))
    )
    assert [(c.type, c.revision) for c in found] == [
        ("SessionMessageAppended", revision + 1),
        ("SessionMessageAppended", revision + 2),
        ("SessionMessageAppended", revision + 3),
    ]
    assert all((c.actor_id, c.request_id, c.caused_by) == ("ann", "req-9", "cause") for c in found)
    assert all(c.session == ctx.new_state and c.resource_id == session.metadata.id for c in found)
    assert ctx[EVENT].revision == revision + 3
    assert hub.revision == revision  # woken only after commit, once
    for callback in ctx.after_commit:
        callback()
    assert len(ctx.after_commit) == 1 and hub.revision == revision + 3
