from pathlib import Path

import pytest

from pipeline.errors import FailedPrecondition, Internal, NotFound
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import RawTx, Table


def put(lmdb_store: LmdbStorage, key: bytes, value: bytes) -> None:
    lmdb_store.write_raw(lambda txn: txn.put(Table.RECORDS, key, value))


def test_write_commits_and_read_sees_it(lmdb_store: LmdbStorage) -> None:
    put(lmdb_store, b"k", b"v")
    assert lmdb_store.read_raw(lambda txn: txn.get(Table.RECORDS, b"k")) == b"v"


def test_an_error_aborts_everything_the_transaction_wrote(lmdb_store: LmdbStorage) -> None:
    def body(txn: RawTx) -> None:
        txn.put(Table.RECORDS, b"a", b"1")
        txn.put(Table.INDEX, b"b", b"2")
        raise NotFound("stop")

    with pytest.raises(NotFound):
        lmdb_store.write_raw(body)
    assert lmdb_store.stat() == {t.value: 0 for t in Table}


def test_scan_prefix_forward_reverse_and_after(lmdb_store: LmdbStorage) -> None:
    def fill(txn: RawTx) -> None:
        for key in (b"a1", b"b1", b"b2", b"b3", b"c1"):
            txn.put(Table.RECORDS, key, key)

    lmdb_store.write_raw(fill)

    def keys(prefix: bytes, **kw: object) -> list[bytes]:
        return lmdb_store.read_raw(lambda txn: [k for k, _ in txn.scan(Table.RECORDS, prefix, **kw)])  # type: ignore[arg-type]

    assert keys(b"b") == [b"b1", b"b2", b"b3"]
    assert keys(b"b", reverse=True) == [b"b3", b"b2", b"b1"]
    assert keys(b"b", after=b"b1") == [b"b2", b"b3"]
    assert keys(b"b", after=b"b3", reverse=True) == [b"b2", b"b1"]
    assert keys(b"b", after=b"b15") == [b"b2", b"b3"]  # resume point need not exist any more
    assert keys(b"c", reverse=True) == [b"c1"]  # last prefix in the table
    assert keys(b"a", reverse=True) == [b"a1"]
    assert keys(b"z") == []
    assert keys(b"", reverse=True) == [b"c1", b"b3", b"b2", b"b1", b"a1"]


def test_counters_add_and_vanish_at_zero(lmdb_store: LmdbStorage) -> None:
    assert lmdb_store.write_raw(lambda txn: txn.add(Table.COUNTERS, b"n", 2)) == 2
    assert lmdb_store.write_raw(lambda txn: txn.add(Table.COUNTERS, b"n", -2)) == 0
    assert lmdb_store.stat()["counters"] == 0


def test_map_grows_instead_of_failing(tmp_path: Path) -> None:
    with LmdbStorage(tmp_path / "small", durable=False, map_size=64 * 1024) as small:
        start = small.map_size
        for i in range(200):
            put(small, f"key-{i:04d}".encode(), b"x" * 2000)
        assert small.map_size > start
        assert small.read_raw(lambda txn: sum(1 for _ in txn.scan(Table.RECORDS, b"key-"))) == 200


def test_reopen_keeps_data(tmp_path: Path) -> None:
    with LmdbStorage(tmp_path / "db") as first:
        put(first, b"k", b"v")
    with LmdbStorage(tmp_path / "db") as again:
        assert again.read_raw(lambda txn: txn.get(Table.RECORDS, b"k")) == b"v"


def test_second_open_of_the_same_path_is_refused(lmdb_store: LmdbStorage) -> None:
    with pytest.raises(FailedPrecondition, match="already open"):
        LmdbStorage(lmdb_store.path)


def test_use_after_close_is_a_clear_error(tmp_path: Path) -> None:
    s = LmdbStorage(tmp_path / "db")
    s.close()
    with pytest.raises(FailedPrecondition, match="closed"):
        s.read_raw(lambda txn: None)


def test_lmdb_errors_do_not_leak(lmdb_store: LmdbStorage) -> None:
    # An empty key is invalid in LMDB (BadValsizeError): callers see our Internal error.
    with pytest.raises(Internal, match="store write failed"):
        put(lmdb_store, b"", b"v")


def test_unopenable_path_is_internal_with_the_path(tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("occupied")
    with pytest.raises(Internal, match="not-a-dir"):
        LmdbStorage(target)
