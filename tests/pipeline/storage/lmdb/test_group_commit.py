"""Group commit (not timed): batching, isolation of a failing request, durability."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import NotFound
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import RawTx, Table


@pytest.fixture
def durable(tmp_path: Path) -> Any:
    s = LmdbStorage(tmp_path / "db")  # durable: group commit on
    yield s
    s.close()


def put(key: bytes) -> Any:
    def body(txn: RawTx) -> bytes:
        txn.put(Table.RECORDS, key, b"v")
        return key

    return body


def get(lmdb_store: LmdbStorage, key: bytes) -> bytes | None:
    return lmdb_store.read_raw(lambda txn: txn.get(Table.RECORDS, key))


def test_a_lone_writer_commits_its_own_batch_at_once(durable: LmdbStorage) -> None:
    gc = durable.group_commit
    assert gc is not None
    for i in range(20):
        assert durable.write_raw(put(b"k%d" % i)) == b"k%d" % i
    assert (gc.batches, gc.writes, gc.largest_batch) == (20, 20, 1)  # no waiting for company


def _queue_behind_a_blocked_leader(lmdb_store: LmdbStorage, bodies: list[Any]) -> list[Any]:
    """Hold the current leader inside its write until every body below is queued, so they
    deterministically form the next batch; returns each body's result or exception."""
    gc = lmdb_store.group_commit
    assert gc is not None
    entered, release = threading.Event(), threading.Event()

    def blocking(txn: RawTx) -> None:
        entered.set()
        release.wait(30)
        txn.put(Table.RECORDS, b"leader", b"v")

    leader = threading.Thread(target=lmdb_store.write_raw, args=(blocking,))
    leader.start()
    entered.wait(30)
    results: list[Any] = [None] * len(bodies)

    def run(i: int) -> None:
        try:
            results[i] = lmdb_store.write_raw(bodies[i])
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for _ in range(30_000):  # until all are queued behind the leader (bounded: a bug fails, not hangs)
        with gc._cond:
            if len(gc._queue) == len(bodies):
                break
        threading.Event().wait(0.001)
    else:
        raise AssertionError("writers never queued behind the leader")
    release.set()
    for t in [leader, *threads]:
        t.join(30)
    return results


def test_concurrent_writes_share_one_batch(durable: LmdbStorage) -> None:
    bodies = [put(b"w%d" % i) for i in range(10)]
    results = _queue_behind_a_blocked_leader(durable, bodies)
    gc = durable.group_commit
    assert gc is not None
    assert results == [b"w%d" % i for i in range(10)]
    assert (gc.batches, gc.largest_batch) == (2, 10)  # the leader's, then all ten together
    assert all(get(durable, b"w%d" % i) == b"v" for i in range(10))


def test_one_failing_request_does_not_affect_its_batch(durable: LmdbStorage) -> None:
    def failing(txn: RawTx) -> None:
        txn.put(Table.RECORDS, b"bad", b"v")
        raise NotFound("this one fails")

    bodies = [put(b"ok1"), failing, put(b"ok2")]
    results = _queue_behind_a_blocked_leader(durable, bodies)
    assert results[0] == b"ok1" and results[2] == b"ok2"
    assert isinstance(results[1], NotFound)
    assert get(durable, b"bad") is None  # its nested transaction was aborted
    assert get(durable, b"ok1") == get(durable, b"ok2") == b"v"
    assert durable.group_commit is not None and durable.group_commit.largest_batch == 3


def test_every_acknowledged_write_is_there_after_reopening(tmp_path: Path) -> None:
    acknowledged: list[bytes] = []
    lock = threading.Lock()
    with LmdbStorage(tmp_path / "db") as lmdb_store:

        def writer(n: int) -> None:
            for i in range(25):
                key = lmdb_store.write_raw(put(b"%d-%d" % (n, i)))
                with lock:
                    acknowledged.append(key)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert lmdb_store.group_commit is not None and lmdb_store.group_commit.writes == 200
    with LmdbStorage(tmp_path / "db") as reopened:
        assert len(acknowledged) == 200
        assert all(get(reopened, key) == b"v" for key in acknowledged)


def test_a_full_map_during_a_batch_grows_and_keeps_every_write(tmp_path: Path) -> None:
    with LmdbStorage(tmp_path / "db", map_size=64 * 1024) as lmdb_store:
        start = lmdb_store.map_size

        def writer(n: int) -> None:
            for i in range(40):
                key = b"%d-%d" % (n, i)

                def body(txn: RawTx, key: bytes = key) -> None:
                    txn.put(Table.RECORDS, key, b"x" * 1500)

                lmdb_store.write_raw(body)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert lmdb_store.map_size > start
        assert lmdb_store.read_raw(lambda txn: sum(1 for _ in txn.scan(Table.RECORDS, b""))) == 160


def test_relaxed_stores_flush_in_the_background(tmp_path: Path) -> None:
    with LmdbStorage(tmp_path / "db", durable=False, flush_interval_s=0.01) as lmdb_store:
        assert lmdb_store.group_commit is None
        lmdb_store.write_raw(put(b"k"))
        done = threading.Event()
        for _ in range(500):  # bounded wait for the flusher thread, not a timing assertion
            if lmdb_store.flushes >= 2:
                done.set()
                break
            threading.Event().wait(0.01)
        assert done.is_set()
