"""Messages and transitions over gRPC."""

from __future__ import annotations

import grpc
import pytest

from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import change_pb2_grpc, message_pb2_grpc
from stigmer_sessions.api import (
    AppendSessionMessageRequest,
    AppendSessionMessagesRequest,
    ClearSessionMessagesRequest,
    ListSessionChangesRequest,
    ListSessionMessagesRequest,
    PopSessionMessagesRequest,
    ResumeSessionRequest,
    SessionMessageInput,
    SessionMessageRole,
    TransitionSessionRequest,
)
from tests.conftest import Stubs, make_session


def test_append_list_resume_and_transition(stubs: Stubs) -> None:
    messages = message_pb2_grpc.SessionMessageControllerStub(stubs.channel)  # type: ignore[no-untyped-call]
    s = stubs.command.create(make_session())
    for i in range(3):
        request = AppendSessionMessageRequest(
            session_id=s.metadata.id, role=SessionMessageRole.role_user, content=f"m{i}"
        )
        assert messages.appendMessage(request, metadata=(("x-actor-id", "eve"),)).sequence == i + 1
    page = messages.listMessages(ListSessionMessagesRequest(session_id=s.metadata.id))
    assert [(m.content, m.actor_id) for m in page.messages] == [("m0", "eve"), ("m1", "eve"), ("m2", "eve")]
    resumed = messages.resume(ResumeSessionRequest(session_id=s.metadata.id, page_size=2))
    assert [m.content for m in resumed.messages] == ["m1", "m2"]
    assert resumed.session.state.message_count == 3

    closed = stubs.command.transition(TransitionSessionRequest(session_id=s.metadata.id, phase="completed"))
    assert closed.state.phase == "completed"
    with pytest.raises(grpc.RpcError) as err:
        messages.appendMessage(
            AppendSessionMessageRequest(
                session_id=s.metadata.id, role=SessionMessageRole.role_user, content="late"
            )
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.transition(TransitionSessionRequest(session_id=s.metadata.id, phase="active"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "allowed from 'completed': archived" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        messages.resume(ResumeSessionRequest(session_id="ses-missing"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_append_messages_over_grpc_is_one_write_all_or_none(stubs: Stubs) -> None:
    messages = message_pb2_grpc.SessionMessageControllerStub(stubs.channel)  # type: ignore[no-untyped-call]
    sid = stubs.command.create(make_session()).metadata.id
    batch = AppendSessionMessagesRequest(
        session_id=sid,
        messages=[
            SessionMessageInput(role=SessionMessageRole.role_user, content="q"),
            SessionMessageInput(role=SessionMessageRole.role_assistant, content="a", metadata={"k": "v"}),
        ],
    )
    options = (("x-actor-id", "eve"), ("x-request-id", "batch-1"))
    appended = messages.appendMessages(batch, metadata=options)
    assert [(m.sequence, m.content, m.actor_id) for m in appended.messages] == [
        (1, "q", "eve"),
        (2, "a", "eve"),
    ]
    assert (appended.total_size, appended.next_page_token) == (2, "")
    assert messages.appendMessages(batch, metadata=options) == appended  # a retry: the first answer

    bad = AppendSessionMessagesRequest(session_id=sid)
    bad.CopyFrom(batch)
    bad.messages[1].role = SessionMessageRole.role_unspecified
    with pytest.raises(grpc.RpcError) as err:
        messages.appendMessages(bad)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "messages[1].role" in (err.value.details() or "")
    page = messages.listMessages(ListSessionMessagesRequest(session_id=sid))
    assert [m.content for m in page.messages] == ["q", "a"]


def test_payload_round_trips_byte_exact_and_stale_appends_are_aborted(stubs: Stubs) -> None:
    messages = message_pb2_grpc.SessionMessageControllerStub(stubs.channel)  # type: ignore[no-untyped-call]
    session = stubs.command.create(make_session())
    sid, seen = session.metadata.id, session.metadata.version.id
    raw = b"\xff\x00\xfe{not json}\x80"
    first = messages.appendMessage(
        AppendSessionMessageRequest(
            session_id=sid, role=SessionMessageRole.role_user, payload=raw, media_type="application/x-test"
        ),
        metadata=(("x-if-match", seen),),
    )
    assert (first.payload, first.media_type, first.content) == (raw, "application/x-test", "")
    listed = messages.listMessages(ListSessionMessagesRequest(session_id=sid)).messages
    assert [(m.payload, m.media_type) for m in listed] == [(raw, "application/x-test")]
    # The session moved on with that append: a writer still holding `seen` is refused.
    with pytest.raises(grpc.RpcError) as err:
        messages.appendMessage(
            AppendSessionMessageRequest(
                session_id=sid, role=SessionMessageRole.role_user, expected_version=seen
            )
        )
    assert err.value.code() == grpc.StatusCode.ABORTED
    with pytest.raises(grpc.RpcError) as err:
        messages.appendMessages(
            AppendSessionMessagesRequest(
                session_id=sid,
                messages=[SessionMessageInput(role=SessionMessageRole.role_user, content="x")],
                expected_version=seen,
            )
        )
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert len(messages.listMessages(ListSessionMessagesRequest(session_id=sid)).messages) == 1
    with pytest.raises(grpc.RpcError) as err:
        messages.appendMessage(
            AppendSessionMessageRequest(
                session_id=sid, role=SessionMessageRole.role_user, media_type="m" * 128
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "media_type" in (
        err.value.details() or ""
    )


def test_pop_and_clear_over_grpc_are_one_change_each(stubs: Stubs) -> None:
    messages = message_pb2_grpc.SessionMessageControllerStub(stubs.channel)  # type: ignore[no-untyped-call]
    changes = change_pb2_grpc.SessionChangeControllerStub(stubs.channel)  # type: ignore[no-untyped-call]
    sid = stubs.command.create(make_session()).metadata.id
    messages.appendMessages(
        AppendSessionMessagesRequest(
            session_id=sid,
            messages=[SessionMessageInput(role=SessionMessageRole.role_user, content=c) for c in "abc"],
        )
    )
    popped = messages.popMessages(PopSessionMessagesRequest(session_id=sid, count=2))
    assert [(m.sequence, m.content) for m in popped.messages] == [(2, "b"), (3, "c")]
    assert popped.total_size == 1
    retried = messages.popMessages(
        PopSessionMessagesRequest(session_id=sid, count=2), metadata=(("x-request-id", "pop-1"),)
    )
    again = messages.popMessages(
        PopSessionMessagesRequest(session_id=sid, count=2), metadata=(("x-request-id", "pop-1"),)
    )
    assert [m.content for m in retried.messages] == ["a"] and again == retried, "a retry popped again"
    cleared = messages.clearMessages(ClearSessionMessagesRequest(session_id=sid))
    assert (cleared.state.message_count, cleared.state.last_sequence) == (0, 3)  # nothing left to clear
    feed = changes.listChanges(ListSessionChangesRequest(session_id=sid)).changes
    assert [c.type for c in feed] == [
        "SessionCreated",
        "SessionMessageAppended",
        "SessionMessagesRemoved",
        "SessionMessagesRemoved",
    ]
    assert list(feed[2].removed.message_ids) == [m.id for m in popped.messages]
    with pytest.raises(grpc.RpcError) as err:
        messages.popMessages(PopSessionMessagesRequest(session_id=sid, count=1001))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        messages.clearMessages(ClearSessionMessagesRequest(session_id="ses-missing"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
