import pytest

from pipeline.errors import AlreadyExists
from pipeline.storage import Tx
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import RawTx, Table
from stigmer_sessions.api import Session
from stigmer_sessions.resource import AGENT_INSTANCE_INDEX, SESSION
from tests.conftest import make_session


def stored(name: str, record_id: str, **kw: object) -> Session:
    s = make_session(name, **kw)  # type: ignore[arg-type]
    s.metadata.id = record_id
    s.metadata.slug = name
    return s


def test_put_indexes_and_counts(lmdb_store: LmdbStorage) -> None:
    a = stored("a", "ses-1", tags=("x", "y"))
    lmdb_store.write(lambda txn: txn.records(SESSION).put(a))

    def check(txn: Tx) -> None:
        r = txn.records(SESSION)
        assert r.get("ses-1") == a
        assert r.find_unique("slug", ("acme", "a")) == "ses-1"
        assert r.count() == 1
        assert r.count("tag", ("x",)) == 1
        assert r.count("org_tag", ("acme", "y")) == 1
        assert [s.metadata.id for s, _ in r.scan_sized(AGENT_INSTANCE_INDEX, ("ain-1",))] == ["ses-1"]

    lmdb_store.read(check)


def test_update_moves_only_changed_index_entries(lmdb_store: LmdbStorage) -> None:
    old = stored("a", "ses-1", tags=("x",), agent="ain-1")
    new = stored("a", "ses-1", tags=("z",), agent="ain-2")
    lmdb_store.write(lambda txn: txn.records(SESSION).put(old))
    lmdb_store.write(lambda txn: txn.records(SESSION).put(new, old))

    def check(txn: Tx) -> None:
        r = txn.records(SESSION)
        assert r.count() == 1
        assert (r.count("tag", ("x",)), r.count("tag", ("z",))) == (0, 1)
        assert list(r.scan_sized(AGENT_INSTANCE_INDEX, ("ain-1",))) == []
        assert [s.metadata.id for s, _ in r.scan_sized(AGENT_INSTANCE_INDEX, ("ain-2",))] == ["ses-1"]

    lmdb_store.read(check)


def test_delete_removes_record_index_entries_and_counters(lmdb_store: LmdbStorage) -> None:
    a = stored("a", "ses-1", tags=("x", "y"))
    lmdb_store.write(lambda txn: txn.records(SESSION).put(a))
    lmdb_store.write(lambda txn: txn.records(SESSION).delete(a))
    assert lmdb_store.stat() == {t.value: 0 for t in Table}


def test_unique_conflict_is_refused_and_nothing_written(lmdb_store: LmdbStorage) -> None:
    lmdb_store.write(lambda txn: txn.records(SESSION).put(stored("a", "ses-1")))
    before = lmdb_store.stat()
    with pytest.raises(AlreadyExists):
        lmdb_store.write(lambda txn: txn.records(SESSION).put(stored("a", "ses-2")))
    assert lmdb_store.stat() == before


def test_scan_resumes_after_an_id_in_both_directions(lmdb_store: LmdbStorage) -> None:
    def fill(txn: Tx) -> None:
        r = txn.records(SESSION)
        for i in range(5):
            r.put(stored(f"s{i}", f"ses-{i}"))

    lmdb_store.write(fill)
    ids = lmdb_store.read(
        lambda txn: [s.metadata.id for s, _ in txn.records(SESSION).scan_sized(after_id="ses-1")]
    )
    assert ids == ["ses-2", "ses-3", "ses-4"]
    ids = lmdb_store.read(
        lambda txn: [
            s.metadata.id
            for s, _ in txn.records(SESSION).scan_sized("org", ("acme",), after_id="ses-3", reverse=True)
        ]
    )
    assert ids == ["ses-2", "ses-1", "ses-0"]


def test_scan_sized_gives_each_record_with_its_stored_size(lmdb_store: LmdbStorage) -> None:
    records = [stored(f"r{i}", f"ses-{i}", subject="x" * (100 * i)) for i in range(1, 4)]

    def put_all(txn: Tx) -> None:
        for r in records:
            txn.records(SESSION).put(r)

    lmdb_store.write(put_all)

    def check(txn: Tx) -> None:
        r = txn.records(SESSION)
        expected = [(s, s.ByteSize()) for s in records]
        assert list(r.scan_sized()) == expected
        assert list(r.scan_sized(AGENT_INSTANCE_INDEX, ("ain-1",), reverse=True)) == expected[::-1]

    lmdb_store.read(check)


def test_index_entries_hold_no_copy_of_the_id_and_older_ones_that_do_still_read(
    lmdb_store: LmdbStorage,
) -> None:
    lmdb_store.write(lambda txn: txn.records(SESSION).put(stored("a", "ses-1", agent="ain-1")))
    entries = lmdb_store.read_raw(lambda raw: list(raw.scan(Table.INDEX, b"")))
    assert entries and all(value == b"" for _, value in entries)  # the key ends in the id

    # a store written before: every plain entry's value is the id
    def older(raw: RawTx) -> None:
        for key, _ in entries:
            raw.put(Table.INDEX, key, b"ses-1")

    lmdb_store.write_raw(older)
    found = lmdb_store.read(
        lambda txn: [
            s.metadata.id for s, _ in txn.records(SESSION).scan_sized(AGENT_INSTANCE_INDEX, ("ain-1",))
        ]
    )
    assert found == ["ses-1"]
    assert lmdb_store.check([SESSION]).ok
    # but a value naming another record is damage
    key = entries[0][0]
    lmdb_store.write_raw(lambda raw: raw.put(Table.INDEX, key, b"ses-2"))
    assert any("points to" in p for p in lmdb_store.check([SESSION]).problems)
