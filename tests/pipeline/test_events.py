import pytest

from pipeline import events
from pipeline.errors import OutOfRange
from pipeline.store import LmdbStore, Transaction
from stigmer_sessions.api import SessionChange

DAY = 86_400 * 10**9


def add(store: LmdbStore, resource_id: str, org: str = "acme", time_ns: int = 0) -> int:
    def body(txn: Transaction) -> int:
        change = SessionChange(
            type="SessionUpdated", resource_kind="session", resource_id=resource_id, org=org
        )
        change.time.FromNanoseconds(time_ns)
        return events.append(txn, change, kind="session", resource_id=resource_id, org=org)

    return store.write(body)


def revisions(store: LmdbStore, **kw: object) -> list[int]:
    return store.read(lambda txn: [c.revision for c in events.scan(txn, SessionChange, **kw)])  # type: ignore[arg-type]


def test_revisions_are_sequential_and_scans_use_the_indexes(store: LmdbStore) -> None:
    assert [add(store, r, org) for r, org in [("a", "x"), ("b", "y"), ("a", "y"), ("c", "x")]] == [1, 2, 3, 4]
    assert revisions(store) == [1, 2, 3, 4]
    assert revisions(store, after_revision=2) == [3, 4]
    assert revisions(store, kind="session", resource_id="a") == [1, 3]
    assert revisions(store, org="x") == [1, 4]
    assert revisions(store, org="y", after_revision=2) == [3]
    assert store.read(events.current_revision) == 4


def test_an_aborted_write_leaves_no_gap(store: LmdbStore) -> None:
    add(store, "a")

    def fail(txn: Transaction) -> None:
        events.append(txn, SessionChange(), kind="session", resource_id="b", org="")
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        store.write(fail)
    assert add(store, "c") == 2


def test_compaction_by_count_and_out_of_range(store: LmdbStore) -> None:
    for i in range(10):
        add(store, f"r{i % 3}")
    result = events.compact(
        store, SessionChange, keep_revisions=4, now_ns=0, resource_kind_of=_where, batch=3
    )
    assert (result.deleted, result.oldest_revision) == (6, 7)
    assert revisions(store) == [7, 8, 9, 10]  # 0: from the oldest retained
    assert revisions(store, after_revision=6) == [7, 8, 9, 10]
    assert revisions(store, kind="session", resource_id="r0", after_revision=6) == [7, 10]
    with pytest.raises(OutOfRange, match="oldest available revision is 7"):
        revisions(store, after_revision=5)


def test_a_start_past_the_current_revision_is_out_of_range(store: LmdbStore) -> None:
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


def test_compaction_by_age(store: LmdbStore) -> None:
    for day in range(5):
        add(store, "a", time_ns=day * DAY)
    result = events.compact(store, SessionChange, max_age_ns=2 * DAY, now_ns=4 * DAY, resource_kind_of=_where)
    assert (result.deleted, result.oldest_revision) == (2, 3)  # days 0 and 1 are older than 2 days


def _where(change: SessionChange) -> tuple[str, str, str]:
    return change.resource_kind, change.resource_id, change.org


def test_scan_sized_gives_each_change_with_its_stored_size(store: LmdbStore) -> None:
    for r, org in [("a", "x"), ("bb", "y"), ("a", "y")]:
        add(store, r, org)

    def sizes(txn: Transaction, resource_id: str = "", org: str = "") -> list[tuple[int, int]]:
        found = events.scan_sized(txn, SessionChange, kind="session", resource_id=resource_id, org=org)
        return [(c.revision, size) for c, size in found]

    every = store.read(lambda txn: [(c.revision, c.ByteSize()) for c in events.scan(txn, SessionChange)])
    assert store.read(sizes) == every
    assert store.read(lambda txn: sizes(txn, resource_id="a")) == [every[0], every[2]]
    assert store.read(lambda txn: sizes(txn, org="y")) == every[1:]
