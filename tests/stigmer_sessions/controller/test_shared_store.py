"""Controllers opened on one data directory or store URL in one process share one store
(framework adapter objects do this): each reads the others' writes, hears them in its
watches, closes independently, and they agree on the optional indexes they serve."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import FailedPrecondition, ResourceExhausted
from pipeline.resource import ORG_OWNER_INDEX
from pipeline.shared_storage import open_shared
from pipeline.storage.lmdb import LmdbStorage
from stigmer_sessions import SessionController
from stigmer_sessions.api import WatchSessionChangesResponse
from stigmer_sessions.config import SessionConfig
from tests.backends import LMDB_ONLY
from tests.conftest import make_session, race

OWNER_QUOTA = SessionConfig(max_sessions_per_owner=2)


@pytest.fixture
def open_controller(store_url: str) -> Iterator[Any]:
    """Opens controllers on the test's store URL; closes any left open afterwards."""
    opened: list[SessionController] = []

    def open_one(**options: Any) -> SessionController:
        opened.append(SessionController(store=store_url, **options))
        return opened[-1]

    yield open_one
    for controller in opened:
        controller.close()


def test_two_controllers_on_one_url_share_the_store(open_controller: Any) -> None:
    a, b = open_controller(), open_controller()
    assert a.store.instance is b.store.instance
    created = a.create(make_session("from a"), actor="alice")
    assert b.get(created.metadata.id) == created
    b.append_message(created.metadata.id, "user", "hello", actor="bob")
    assert [m.content for m in a.list_messages(session_id=created.metadata.id).messages] == ["hello"]


def test_a_watcher_of_one_controller_hears_the_writes_of_another(open_controller: Any) -> None:
    a, b = open_controller(), open_controller()
    first = a.create(make_session("first"), actor="alice")
    stop = threading.Event()
    heard: list[str] = []
    caught_up = threading.Event()

    def follow() -> None:
        item: WatchSessionChangesResponse
        for item in b.watch(stop=stop, bookmark_interval_s=3600):
            if item.HasField("change"):
                heard.append(item.change.resource_id)
                caught_up.set()
                if len(heard) == 2:
                    return

    watcher = threading.Thread(target=follow)
    watcher.start()
    caught_up.wait()  # b's watcher has replayed the log and now sleeps on the hub
    second = a.create(make_session("second"), actor="alice")  # a wakes it: the hub is shared
    watcher.join()
    stop.set()
    assert heard == [first.metadata.id, second.metadata.id]


def test_closing_one_controller_leaves_the_other_working(open_controller: Any) -> None:
    a, b = open_controller(), open_controller()
    created = a.create(make_session("kept"), actor="alice")
    a.close()
    with pytest.raises(FailedPrecondition, match="closed"):
        a.get(created.metadata.id)  # a closed controller refuses, whatever the others do
    assert b.get(created.metadata.id) == created
    b.create(make_session("after"), actor="bob")


def test_closing_every_controller_closes_the_store_and_a_new_one_opens_it_anew(
    open_controller: Any, store_url: str
) -> None:
    a, b = open_controller(), open_controller()
    instance = a.store.instance
    created = b.create(make_session("durable"), actor="alice")
    a.close()
    b.close()
    with pytest.raises(Exception, match="closed"):  # the engine itself is closed
        instance.read(lambda tx: tx.changes.current_revision())
    c = open_controller()
    assert c.store.instance is not instance
    assert c.get(created.metadata.id) == created


@LMDB_ONLY
def test_controllers_on_a_data_directory_share_it_and_release_it(tmp_path: Path, backend: str) -> None:
    a = SessionController(tmp_path / "data")
    b = SessionController(store=f"lmdb://{tmp_path}/data")
    try:
        assert a.store.instance is b.store.instance  # type: ignore[attr-defined]
        created = b.create(make_session("x"), actor="alice")
        assert a.get(created.metadata.id) == created
    finally:
        a.close()
        b.close()
    LmdbStorage(tmp_path / "data").close()  # released: a raw open is no longer refused


@LMDB_ONLY
def test_conflicting_durability_is_refused(tmp_path: Path, backend: str) -> None:
    with (
        SessionController(tmp_path, durable=False),
        pytest.raises(FailedPrecondition, match="durable=True"),
    ):
        SessionController(tmp_path)


@pytest.mark.parametrize("backend", ["postgres"])
def test_conflicting_pool_sizes_are_refused(open_controller: Any) -> None:
    open_controller()
    with pytest.raises(FailedPrecondition, match="pool_size=3"):
        open_controller(store_options={"pool_size": 3})


def test_threads_opening_controllers_at_once_share_one_store(store_url: str) -> None:
    controllers = race(4, lambda _: SessionController(store=store_url))
    try:
        assert all(isinstance(c, SessionController) for c in controllers), controllers
        assert len({id(c.store.instance) for c in controllers}) == 1
        ids = race(4, lambda i: controllers[i].create(make_session(f"s{i}"), actor="a").metadata.id)
        assert {controllers[0].get(i).metadata.id for i in ids} == set(ids)
    finally:
        race(4, lambda i: controllers[i].close())
    with open_shared(store_url) as handle:
        assert handle.peers == 0  # every controller released its handle


# --- optional indexes: controllers on one instance serve what the store keeps -------------


@LMDB_ONLY
def test_a_controller_needing_an_index_the_live_ones_do_not_keep_is_refused(open_controller: Any) -> None:
    plain = open_controller()
    plain.create(make_session("a"), actor="alice")
    with pytest.raises(FailedPrecondition, match=ORG_OWNER_INDEX):
        open_controller(config=OWNER_QUOTA)
    plain.close()
    quota = open_controller(config=OWNER_QUOTA)  # alone on the store: builds it
    assert ORG_OWNER_INDEX in quota.kinds[0].optional_kept


def test_a_later_controller_serves_the_union_the_live_ones_keep(open_controller: Any) -> None:
    """A controller without the quota, opened beside one with it, keeps the owner index:
    the sessions it creates count against the other's quota."""
    quota = open_controller(config=OWNER_QUOTA)
    plain = open_controller()
    assert ORG_OWNER_INDEX in plain.kinds[0].optional_kept
    plain.create(make_session("a"), actor="alice")
    plain.create(make_session("b"), actor="alice")
    with pytest.raises(ResourceExhausted):
        quota.create(make_session("c"), actor="alice")
    assert plain.check().ok


@LMDB_ONLY
def test_a_maintenance_controller_counts_as_serving(open_controller: Any) -> None:
    open_controller(as_stored=True)
    with pytest.raises(FailedPrecondition, match=ORG_OWNER_INDEX):
        open_controller(config=OWNER_QUOTA)


@pytest.mark.parametrize("backend", ["postgres"])
def test_on_postgres_every_controller_keeps_every_optional_index(open_controller: Any) -> None:
    plain = open_controller()
    quota = open_controller(config=OWNER_QUOTA)  # not refused: the store keeps them all
    assert plain.kinds[0].optional_kept == quota.kinds[0].optional_kept


def test_changing_the_kept_indexes_is_refused_while_others_serve_the_store(open_controller: Any) -> None:
    a, b = open_controller(), open_controller()
    b.create(make_session("a"), actor="alice")
    before = a.store.snapshot()
    with pytest.raises(FailedPrecondition, match="other controllers"):
        a.reindex(optional_indexes=())
    assert a.store.snapshot() == before
    assert a.reindex() == 1  # a rebuild of the same set is fine
    b.close()
    assert a.reindex(optional_indexes=()) == 1  # alone now
