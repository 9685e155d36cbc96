"""Every change is an event: one per mutation, in the same transaction, watchable."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pipeline.errors import Aborted, AlreadyExists, NotFound, OutOfRange, ResourceExhausted
from stigmer_sessions import Session, SessionController
from stigmer_sessions.api import SessionChange, WatchSessionChangesResponse
from tests.conftest import make_session


def feed(controller: SessionController) -> list[SessionChange]:
    return list(controller.events())


def test_each_mutation_records_exactly_one_change(controller: SessionController) -> None:
    s = controller.create(make_session("a"), actor="alice", request_id="r-create")
    edit = Session()
    edit.CopyFrom(s)
    edit.spec.subject = "x"
    controller.update(edit, actor="bob")
    controller.apply(make_session("a", subject="y"))
    controller.apply(make_session("b"))
    controller.pin(s.metadata.id)
    controller.unpin(s.metadata.id)
    controller.delete(s.metadata.id, request_id="r-delete")
    changes = feed(controller)
    assert [(c.revision, c.type) for c in changes] == [
        (1, "SessionCreated"),
        (2, "SessionUpdated"),
        (3, "SessionUpdated"),
        (4, "SessionCreated"),
        (5, "SessionPinned"),
        (6, "SessionUnpinned"),
        (7, "SessionDeleted"),
    ]
    assert (changes[0].actor_id, changes[0].caused_by, changes[1].actor_id) == ("alice", "r-create", "bob")
    assert changes[6].caused_by == "r-delete"
    assert changes[6].session.spec.subject == "y"  # a delete carries the session as it was
    assert changes[2].session == controller.list_changes(after_revision=2, page_size=1).changes[0].session


def test_caused_by_is_recorded(controller: SessionController) -> None:
    controller.run("create", make_session(), caused_by="chg-upstream", request_id="r")
    assert feed(controller)[0].caused_by == "chg-upstream"


def test_no_change_when_nothing_changed_or_nothing_was_written(controller: SessionController) -> None:
    s = controller.create(make_session("a"))
    controller.apply(make_session("a"))  # identical: no write
    controller.pin(s.metadata.id)
    controller.pin(s.metadata.id)  # already pinned
    controller.create(make_session("dry"), dry_run=True)
    with pytest.raises(AlreadyExists):
        controller.create(make_session("a"))  # aborted write
    with pytest.raises(NotFound):
        controller.pin("ses-missing")
    controller.create(make_session("b"), request_id="once")
    controller.create(make_session("b"), request_id="once")  # replayed
    assert [c.type for c in feed(controller)] == ["SessionCreated", "SessionPinned", "SessionCreated"]


def test_pinned_state_is_system_managed(controller: SessionController) -> None:
    forged = make_session("f")
    forged.state.pinned = True
    forged.state.message_count = 99
    created = controller.create(forged)
    assert not created.state.pinned  # a client cannot create a pinned session ...
    assert created.state.message_count == 0  # ... nor forge any other server-managed state
    assert created.state.phase == "active"
    pinned = controller.pin(created.metadata.id, actor="carol")
    edit = Session()
    edit.CopyFrom(pinned)
    edit.ClearField("state")
    edit.spec.subject = "changed"
    updated = controller.update(edit)
    assert updated.state.pinned and updated.state.pinned_by == "carol"  # survives update


def test_revisions_gap_free_under_concurrent_writers(controller: SessionController) -> None:
    def work(i: int) -> None:
        for j in range(15):
            controller.create(make_session(f"w{i}-{j}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    revisions = [c.revision for c in feed(controller)]
    assert revisions == list(range(1, 91))
    assert len({c.resource_id for c in feed(controller)}) == 90


def _take(items: Iterator[WatchSessionChangesResponse], n: int) -> list[WatchSessionChangesResponse]:
    return [next(items) for _ in range(n)]


def test_watch_from_r_then_n_writes(controller: SessionController) -> None:
    for i in range(3):
        controller.create(make_session(f"before{i}"))
    stop = threading.Event()
    items = controller.watch(after_revision=3, stop=stop, bookmark_interval_s=60)
    threading.Timer(0.05, lambda: [controller.create(make_session(f"after{i}")) for i in range(5)]).start()
    got = _take(items, 5)
    assert [r.change.revision for r in got] == [4, 5, 6, 7, 8]
    assert [r.change.session.metadata.name for r in got] == [f"after{i}" for i in range(5)]
    stop.set()
    controller.hub.wake()


def test_reconnect_from_last_revision_loses_nothing(controller: SessionController) -> None:
    controller.create(make_session("one"))
    items = controller.watch(bookmark_interval_s=0.05)
    first = _take(items, 1)[0].change.revision
    bookmark = _take(items, 1)[0]
    assert bookmark.HasField("bookmark")
    for i in range(3):
        controller.create(make_session(f"while-away{i}"))
    resumed = controller.watch(after_revision=bookmark.bookmark.revision, bookmark_interval_s=60)
    assert [first] + [r.change.revision for r in _take(resumed, 3)] == [1, 2, 3, 4]


def test_slow_watcher_does_not_block_writers(controller: SessionController) -> None:
    controller.create(make_session("first"))
    stalled = controller.watch(max_lag=10)
    _take(stalled, 1)  # then never reads again while writers go on
    done = threading.Event()

    def writers() -> None:
        for i in range(40):
            controller.create(make_session(f"w{i}"))
        done.set()

    threading.Thread(target=writers).start()
    assert done.wait(30), "writers were blocked by a stalled watcher"
    with pytest.raises(ResourceExhausted):
        _take(stalled, 40)


def test_compaction_then_out_of_range(controller: SessionController) -> None:
    for i in range(10):
        controller.create(make_session(f"s{i}"))
    result = controller.compact_changes(keep_revisions=3)
    assert (result.deleted, result.oldest_revision) == (7, 8)
    with pytest.raises(OutOfRange, match="oldest available revision is 8"):
        controller.list_changes(after_revision=2)
    with pytest.raises(OutOfRange):
        next(controller.watch(after_revision=2))
    assert [c.revision for c in feed(controller)] == [8, 9, 10]
    assert controller.compact_changes(max_age_s=0).deleted == 3  # all older than now


def test_events_iterator_pages_through_everything_after_a_revision(controller: SessionController) -> None:
    for i in range(1203):  # more than one internal page of 1000
        controller.create(make_session(f"s{i}"))
    assert [c.revision for c in controller.events(after=200)] == list(range(201, 1204))
    assert [c.revision for c in controller.events(after=1203)] == []


def test_pin_and_unpin_take_an_expected_version(controller: SessionController) -> None:
    created = controller.create(make_session("conditional"))
    with pytest.raises(Aborted):
        controller.pin(created.metadata.id, expected_version="not-the-version")
    assert not controller.get(created.metadata.id).state.pinned
    pinned = controller.pin(created.metadata.id, expected_version=created.metadata.version.id)
    with pytest.raises(Aborted):
        controller.unpin(created.metadata.id, expected_version=created.metadata.version.id)  # stale now
    assert not controller.unpin(created.metadata.id, expected_version=pinned.metadata.version.id).state.pinned
