"""Storage faults: a full volume, engine errors, a fatal engine error. Faults are injected
through a wrapper around the store's LMDB environment, and made for real on a small tmpfs."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import Any

import lmdb
import pytest

from pipeline.errors import Internal, OutOfSpace, ResourceExhausted
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import RawTx, Table
from tests.conftest import fill_volume
from tests.pipeline.storage.lmdb.test_group_commit import _queue_behind_a_blocked_leader


def engine_error(cls: type[lmdb.Error], text: str, code: int) -> lmdb.Error:
    """An engine error as py-lmdb's C extension raises it (message, and ``code`` set)."""
    exc = cls(text)
    setattr(exc, "code", code)  # noqa: B010  # declared Final in the stubs; set by the C extension
    return exc


def enospc() -> lmdb.Error:
    return engine_error(lmdb.DiskError, "mdb_txn_commit: No space left on device", errno.ENOSPC)


def eio() -> lmdb.Error:
    return engine_error(lmdb.Error, "mdb_txn_commit: Input/output error", errno.EIO)


class _FaultyTxn:
    def __init__(self, txn: lmdb.Transaction, env: FaultyEnv) -> None:
        self.txn = txn
        self.env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self.txn, name)

    def __enter__(self) -> _FaultyTxn:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        if exc_type is None and self.env.commit_fault is not None:
            if self.env.good_commits > 0:
                self.env.good_commits -= 1
                return self.txn.__exit__(exc_type, exc, tb)
            self.txn.abort()  # a failed commit lands nothing
            raise self.env.commit_fault
        return self.txn.__exit__(exc_type, exc, tb)


class FaultyEnv:
    """Stands in for the store's environment: while ``commit_fault`` is set, top-level write
    transactions abort and raise it where they would commit (after ``good_commits`` more
    succeed); ``begin_fault`` makes the next ``begin`` raise once. Everything else goes to
    the real environment."""

    def __init__(self, env: lmdb.Environment) -> None:
        self.env = env
        self.commit_fault: lmdb.Error | None = None
        self.good_commits = 0
        self.begin_fault: lmdb.Error | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def begin(self, **kw: Any) -> Any:
        if self.begin_fault is not None:
            fault, self.begin_fault = self.begin_fault, None
            raise fault
        parent = kw.get("parent")
        if isinstance(parent, _FaultyTxn):
            kw["parent"] = parent.txn
        txn = self.env.begin(**kw)
        return _FaultyTxn(txn, self) if kw.get("write") and parent is None else txn


def faulty(lmdb_store: LmdbStorage) -> FaultyEnv:
    env = FaultyEnv(lmdb_store._env)
    lmdb_store._env = env  # type: ignore[assignment]
    return env


def put(key: bytes, value: bytes = b"v") -> Any:
    def body(txn: RawTx) -> bytes:
        txn.put(Table.RECORDS, key, value)
        txn.add(Table.COUNTERS, b"n", 1)
        return key

    return body


def records(lmdb_store: LmdbStorage) -> list[bytes]:
    return lmdb_store.read_raw(lambda txn: [k for k, _ in txn.scan(Table.RECORDS, b"")])


def test_a_full_disk_on_commit_is_out_of_space_logged_and_lands_nothing(
    lmdb_store: LmdbStorage, caplog: pytest.LogCaptureFixture
) -> None:
    lmdb_store.write_raw(put(b"before"))
    env = faulty(lmdb_store)
    env.commit_fault = enospc()
    with (
        caplog.at_level(logging.ERROR, logger="pipeline.storage.lmdb.engine"),
        pytest.raises(OutOfSpace) as caught,
    ):
        lmdb_store.write_raw(put(b"doomed"))
    assert isinstance(caught.value, ResourceExhausted)
    assert "out of disk space" in caught.value.message
    assert "mdb" not in caught.value.message and "No space" not in caught.value.message
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(str(lmdb_store.path) in m and "No space left on device" in m for m in logged), logged
    assert records(lmdb_store) == [b"before"]  # reads go on; nothing of the failed write landed
    assert lmdb_store.read_raw(lambda txn: txn.counter(Table.COUNTERS, b"n")) == 1
    env.commit_fault = None  # space freed
    lmdb_store.write_raw(put(b"after"))
    assert records(lmdb_store) == [b"after", b"before"]


@pytest.mark.parametrize(("free_bytes", "expected"), [(4096, OutOfSpace), (10 << 30, Internal)])
def test_eio_is_out_of_space_only_when_the_volume_is_nearly_full(
    lmdb_store: LmdbStorage, monkeypatch: pytest.MonkeyPatch, free_bytes: int, expected: type[Exception]
) -> None:
    class Fs:
        f_frsize = 4096
        f_bavail = free_bytes // 4096

    monkeypatch.setattr("pipeline.storage.lmdb.engine.os.statvfs", lambda path: Fs())
    faulty(lmdb_store).commit_fault = eio()
    with pytest.raises(expected) as caught:
        lmdb_store.write_raw(put(b"k"))
    assert type(caught.value) is expected
    assert "Input/output" not in str(caught.value) and "mdb" not in str(caught.value)
    assert records(lmdb_store) == []


def test_engine_errors_reach_callers_without_engine_text(
    lmdb_store: LmdbStorage, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="pipeline.storage.lmdb.engine"),
        pytest.raises(Internal) as caught,
    ):
        lmdb_store.write_raw(put(b""))  # an empty key: MDB_BAD_VALSIZE
    assert caught.value.message == "store write failed"
    assert isinstance(caught.value.__cause__, lmdb.Error)  # the detail stays reachable in-process
    assert any("MDB_BAD_VALSIZE" in r.getMessage() or "Invalid" in r.getMessage() for r in caplog.records)


def test_a_full_disk_fails_every_write_of_a_group_commit_batch(tmp_path: Path) -> None:
    with LmdbStorage(tmp_path / "db") as durable:
        env = faulty(durable)
        env.commit_fault, env.good_commits = enospc(), 1  # the blocked leader's own batch lands
        results = _queue_behind_a_blocked_leader(durable, [put(b"k%d" % i) for i in range(3)])
        gc = durable.group_commit
        assert gc is not None and gc.largest_batch == 3
        assert all(isinstance(r, OutOfSpace) for r in results), results
        assert records(durable) == [b"leader"]


def test_a_full_disk_inside_one_nested_write_fails_the_whole_batch(tmp_path: Path) -> None:
    def spills(txn: RawTx) -> None:  # as if the engine hit ENOSPC spilling pages to disk
        txn.put(Table.RECORDS, b"spill", b"v")
        raise OutOfSpace("the store is out of disk space")

    with LmdbStorage(tmp_path / "db") as durable:
        results = _queue_behind_a_blocked_leader(durable, [put(b"a"), spills, put(b"b")])
        assert all(isinstance(r, OutOfSpace) for r in results), results
        assert records(durable) == [b"leader"]


def test_a_failed_map_growth_fails_every_write_of_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LmdbStorage(tmp_path / "db", map_size=64 * 1024) as durable:

        def no_room() -> None:
            raise OutOfSpace("the store is out of disk space")

        monkeypatch.setattr(durable, "_grow", no_room)
        results = _queue_behind_a_blocked_leader(durable, [put(b"k%d" % i, b"x" * 30_000) for i in range(3)])
        assert all(isinstance(r, OutOfSpace) for r in results), results  # none silently "succeeds"
        assert records(durable) == [b"leader"]


def test_a_fatal_engine_error_reopens_the_store_and_keeps_the_data(
    lmdb_store: LmdbStorage, caplog: pytest.LogCaptureFixture
) -> None:
    lmdb_store.write_raw(put(b"kept"))
    panic = engine_error(lmdb.PanicError, "mdb_txn_begin: MDB_PANIC", -30795)
    faulty(lmdb_store).begin_fault = panic
    with caplog.at_level(logging.ERROR, logger="pipeline.storage.lmdb.engine"):
        assert records(lmdb_store) == [b"kept"]  # the read reopened the environment and went on
    assert any("reopening" in r.getMessage() for r in caplog.records)
    assert not isinstance(lmdb_store._env, FaultyEnv)
    faulty(lmdb_store).begin_fault = panic
    lmdb_store.write_raw(put(b"next"))  # a write does the same
    assert records(lmdb_store) == [b"kept", b"next"]


def test_a_reopen_that_fails_is_internal_and_retried_by_the_next_call(lmdb_store: LmdbStorage) -> None:
    lmdb_store.write_raw(put(b"kept"))
    real = lmdb.open

    def reopen_panicking(path: str, **kw: Any) -> Any:
        env = FaultyEnv(real(path, **kw))
        env.begin_fault = engine_error(lmdb.PanicError, "mdb_txn_begin: MDB_PANIC", -30795)
        return env

    faulty(lmdb_store).begin_fault = engine_error(lmdb.PanicError, "mdb_txn_begin: MDB_PANIC", -30795)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("pipeline.storage.lmdb.engine.lmdb.open", reopen_panicking)
        # the reopen's own first begin (opening the tables) panics: the read fails cleanly
        with pytest.raises(Internal) as caught:
            records(lmdb_store)
    assert "MDB_PANIC" not in caught.value.message
    assert records(lmdb_store) == [b"kept"]  # the next call reopens the store, and it works again
    lmdb_store.write_raw(put(b"next"))
    assert records(lmdb_store) == [b"kept", b"next"]


# -- for real: a 4 MiB tmpfs -------------------------------------------------------------


@pytest.mark.parametrize("map_size", [64 << 20, 64 << 10], ids=["roomy-map", "map-grows-on-a-full-disk"])
def test_a_really_full_volume_refuses_writes_keeps_reads_and_recovers(
    small_volume: Path, map_size: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.storage.lmdb.engine")
    with LmdbStorage(small_volume / "db", map_size=map_size) as lmdb_store:
        lmdb_store.write_raw(put(b"first"))
        filler = fill_volume(small_volume, leave_bytes=256 * 1024)
        written = 0
        with pytest.raises(OutOfSpace) as caught:
            for i in range(1000):
                lmdb_store.write_raw(put(b"k%04d" % i, os.urandom(50_000)))
                written += 1
        assert "out of disk space" in caught.value.message
        assert "mdb" not in caught.value.message
        failed_key = b"k%04d" % written
        assert lmdb_store.read_raw(lambda txn: txn.get(Table.RECORDS, failed_key)) is None
        assert len(records(lmdb_store)) == written + 1  # reads work; the failed write left nothing
        assert lmdb_store.read_raw(lambda txn: txn.counter(Table.COUNTERS, b"n")) == written + 1
        with pytest.raises(OutOfSpace):  # still full: still refused, still nothing written
            lmdb_store.write_raw(put(failed_key, os.urandom(50_000)))
        filler.unlink()
        lmdb_store.write_raw(put(failed_key, os.urandom(50_000)))
        assert len(records(lmdb_store)) == written + 2
        if map_size < 1 << 20:  # the map had to grow while the volume was full
            assert any("growing LMDB map" in r.getMessage() for r in caplog.records)
        engine = [r.getMessage() for r in caplog.records if "out of disk space" in r.getMessage()]
        assert engine and all(str(lmdb_store.path) in m for m in engine)
