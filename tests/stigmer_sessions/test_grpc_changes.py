"""The change feed end to end: listChanges, watch (two watchers racing writers), pin/unpin."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import change_pb2_grpc
from stigmer_sessions.api import ListSessionChangesRequest, SessionId, WatchSessionChangesRequest
from stigmer_sessions.grpc_server import RunningServer, start_server
from tests.conftest import Stubs, make_session


def change_stub(channel: grpc.Channel) -> change_pb2_grpc.SessionChangeControllerStub:
    return change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]


def test_two_watchers_and_concurrent_writers_see_every_change_once_in_order(stubs: Stubs) -> None:
    changes = change_stub(stubs.channel)
    writers, per_writer = 3, 10
    total = writers * per_writer
    results: list[list[int]] = [[], []]
    ready = threading.Barrier(3)

    def watcher(slot: int) -> None:
        stream = changes.watch(WatchSessionChangesRequest(after_revision=0))
        ready.wait()
        for response in stream:
            if response.HasField("change"):
                results[slot].append(response.change.revision)
            if len(results[slot]) == total:
                stream.cancel()
                return

    watchers = [threading.Thread(target=watcher, args=(i,)) for i in range(2)]
    for w in watchers:
        w.start()
    ready.wait()

    def writer(i: int) -> None:
        for j in range(per_writer):
            stubs.command.create(make_session(f"w{i}-{j}"))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in watchers:
        w.join(timeout=30)
    assert results[0] == results[1] == list(range(1, total + 1))


def test_list_changes_and_pin_unpin_over_grpc(stubs: Stubs) -> None:
    s = stubs.command.create(make_session("p"))
    caused = (("x-caused-by", "chg-root"), ("x-actor-id", "dora"))
    pinned = stubs.command.pin(SessionId(value=s.metadata.id), metadata=caused)
    assert pinned.state.pinned and pinned.state.pinned_by == "dora"
    assert stubs.command.pin(SessionId(value=s.metadata.id)) == pinned  # idempotent
    assert not stubs.command.unpin(SessionId(value=s.metadata.id)).state.pinned
    page = change_stub(stubs.channel).listChanges(ListSessionChangesRequest(session_id=s.metadata.id))
    assert [c.type for c in page.changes] == ["SessionCreated", "SessionPinned", "SessionUnpinned"]
    assert (page.changes[1].caused_by, page.changes[1].actor_id) == ("chg-root", "dora")
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.pin(SessionId(value="ses-missing"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_out_of_range_over_grpc(stubs: Stubs, controller: SessionController) -> None:
    for i in range(5):
        stubs.command.create(make_session(f"s{i}"))
    controller.compact_changes(keep_revisions=1)
    changes = change_stub(stubs.channel)
    with pytest.raises(grpc.RpcError) as err:
        changes.listChanges(ListSessionChangesRequest(after_revision=1))
    assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "oldest available revision is 5" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        next(iter(changes.watch(WatchSessionChangesRequest(after_revision=1))))
    assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE


@pytest.fixture
def small_server(store: Storage) -> Iterator[RunningServer]:
    controller = SessionController(store=store, bookmark_interval_s=0.05)
    running = start_server(controller, "127.0.0.1:0", max_workers=2, max_watchers=1)
    yield running
    running.stop(grace=None)


def _admitted(changes: change_pb2_grpc.SessionChangeControllerStub) -> Iterator[object] | None:
    """A from-now watch if the server admitted it (its first bookmark arrived), else None."""
    stream = changes.watch(WatchSessionChangesRequest(from_now=True))
    try:
        assert next(iter(stream)).HasField("bookmark")
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "too many watchers" in (err.details() or "")
        return None
    return stream  # type: ignore[no-any-return]


def test_watcher_limit_and_slot_release_on_cancel(small_server: RunningServer) -> None:
    with grpc.insecure_channel(small_server.address) as channel:
        changes = change_stub(channel)
        first = _admitted(changes)
        assert first is not None
        assert _admitted(changes) is None  # the only slot is taken
        first.cancel()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while (second := _admitted(changes)) is None:  # the server notices the cancel, frees the slot
            assert time.monotonic() < deadline, "slot never released"
            time.sleep(0.05)
        second.cancel()  # type: ignore[attr-defined]
