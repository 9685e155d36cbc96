"""Messages and transitions over gRPC."""

from __future__ import annotations

import grpc
import pytest

from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import message_pb2_grpc
from stigmer_sessions.api import (
    AppendSessionMessageRequest,
    ListSessionMessagesRequest,
    ResumeSessionRequest,
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
