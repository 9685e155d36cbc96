"""popMessages and clearMessages through the library: what the promise table does not say."""

from __future__ import annotations

import pytest

from pipeline.errors import Aborted
from stigmer_sessions import SessionController
from stigmer_sessions.api import ListSessionMessagesRequest
from tests.conftest import make_session


def _sequences(controller: SessionController, session_id: str) -> list[int]:
    page = controller.list_messages(ListSessionMessagesRequest(session_id=session_id))
    return [m.sequence for m in page.messages]


def test_a_freed_sequence_number_is_never_given_to_another_message(controller: SessionController) -> None:
    sid = controller.create(make_session()).metadata.id
    controller.append_messages(sid, [("user", "a"), ("assistant", "b"), ("user", "c")])
    popped = controller.pop_messages(sid, 2)
    assert [(m.sequence, m.content) for m in popped] == [(2, "b"), (3, "c")]
    assert controller.append_message(sid, "user", "d").sequence == 4
    assert [m.sequence for m in controller.append_messages(sid, [("user", "e"), ("user", "f")])] == [5, 6]
    assert _sequences(controller, sid) == [1, 4, 5, 6]
    assert controller.clear_messages(sid).state.message_count == 0
    assert controller.append_message(sid, "user", "g").sequence == 7
    # A client that polls with after_sequence = the last it saw still sees every new message.
    page = controller.list_messages(ListSessionMessagesRequest(session_id=sid, after_sequence=6))
    assert [m.content for m in page.messages] == ["g"]
    assert controller.get(sid).state.message_count == 1


def test_an_empty_pop_or_clear_records_nothing(controller: SessionController) -> None:
    sid = controller.create(make_session()).metadata.id
    version = controller.get(sid).metadata.version.id
    assert controller.pop_messages(sid) == []
    assert controller.clear_messages(sid).metadata.version.id == version
    assert [c.type for c in controller.list_changes(session_id=sid).changes] == ["SessionCreated"]


def test_a_stale_version_removes_nothing(controller: SessionController) -> None:
    sid = controller.create(make_session()).metadata.id
    controller.append_message(sid, "user", "a")
    seen = controller.get(sid).metadata.version.id
    controller.append_message(sid, "user", "b")
    with pytest.raises(Aborted):
        controller.pop_messages(sid, expected_version=seen)
    with pytest.raises(Aborted):
        controller.clear_messages(sid, expected_version=seen)
    assert _sequences(controller, sid) == [1, 2]
    current = controller.get(sid).metadata.version.id
    assert [m.content for m in controller.pop_messages(sid, expected_version=current)] == ["b"]


def test_a_session_from_before_last_sequence_numbers_on_from_its_last_message(
    controller: SessionController,
) -> None:
    sid = controller.create(make_session()).metadata.id
    controller.append_messages(sid, [("user", "a"), ("user", "b")])
    stored = controller.get(sid)
    stored.state.last_sequence = 0  # as written before the field existed
    controller.store.write(lambda tx: tx.records(controller.kinds[0]).put(stored, controller.get(sid)))
    assert controller.get(sid).state.last_sequence == 0
    assert controller.append_message(sid, "user", "c").sequence == 3
