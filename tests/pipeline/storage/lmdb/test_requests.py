"""The LMDB request store: entries and their expiry keys, purged oldest first."""

from pipeline.storage import Tx
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import Table


def test_purge_is_bounded_and_oldest_first(lmdb_store: LmdbStorage) -> None:
    def fill(txn: Tx) -> None:
        for i in range(40):
            txn.requests.remember(
                "session", f"r{i:02d}", fingerprint=b"d" * 32, response=b"", expires_at_ns=i
            )

    lmdb_store.write(fill)
    assert lmdb_store.write(lambda txn: txn.requests.purge_expired(100, 16)) == 16
    assert lmdb_store.stat()[Table.REQUESTS.value] == 48
    assert lmdb_store.read(lambda txn: txn.requests.lookup("session", "r39", now_ns=0)) is not None
    # expiring exactly at `now` counts as expired, in lookup and purge alike: r16..r30
    assert lmdb_store.write(lambda txn: txn.requests.purge_expired(30, 100)) == 15
    assert lmdb_store.read(lambda txn: txn.requests.lookup("session", "r30", now_ns=0)) is None
    assert lmdb_store.read(lambda txn: txn.requests.lookup("session", "r31", now_ns=0)) is not None


def test_reusing_an_expired_id_replaces_its_expiry_key(lmdb_store: LmdbStorage) -> None:
    lmdb_store.write(
        lambda txn: txn.requests.remember(
            "session", "r", fingerprint=b"a" * 32, response=b"1", expires_at_ns=5
        )
    )
    lmdb_store.write(
        lambda txn: txn.requests.remember(
            "session", "r", fingerprint=b"b" * 32, response=b"2", expires_at_ns=50
        )
    )
    assert lmdb_store.stat()[Table.REQUESTS.value] == 2
    entry = lmdb_store.read(lambda txn: txn.requests.lookup("session", "r", now_ns=10))
    assert entry is not None
    assert entry.response == b"2"
