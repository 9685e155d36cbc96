"""One store instance per store in a process: handles share it, count references, refuse
conflicting options and use after their own close (both backends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import FailedPrecondition, InvalidArgument
from pipeline.shared_storage import SharedStorage, open_shared, open_shared_dir, unwrap
from pipeline.storage.lmdb import LmdbStorage
from tests.backends import PG_PASSWORD, pg_database
from tests.conftest import race

#: An option of each backend, and a value other than its default.
OTHER_OPTION = {"lmdb": ("map_size", 1 << 30), "postgres": ("pool_size", 3)}


def revision(handle: SharedStorage) -> int:
    return handle.read(lambda tx: tx.changes.current_revision())


def test_two_opens_share_one_instance_and_the_last_close_closes_it(store_url: str) -> None:
    first = open_shared(store_url)
    second = open_shared(store_url)
    instance = first.instance
    assert second.instance is instance
    assert first.hub is second.hub
    assert first.peers == second.peers == 1
    first.close()
    first.close()  # idempotent: the other handle is not released twice
    assert second.peers == 0
    assert revision(second) == 0  # still open for the other handle
    with pytest.raises(FailedPrecondition, match="closed"):
        revision(first)
    second.close()
    # the engine itself is closed now (LMDB: FailedPrecondition; psycopg's pool: PoolClosed)
    with pytest.raises(Exception, match="closed"):
        instance.read(lambda tx: tx.changes.current_revision())
    with open_shared(store_url) as third:  # and an open after that opens anew
        assert third.instance is not instance
        assert revision(third) == 0


def test_a_data_directory_and_its_url_and_spellings_are_one_store(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    with (
        open_shared_dir(tmp_path / "db") as by_path,
        open_shared(f"lmdb://{tmp_path}/db") as by_url,
        open_shared_dir(tmp_path / "db" / ".." / "db") as by_spelling,
        open_shared(f"lmdb://{tmp_path}/other") as other,
    ):
        assert by_path.instance is by_url.instance is by_spelling.instance
        assert other.instance is not by_path.instance
        assert isinstance(unwrap(by_path), LmdbStorage)
        assert by_path.path == tmp_path / "db"  # the backend's own attributes pass through
        with pytest.raises(FailedPrecondition, match="already open"):  # raw opens stay refused
            LmdbStorage(tmp_path / "db")


def test_the_last_close_releases_the_lmdb_environment(tmp_path: Path) -> None:
    handles = [open_shared_dir(tmp_path), open_shared_dir(tmp_path)]
    for handle in handles:
        handle.close()
    LmdbStorage(tmp_path).close()  # not refused as "already open": the engine is closed


def test_conflicting_options_are_refused_naming_the_option(store_url: str, backend: str) -> None:
    name, value = OTHER_OPTION[backend]
    other: dict[str, Any] = {name: value}
    with open_shared(store_url) as first:
        before = first.peers
        with pytest.raises(FailedPrecondition, match=f"{name}={value!r}"):
            open_shared(store_url, **other)
        assert first.peers == before  # the refused open holds no handle
        default: dict[str, Any] = {name: {"map_size": LmdbStorage.DEFAULT_MAP_SIZE, "pool_size": 8}[name]}
        with open_shared(store_url, **default) as same:  # the default, spelled out
            assert same.instance is first.instance


def test_durable_and_relaxed_opens_of_one_directory_conflict(tmp_path: Path) -> None:
    with open_shared_dir(tmp_path, durable=False), pytest.raises(FailedPrecondition, match="durable=True"):
        open_shared_dir(tmp_path)


def test_an_option_the_backend_does_not_take_is_invalid(store_url: str) -> None:
    with pytest.raises(InvalidArgument, match="no_such_option"):
        open_shared(store_url, no_such_option=1)


def test_threads_opening_at_once_get_one_instance(store_url: str) -> None:
    handles = race(8, lambda _: open_shared(store_url))
    assert all(isinstance(h, SharedStorage) for h in handles), handles
    try:
        assert len({id(h.instance) for h in handles}) == 1
        assert handles[0].peers == 7
    finally:
        race(8, lambda i: handles[i].close())
    with open_shared(store_url) as again:
        assert again.peers == 0
        assert all(again.instance is not h._instance.storage for h in handles)


def test_a_write_through_one_handle_is_read_and_heard_through_another(store_url: str) -> None:
    with open_shared(store_url) as writer, open_shared(store_url) as reader:
        assert writer.write(lambda tx: tx.counters.add(("test", "n"), 2)) == 2
        assert reader.write(lambda tx: tx.counters.add(("test", "n"), 1)) == 3
        assert reader.hub.revision == writer.hub.revision == 0
        writer.hub.publish(5)  # what a pipeline does after its commit
        assert reader.hub.revision == 5


@pytest.mark.parametrize("backend", ["postgres"])
def test_spellings_of_one_database_are_one_store(store_url: str) -> None:
    other_scheme = store_url.replace("postgresql://", "postgres://", 1)
    with open_shared(store_url) as first, open_shared(other_scheme) as second:
        assert second.instance is first.instance


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_password_is_in_the_key_and_never_in_a_message(backend: str) -> None:
    with pg_database() as dsn, open_shared(dsn) as first:
        with open_shared(dsn.replace(PG_PASSWORD, "another-one")) as other:  # the cluster trusts
            assert other.instance is not first.instance
        with pytest.raises(FailedPrecondition) as refused:
            open_shared(dsn, pool_size=2)
        assert PG_PASSWORD not in str(refused.value)
        assert PG_PASSWORD not in repr(first)
