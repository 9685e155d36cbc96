from pipeline.keys import EXISTING, UNCHANGED
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import PopSessionMessagesRequest
from stigmer_sessions.steps import PopMessages
from stigmer_sessions.steps.keys import REMOVAL, REMOVED
from tests.conftest import RunStep, make_session

#: After any real clock reading: a history write is never dated before the last one.
NOW = 4_000_000_000 * 10**9


def _session_with(controller: SessionController, *contents: str) -> str:
    session = controller.create(make_session())
    controller.append_messages(session.metadata.id, [("user", c) for c in contents])
    return str(session.metadata.id)


def test_removes_the_latest_in_sequence_order_and_keeps_the_high_water_mark(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    sid = _session_with(controller, "a", "b", "c", "d")
    session = controller.get(sid)
    ctx = run_step(
        PopMessages(),
        PopSessionMessagesRequest(session_id=sid, count=3),
        values={EXISTING: session},
        now_ns=NOW,
    )
    removed = ctx[REMOVED]
    assert [(m.sequence, m.content) for m in removed.messages] == [(2, "b"), (3, "c"), (4, "d")]
    assert removed.total_size == 1
    state = ctx.new_state.state
    assert (state.message_count, state.last_sequence, state.last_activity_at.ToNanoseconds()) == (1, 4, NOW)
    assert ctx.new_state.metadata.version.previous_version_id == session.metadata.version.id
    assert ctx[UNCHANGED] is False
    change = ctx[REMOVAL].removed
    assert (change.after_sequence, change.last_sequence, change.count) == (1, 4, 3)
    assert list(change.message_ids) == [m.id for m in removed.messages]
    assert [seq for seq, _ in store.read(lambda tx: list(tx.children.scan("session", sid)))] == [1]


def test_nothing_to_remove_is_unchanged(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    session = controller.create(make_session())
    before = store.snapshot()
    ctx = run_step(
        PopMessages(), PopSessionMessagesRequest(session_id=session.metadata.id), values={EXISTING: session}
    )
    assert ctx[UNCHANGED] is True and ctx.new_state == session
    assert list(ctx[REMOVED].messages) == [] and ctx[REMOVED].total_size == 0
    assert store.snapshot() == before


def test_stops_at_the_byte_budget_removing_at_least_one(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    sid = _session_with(controller, "x" * 600, "y" * 600, "z" * 600)
    ctx = run_step(
        PopMessages(max_bytes=1000),
        PopSessionMessagesRequest(session_id=sid, count=3),
        values={EXISTING: controller.get(sid)},
    )
    assert [m.sequence for m in ctx[REMOVED].messages] == [3]
    assert ctx.new_state.state.message_count == 2
    assert [seq for seq, _ in store.read(lambda tx: list(tx.children.scan("session", sid)))] == [1, 2]


def test_the_input_is_not_mutated(run_step: RunStep, controller: SessionController) -> None:
    sid = _session_with(controller, "a")
    request = PopSessionMessagesRequest(session_id=sid, count=2)
    before = request.SerializeToString()
    run_step(PopMessages(), request, values={EXISTING: controller.get(sid)})
    assert request.SerializeToString() == before
