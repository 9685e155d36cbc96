import pytest

from pipeline import events
from pipeline.errors import OutOfRange
from pipeline.storage import Storage, Tx
from stigmer_sessions.api import SessionChange

DAY = 86_400 * 10**9


def add(store: Storage, resource_id: str, org: str = "acme", time_ns: int = 0) -> int:
    def body(txn: Tx) -> int:
        change = SessionChange(
            type="SessionUpdated", resource_kind="session", resource_id=resource_id, org=org
        )
        change.time.FromNanoseconds(time_ns)
        return txn.changes.append(
            change, kind="session", resource_id=resource_id, org=org, time_ns=change.time.ToNanoseconds()
        )

    return store.write(body)


def revisions(store: Storage, **kw: object) -> list[int]:
    return store.read(lambda txn: [c.revision for c in events.scan(txn, SessionChange, kind="session", **kw)])  # type: ignore[arg-type]


def test_revisions_are_sequential_and_scans_use_the_indexes(store: Storage) -> None:
    assert [add(store, r, org) for r, org in [("a", "x"), ("b", "y"), ("a", "y"), ("c", "x")]] == [1, 2, 3, 4]
    assert revisions(store) == [1, 2, 3, 4]
    assert revisions(store, after_revision=2) == [3, 4]
    assert revisions(store, resource_id="a") == [1, 3]
    assert revisions(store, org="x") == [1, 4]
    assert revisions(store, org="y", after_revision=2) == [3]
    assert store.read(lambda tx: tx.changes.current_revision()) == 4


def test_an_aborted_write_leaves_no_gap(store: Storage) -> None:
    add(store, "a")

    def fail(txn: Tx) -> None:
        txn.changes.append(SessionChange(), kind="session", resource_id="b", org="", time_ns=0)
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        store.write(fail)
    assert add(store, "c") == 2


def test_compaction_by_count_and_out_of_range(store: Storage) -> None:
    for i in range(10):
        add(store, f"r{i % 3}")
    result = events.compact(store, keep_revisions=4, now_ns=0, batch=3)
    assert (result.deleted, result.oldest_revision) == (6, 7)
    assert revisions(store) == [7, 8, 9, 10]  # 0: from the oldest retained
    assert revisions(store, after_revision=6) == [7, 8, 9, 10]
    assert revisions(store, resource_id="r0", after_revision=6) == [7, 10]
    with pytest.raises(OutOfRange, match="oldest available revision is 7"):
        revisions(store, after_revision=5)


def test_a_start_past_the_current_revision_is_out_of_range(store: Storage) -> None:
    # No response ever names a revision past the head, so such a start is a client's mistake
    # or a store restored from an older snapshot; answering "nothing yet" would make the
    # client skip every change up to that revision once they are made.
    for i in range(3):
        add(store, f"r{i}")
    assert revisions(store, after_revision=3) == []
    with pytest.raises(OutOfRange, match="past the current revision 3"):
        revisions(store, after_revision=4)
    with pytest.raises(OutOfRange):
        revisions(store, org="acme", after_revision=10**9)


def test_compaction_by_age(store: Storage) -> None:
    for day in range(5):
        add(store, "a", time_ns=day * DAY)
    result = events.compact(store, max_age_ns=2 * DAY, now_ns=4 * DAY)
    assert (result.deleted, result.oldest_revision) == (2, 3)  # days 0 and 1 are older than 2 days


def test_scan_sized_gives_each_change_with_its_stored_size(store: Storage) -> None:
    for r, org in [("a", "x"), ("bb", "y"), ("a", "y")]:
        add(store, r, org)

    def sizes(txn: Tx, resource_id: str = "", org: str = "") -> list[tuple[int, int]]:
        found = events.scan_sized(txn, SessionChange, kind="session", resource_id=resource_id, org=org)
        return [(c.revision, size) for c, size in found]

    every = store.read(
        lambda txn: [(c.revision, c.ByteSize()) for c in events.scan(txn, SessionChange, kind="session")]
    )
    assert store.read(sizes) == every
    assert store.read(lambda txn: sizes(txn, resource_id="a")) == [every[0], every[2]]
    assert store.read(lambda txn: sizes(txn, org="y")) == every[1:]
