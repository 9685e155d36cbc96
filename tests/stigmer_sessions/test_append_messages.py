"""appendMessages through the library, on every backend: a batch is one write, all or none."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from pipeline.resource import reference
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import (
    AppendSessionMessagesRequest,
    SessionMessageInput,
    SessionMessageList,
    SessionMessageRole,
)
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.controller.session_controller import MessageInput
from tests.conftest import make_session, race


def _ids_and_revision(controller: SessionController, name: str) -> tuple[str, int]:
    session = controller.create(make_session(name))
    return session.metadata.id, controller.store.read(lambda tx: tx.changes.current_revision())


def test_a_batch_lands_in_order_after_what_is_there(controller: SessionController) -> None:
    sid = controller.create(make_session()).metadata.id
    controller.append_message(sid, "user", "before")
    stored = controller.append_messages(
        sid,
        [
            ("assistant", "one"),
            (SessionMessageRole.role_tool, "two", {"tool": "grep"}),
            SessionMessageInput(role=SessionMessageRole.role_user, content="three"),
        ],
        actor="ann",
    )
    assert [(m.sequence, m.role, m.content, dict(m.metadata)) for m in stored] == [
        (2, SessionMessageRole.role_assistant, "one", {}),
        (3, SessionMessageRole.role_tool, "two", {"tool": "grep"}),
        (4, SessionMessageRole.role_user, "three", {}),
    ]
    assert all(m.actor_id == "ann" for m in stored)
    assert list(controller.list_messages(session_id=sid).messages)[1:] == stored
    session = controller.get(sid)
    assert session.state.message_count == 4
    assert session.state.last_activity_at == stored[-1].created_at


def test_the_response_lists_the_batch_and_the_sessions_count(controller: SessionController) -> None:
    sid = controller.create(make_session()).metadata.id
    controller.append_message(sid, "user", "before")
    batch = AppendSessionMessagesRequest(
        session_id=sid, messages=[SessionMessageInput(role="role_user", content=c) for c in "ab"]
    )
    response = controller.call("appendMessages", batch, SessionMessageList)
    assert [m.sequence for m in response.messages] == [2, 3]
    assert (response.total_size, response.next_page_token) == (3, "")


def test_one_change_for_the_batch_carrying_its_messages_in_order(controller: SessionController) -> None:
    batched, after_batched = _ids_and_revision(controller, "batched")
    stored = controller.append_messages(batched, [("user", "a"), ("assistant", "b")], request_id="req-b")
    single, after_single = _ids_and_revision(controller, "single")
    controller.append_message(single, "user", "a")
    controller.append_message(single, "assistant", "b")

    (change,) = controller.events(after=after_batched, session_id=batched)  # one write, one change
    assert (change.type, change.revision, change.request_id) == (
        "SessionMessageAppended",
        after_batched + 1,
        "req-b",
    )
    assert list(change.messages) == stored
    assert change.session == reference(controller.get(batched)), "not the session as stored"
    # the same shape as single appends, which carry one message each: a follower reads them alike
    singles = list(controller.events(after=after_single, session_id=single))
    assert [[(m.sequence, m.content) for m in c.messages] for c in singles] == [[(1, "a")], [(2, "b")]]
    assert [(m.sequence, m.content) for m in change.messages] == [(1, "a"), (2, "b")]


def test_an_oversize_item_in_the_middle_writes_nothing(store: Storage) -> None:
    config = SessionConfig(max_message_bytes=100, max_message_metadata_bytes=20)
    with SessionController(store=store, config=config) as controller:
        sid = controller.create(make_session()).metadata.id
        controller.append_message(sid, "user", "before")
        before = store.snapshot()
        batch: list[MessageInput] = [
            ("user", "fine"),
            ("user", "x" * 101),
            ("user", "fine", {"k": "v" * 20}),
            ("user", "fine"),
        ]
        with pytest.raises(InvalidArgument) as err:
            controller.append_messages(sid, batch, request_id="req-1")
        assert [v.field for v in err.value.violations] == ["messages[1].content", "messages[2].metadata"]
        assert store.snapshot() == before
        assert [m.sequence for m in controller.append_messages(sid, [("user", "a")], request_id="req-1")] == [
            2
        ]


def test_the_batch_limits_are_configurable(store: Storage) -> None:
    config = SessionConfig(max_batch_messages=2, max_batch_bytes=10)
    with SessionController(store=store, config=config) as controller:
        sid = controller.create(make_session()).metadata.id
        controller.append_messages(sid, [("user", "12345"), ("user", "67890")])
        before = store.snapshot()
        with pytest.raises(InvalidArgument, match=r"messages: has 3 messages; the limit is 2"):
            controller.append_messages(sid, [("user", "a")] * 3)
        with pytest.raises(InvalidArgument, match=r"is 11 bytes of content, payload and metadata in total"):
            controller.append_messages(sid, [("user", "12345"), ("user", "678901")])
        assert store.snapshot() == before


def test_refusals_write_nothing(controller: SessionController, store: Storage) -> None:
    sid = controller.create(make_session()).metadata.id
    before = store.snapshot()
    with pytest.raises(NotFound):
        controller.append_messages("ses-01jnosuchsession0000000000", [("user", "x")])
    with pytest.raises(InvalidArgument, match="messages"):
        controller.append_messages(sid, [])
    with pytest.raises(InvalidArgument, match=r"messages\[1\]\.role"):
        controller.append_messages(sid, [("user", "x"), ("unspecified", "y")])
    with pytest.raises(InvalidArgument, match="messages"):
        controller.append_messages(sid, [("user", "x")] * 1001)
    assert store.snapshot() == before
    controller.transition(sid, "completed")
    before = store.snapshot()
    with pytest.raises(FailedPrecondition, match="does not accept messages"):
        controller.append_messages(sid, [("user", "too late")])
    assert store.snapshot() == before


def test_a_retry_gets_the_first_answer_and_another_batch_under_its_id_is_refused(
    controller: SessionController, store: Storage
) -> None:
    sid = controller.create(make_session()).metadata.id
    first = controller.append_messages(sid, [("user", "a"), ("user", "b")], request_id="req-1")
    controller.append_message(sid, "user", "someone else")
    before = store.snapshot()
    assert controller.append_messages(sid, [("user", "a"), ("user", "b")], request_id="req-1") == first
    with pytest.raises(AlreadyExists, match="'req-1' was already used for a different request"):
        controller.append_messages(sid, [("user", "a"), ("user", "c")], request_id="req-1")
    assert store.snapshot() == before
    assert controller.get(sid).state.message_count == 3


def test_a_dry_run_writes_nothing_and_answers_as_the_write_would(
    controller: SessionController, store: Storage
) -> None:
    sid = controller.create(make_session()).metadata.id
    before = store.snapshot()
    dry = controller.append_messages(sid, [("user", "a"), ("user", "b")], request_id="req-1", dry_run=True)
    assert store.snapshot() == before
    real = controller.append_messages(sid, [("user", "a"), ("user", "b")], request_id="req-1")
    assert (
        [(m.sequence, m.content) for m in dry]
        == [(m.sequence, m.content) for m in real]
        == [
            (1, "a"),
            (2, "b"),
        ]
    )


def test_batches_and_single_appends_racing_on_one_session_number_it_gap_free(
    controller: SessionController,
) -> None:
    sid = controller.create(make_session()).metadata.id

    def append(i: int) -> list[int]:
        if i % 2:
            return [controller.append_message(sid, "user", f"{i}").sequence]
        return [m.sequence for m in controller.append_messages(sid, [("user", f"{i}-{k}") for k in range(3)])]

    results = race(8, append)
    assert not [r for r in results if isinstance(r, Exception)], results
    stored = list(controller.list_messages(session_id=sid, page_size=100).messages)
    assert [m.sequence for m in stored] == list(range(1, 17))  # 4 batches of 3, 4 singles
    assert controller.get(sid).state.message_count == 16
    for sequences in results:  # a batch's messages are contiguous, in its order
        assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    batches = Counter(m.content.split("-")[0] for m in stored if "-" in m.content)
    assert set(batches.values()) == {3}
