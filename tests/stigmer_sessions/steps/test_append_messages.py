from pipeline.keys import EXISTING, UNCHANGED
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import AppendSessionMessagesRequest, SessionMessage, SessionMessageInput
from stigmer_sessions.steps import AppendMessages
from stigmer_sessions.steps.keys import APPENDED
from tests.conftest import RunStep, make_session

#: After any real clock reading: a history write is never dated before the last one.
NOW = 4_000_000_000 * 10**9


def _batch(session_id: str, *contents: str) -> AppendSessionMessagesRequest:
    return AppendSessionMessagesRequest(
        session_id=session_id,
        messages=[
            SessionMessageInput(
                role="role_user" if i % 2 == 0 else "role_assistant", content=c, metadata={"i": str(i)}
            )
            for i, c in enumerate(contents)
        ],
    )


def test_appends_after_the_last_message_in_order_and_bumps_the_session_once(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    session = controller.create(make_session())
    controller.append_message(session.metadata.id, "user", "first")
    session = controller.get(session.metadata.id)
    request = _batch(session.metadata.id, "a", "b", "c")
    ctx = run_step(AppendMessages(), request, values={EXISTING: session}, actor="ann", now_ns=NOW)

    appended = ctx[APPENDED]
    assert [(m.sequence, m.role, m.content, dict(m.metadata)) for m in appended.messages] == [
        (2, 1, "a", {"i": "0"}),
        (3, 2, "b", {"i": "1"}),
        (4, 1, "c", {"i": "2"}),
    ]
    assert all(m.actor_id == "ann" and m.created_at.ToNanoseconds() == NOW for m in appended.messages)
    assert all(m.session_id == session.metadata.id and m.id.startswith("msg-") for m in appended.messages)
    assert len({m.id for m in appended.messages}) == 3
    assert appended.total_size == 4 and not appended.next_page_token
    state = ctx.new_state.state
    assert (state.message_count, state.last_activity_at.ToNanoseconds()) == (4, NOW)
    assert ctx.new_state.metadata.version.previous_version_id == session.metadata.version.id
    assert ctx[UNCHANGED] is False
    stored = store.read(lambda tx: list(tx.children.scan("session", session.metadata.id)))
    assert [(seq, SessionMessage.FromString(data)) for seq, data in stored][1:] == [
        (m.sequence, m) for m in appended.messages
    ]


def test_the_input_is_not_mutated(run_step: RunStep, controller: SessionController) -> None:
    session = controller.create(make_session())
    request = _batch(session.metadata.id, "a", "b")
    before = request.SerializeToString()
    run_step(AppendMessages(), request, values={EXISTING: session})
    assert request.SerializeToString() == before
