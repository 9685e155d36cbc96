from pipeline import idempotency
from pipeline.store import LmdbStore, Table
from tests.conftest import make_session


def test_fingerprint_covers_operation_payload_and_precondition() -> None:
    a = make_session("a")
    base = idempotency.fingerprint("create", a)
    assert base == idempotency.fingerprint("create", make_session("a"))
    assert base != idempotency.fingerprint("apply", a)
    assert base != idempotency.fingerprint("create", make_session("b"))
    assert base != idempotency.fingerprint("create", a, "v1")


def test_purge_is_bounded_and_oldest_first(store: LmdbStore) -> None:
    def fill(txn: object) -> None:
        for i in range(40):
            idempotency.remember(txn, "session", f"r{i:02d}", digest=b"d" * 32, response=b"", expires_at_ns=i)  # type: ignore[arg-type]

    store.write(fill)
    assert store.write(lambda txn: idempotency.purge_expired(txn, now_ns=100, limit=16)) == 16
    assert store.stat()[Table.REQUESTS.value] == 48
    assert store.read(lambda txn: idempotency.lookup(txn, "session", "r39", now_ns=0)) is not None
    # expiring exactly at `now` counts as expired, in lookup and purge alike: r16..r30
    assert store.write(lambda txn: idempotency.purge_expired(txn, now_ns=30, limit=100)) == 15
    assert store.read(lambda txn: idempotency.lookup(txn, "session", "r30", now_ns=0)) is None
    assert store.read(lambda txn: idempotency.lookup(txn, "session", "r31", now_ns=0)) is not None


def test_reusing_an_expired_id_replaces_its_expiry_key(store: LmdbStore) -> None:
    store.write(
        lambda txn: idempotency.remember(
            txn, "session", "r", digest=b"a" * 32, response=b"1", expires_at_ns=5
        )
    )
    store.write(
        lambda txn: idempotency.remember(
            txn, "session", "r", digest=b"b" * 32, response=b"2", expires_at_ns=50
        )
    )
    assert store.stat()[Table.REQUESTS.value] == 2
    entry = store.read(lambda txn: idempotency.lookup(txn, "session", "r", now_ns=10))
    assert entry is not None
    assert entry.response == b"2"
