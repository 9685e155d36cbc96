import pytest

from pipeline.errors import InvalidArgument
from pipeline.keys import CHILD, EXISTING
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import AppendSessionMessageRequest, SessionMessage, SessionMessageRole
from stigmer_sessions.steps import AppendMessage
from tests.conftest import RunStep, make_session

NOW = 1_700_000_000 * 10**9


def test_appends_with_next_sequence_and_bumps_the_session(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    session = controller.create(make_session())
    request = AppendSessionMessageRequest(
        session_id=session.metadata.id, role=SessionMessageRole.role_user, content="hi", metadata={"k": "v"}
    )
    ctx = run_step(AppendMessage(), request, values={EXISTING: session}, actor="ann", now_ns=NOW)
    message: SessionMessage = ctx[CHILD]
    assert (message.sequence, message.content, message.actor_id, dict(message.metadata)) == (
        1,
        "hi",
        "ann",
        {"k": "v"},
    )
    assert message.id.startswith("msg-")
    assert message.created_at.ToNanoseconds() == NOW
    assert (ctx.new_state.state.message_count, ctx.new_state.state.last_activity_at.ToNanoseconds()) == (
        1,
        NOW,
    )
    stored = store.read(lambda txn: list(txn.children.scan("session", session.metadata.id)))
    assert [(seq, SessionMessage.FromString(data)) for seq, data in stored] == [(1, message)]


def test_content_limit_names_the_limit(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    session = controller.create(make_session())
    request = AppendSessionMessageRequest(
        session_id=session.metadata.id, role=SessionMessageRole.role_user, content="é" * 6
    )
    with pytest.raises(InvalidArgument) as err:
        run_step(AppendMessage(max_content_bytes=10), request, values={EXISTING: session})
    assert err.value.message == "content: is 12 bytes; the limit is 10 bytes"
    assert store.read(lambda txn: list(txn.children.parents())) == []
