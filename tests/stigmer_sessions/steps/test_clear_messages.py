from pipeline.keys import EXISTING, UNCHANGED
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import ClearSessionMessagesRequest
from stigmer_sessions.steps import ClearMessages
from stigmer_sessions.steps.keys import REMOVAL
from tests.conftest import RunStep, make_session


def test_removes_every_message_and_keeps_the_session(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    session = controller.create(make_session())
    controller.append_messages(session.metadata.id, [("user", "a"), ("assistant", "b")])
    controller.pop_messages(session.metadata.id)
    controller.append_message(session.metadata.id, "user", "c")  # sequences 1, 3
    session = controller.get(session.metadata.id)
    sid = session.metadata.id
    ctx = run_step(ClearMessages(), ClearSessionMessagesRequest(session_id=sid), values={EXISTING: session})
    assert (ctx.new_state.state.message_count, ctx.new_state.state.last_sequence) == (0, 3)
    assert ctx.new_state.spec == session.spec and ctx[UNCHANGED] is False
    change = ctx[REMOVAL].removed
    assert (change.after_sequence, change.last_sequence, change.count, list(change.message_ids)) == (
        0,
        3,
        2,
        [],
    )
    assert store.read(lambda tx: list(tx.children.scan("session", sid))) == []


def test_an_empty_history_is_unchanged(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    session = controller.create(make_session())
    before = store.snapshot()
    ctx = run_step(
        ClearMessages(),
        ClearSessionMessagesRequest(session_id=session.metadata.id),
        values={EXISTING: session},
    )
    assert ctx[UNCHANGED] is True and ctx.new_state == session
    assert store.snapshot() == before
