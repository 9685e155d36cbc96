"""The backend contract: every storage backend runs these tests unchanged.

They speak only the protocols of :mod:`pipeline.storage` (the way Kubernetes' generic
registry store tests keep every backend honest), so a new backend is correct when this file
passes against it. The ``storage`` fixture (``conftest.py``) yields each backend in turn.
"""

from __future__ import annotations

import threading
from itertools import islice
from typing import Any

import pytest

from pipeline.errors import AlreadyExists, InvalidArgument
from pipeline.resource import ORG_INDEX, SLUG_INDEX, TAG_INDEX
from pipeline.storage import Storage, StoredChange, Tx
from stigmer_sessions.api import ApiResourceMetadata, Session, SessionChange, SessionSpec
from stigmer_sessions.resource import SESSION
from tests.conftest import ORG, race

OTHER = SESSION.__class__(
    name="other",
    kind="Other",
    api_version=SESSION.api_version,
    id_prefix="oth",
    message_type=Session,
    event_type=SessionChange,
    event_resource_field="session",
)


def record(n: int, *, org: str = "acme", tags: tuple[str, ...] = (), slug: str = "") -> Session:
    """A stored-shape session with a sortable id (creation order = id order)."""
    return Session(
        metadata=ApiResourceMetadata(
            id=f"ses-{n:08d}", name=f"s{n}", slug=slug or f"s{n}", org=org, owner_scope=ORG, tags=list(tags)
        ),
        spec=SessionSpec(agent_instance_id="ain-1"),
    )


def put(storage: Storage, *records: Session) -> None:
    def body(tx: Tx) -> None:
        for r in records:
            tx.records(SESSION).put(r, tx.records(SESSION).get(r.metadata.id))

    storage.write(body)


def ids(storage: Storage, index: str | None = None, values: tuple[str, ...] = (), **kw: Any) -> list[str]:
    return storage.read(
        lambda tx: [r.metadata.id for r, _ in tx.records(SESSION).scan_sized(index, values, **kw)]
    )


def change(n: int) -> SessionChange:
    return SessionChange(type="SessionCreated", resource_kind="session", resource_id=f"ses-{n:08d}")


def append(tx: Tx, n: int, *, kind: str = "session", org: str = "acme", time_ns: int = 0) -> int:
    return tx.changes.append(change(n), kind=kind, resource_id=f"ses-{n:08d}", org=org, time_ns=time_ns or n)


def revisions(storage: Storage, **kw: Any) -> list[int]:
    return storage.read(lambda tx: [c.revision for c in tx.changes.scan(**{"kind": "session", **kw})])


# --- records, indexes, uniqueness ------------------------------------------------------------


def test_a_record_round_trips_and_a_missing_one_is_none(storage: Storage) -> None:
    r = record(1, tags=("a",))
    put(storage, r)
    assert storage.read(lambda tx: tx.records(SESSION).get("ses-00000001")) == r
    assert storage.read(lambda tx: tx.records(SESSION).get("ses-missing")) is None
    assert storage.read(lambda tx: tx.records(SESSION).count()) == 1


def test_scans_are_in_id_order_both_ways_and_resume_strictly_after(storage: Storage) -> None:
    put(storage, *(record(n, tags=("t",) if n % 2 else ()) for n in (3, 1, 2, 5, 4)))
    assert ids(storage) == [f"ses-{n:08d}" for n in (1, 2, 3, 4, 5)]
    assert ids(storage, reverse=True) == [f"ses-{n:08d}" for n in (5, 4, 3, 2, 1)]
    assert ids(storage, after_id="ses-00000002") == [f"ses-{n:08d}" for n in (3, 4, 5)]
    assert ids(storage, after_id="ses-00000004", reverse=True) == [f"ses-{n:08d}" for n in (3, 2, 1)]
    assert ids(storage, TAG_INDEX, ("t",)) == [f"ses-{n:08d}" for n in (1, 3, 5)]
    assert ids(storage, TAG_INDEX, ("t",), after_id="ses-00000003", reverse=True) == ["ses-00000001"]


def test_scan_sizes_are_the_stored_sizes(storage: Storage) -> None:
    r = record(1)
    r.metadata.annotations["big"] = "x" * 5000
    put(storage, r)
    [(got, size)] = storage.read(lambda tx: list(tx.records(SESSION).scan_sized()))
    assert got == r and size == len(r.SerializeToString())


def test_indexes_and_counts_follow_every_update_and_delete(storage: Storage) -> None:
    r = record(1, tags=("a", "b"))
    put(storage, r, record(2, tags=("a",)), record(3, org="beta"))

    def counts(tx: Tx) -> tuple[int, ...]:
        rs = tx.records(SESSION)
        return (
            rs.count(),
            rs.count(TAG_INDEX, ("a",)),
            rs.count(TAG_INDEX, ("b",)),
            rs.count(ORG_INDEX, ("acme",)),
        )

    assert storage.read(counts) == (3, 2, 1, 2)
    moved = Session()
    moved.CopyFrom(r)
    del moved.metadata.tags[:]
    moved.metadata.tags.append("c")
    put(storage, moved)
    assert storage.read(counts) == (3, 1, 0, 2)
    assert ids(storage, TAG_INDEX, ("c",)) == ["ses-00000001"]
    assert ids(storage, TAG_INDEX, ("b",)) == []
    storage.write(lambda tx: tx.records(SESSION).delete(moved))
    assert storage.read(counts) == (2, 1, 0, 1)
    assert ids(storage, TAG_INDEX, ("c",)) == []


def test_a_unique_entry_held_by_another_record_is_already_exists_and_nothing_lands(storage: Storage) -> None:
    put(storage, record(1, slug="same"))
    before = storage.snapshot()

    def second(tx: Tx) -> None:
        tx.changes.append(change(2), kind="session", resource_id="ses-00000002", org="acme", time_ns=1)
        tx.records(SESSION).put(record(2, slug="same"))

    with pytest.raises(AlreadyExists):
        storage.write(second)
    assert storage.snapshot() == before
    assert (
        storage.read(lambda tx: tx.records(SESSION).find_unique(SLUG_INDEX, ("acme", "same")))
        == "ses-00000001"
    )


def test_same_name_creates_racing_have_exactly_one_winner(storage: Storage) -> None:
    def create(i: int) -> str:
        def body(tx: Tx) -> str:
            rs = tx.records(SESSION)
            holder = rs.find_unique(SLUG_INDEX, ("acme", "race"))
            if holder is not None:
                raise AlreadyExists(f"taken by {holder}")
            rs.put(record(i + 1, slug="race"))
            return f"ses-{i + 1:08d}"

        return storage.write(body)

    results = race(8, create)
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1, results
    assert all(isinstance(r, AlreadyExists) for r in results if not isinstance(r, str)), results
    assert storage.read(lambda tx: tx.records(SESSION).count()) == 1


def test_read_modify_write_never_loses_an_update(storage: Storage) -> None:
    put(storage, record(1))

    def bump(_: int) -> None:
        for _ in range(10):

            def body(tx: Tx) -> None:
                rs = tx.records(SESSION)
                current = rs.get("ses-00000001")
                assert current is not None
                updated = Session()
                updated.CopyFrom(current)
                updated.metadata.labels["n"] = str(int(current.metadata.labels.get("n", "0")) + 1)
                rs.put(updated, current)

            storage.write(body)

    assert not [r for r in race(6, bump) if r is not None]
    final = storage.read(lambda tx: tx.records(SESSION).get("ses-00000001"))
    assert final is not None and final.metadata.labels["n"] == "60"


def test_a_quota_checked_by_count_admits_exactly_the_limit(storage: Storage) -> None:
    def create(i: int) -> str:
        def body(tx: Tx) -> str:
            rs = tx.records(SESSION)
            if rs.count(ORG_INDEX, ("acme",)) >= 3:
                raise InvalidArgument("quota")
            rs.put(record(i + 1))
            return "ok"

        return storage.write(body)

    results = race(8, create)
    assert results.count("ok") == 3, results
    assert storage.read(lambda tx: tx.records(SESSION).count(ORG_INDEX, ("acme",))) == 3


def test_paging_under_churn_sees_every_survivor_exactly_once(storage: Storage) -> None:
    put(storage, *(record(n) for n in range(1, 61, 2)))  # odd ids survive throughout
    stop = threading.Event()

    def churn() -> None:
        n = 2
        while not stop.is_set() and n < 400:
            put(storage, record(n))
            victim = storage.read(lambda tx, n=n: tx.records(SESSION).get(f"ses-{n:08d}"))  # type: ignore[misc]
            assert victim is not None
            storage.write(lambda tx, v=victim: tx.records(SESSION).delete(v))  # type: ignore[misc]
            n += 2

    worker = threading.Thread(target=churn)
    worker.start()
    seen: list[str] = []
    after: str | None = None
    try:
        while True:
            page = storage.read(
                lambda tx, a=after: [  # type: ignore[misc]
                    r.metadata.id for r, _ in islice(tx.records(SESSION).scan_sized(after_id=a), 7)
                ]
            )
            if not page:
                break
            seen += page
            after = page[-1]
    finally:
        stop.set()
        worker.join()
    survivors = [s for s in seen if int(s[4:]) % 2]
    assert survivors == [f"ses-{n:08d}" for n in range(1, 61, 2)]
    assert len(seen) == len(set(seen))


def test_a_failed_write_leaves_nothing_and_reads_see_one_snapshot(storage: Storage) -> None:
    put(storage, record(1))
    before = storage.snapshot()

    def fail(tx: Tx) -> None:
        tx.records(SESSION).put(record(2))
        append(tx, 2)
        tx.children.append("session", "ses-00000001", 1, b"m")
        tx.requests.remember("session", "r1", fingerprint=b"f" * 32, response=b"x", expires_at_ns=10**18)
        tx.counters.add(("session", "n"), 1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        storage.write(fail)
    assert storage.snapshot() == before

    def two_looks(tx: Tx) -> tuple[list[str], list[str]]:
        first = [r.metadata.id for r, _ in tx.records(SESSION).scan_sized()]
        writer = threading.Thread(target=put, args=(storage, record(3)))
        writer.start()
        writer.join()
        return first, [r.metadata.id for r, _ in tx.records(SESSION).scan_sized()]

    first, second = storage.read(two_looks)
    assert first == second == ["ses-00000001"]
    assert ids(storage) == ["ses-00000001", "ses-00000003"]


# --- the change log ----------------------------------------------------------------------------


def test_revisions_start_at_one_and_are_gap_free_across_a_failed_write(storage: Storage) -> None:
    assert storage.read(lambda tx: (tx.changes.current_revision(), tx.changes.oldest_revision())) == (0, 1)
    assert storage.write(lambda tx: append(tx, 1)) == 1

    def fail(tx: Tx) -> None:
        append(tx, 2)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        storage.write(fail)
    assert storage.write(lambda tx: [append(tx, 3), append(tx, 4)]) == [2, 3]
    assert revisions(storage) == [1, 2, 3]
    assert storage.read(lambda tx: tx.changes.current_revision()) == 3


def test_a_stored_change_carries_its_place_and_bytes(storage: Storage) -> None:
    event = change(7)
    storage.write(
        lambda tx: tx.changes.append(event, kind="session", resource_id="ses-7", org="acme", time_ns=42)
    )
    [stored] = storage.read(lambda tx: list(tx.changes.scan(kind="session")))
    assert (stored.revision, stored.kind, stored.resource_id, stored.org, stored.time_ns) == (
        1,
        "session",
        "ses-7",
        "acme",
        42,
    )
    assert event.revision == 1
    assert SessionChange.FromString(stored.data) == event


def test_every_read_of_the_log_is_filtered_by_kind_resource_and_org(storage: Storage) -> None:
    def body(tx: Tx) -> None:
        append(tx, 1)
        append(tx, 2, kind="other")
        append(tx, 3, org="beta")
        tx.changes.append(change(1), kind="session", resource_id="ses-00000001", org="acme", time_ns=4)

    storage.write(body)
    assert revisions(storage) == [1, 3, 4]
    assert storage.read(lambda tx: [c.revision for c in tx.changes.scan(kind="other")]) == [2]
    assert revisions(storage, resource_id="ses-00000001") == [1, 4]
    assert revisions(storage, org="beta") == [3]
    assert revisions(storage, after_revision=3) == [4]
    assert revisions(storage, org="acme", after_revision=1) == [4]


def test_concurrent_writers_get_gap_free_revisions_that_readers_see_in_order(storage: Storage) -> None:
    stop = threading.Event()
    gaps: list[tuple[int, int]] = []

    def follow() -> None:
        last = 0
        while not stop.is_set() or last < 48:
            for rev in revisions(storage, after_revision=last):
                if rev != last + 1:
                    gaps.append((last, rev))
                last = rev
            if last >= 48:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    try:
        results = race(
            6,
            lambda i: [storage.write(lambda tx, n=i * 8 + k: append(tx, n + 1)) for k in range(8)],  # type: ignore[misc]
        )
    finally:
        stop.set()
        reader.join(timeout=60)
    assert all(isinstance(r, list) for r in results), results
    assert sorted(rev for r in results for rev in r) == list(range(1, 49))
    assert revisions(storage) == list(range(1, 49))
    assert not gaps, f"a reader saw a later revision before an earlier one: {gaps[:5]}"


def test_compaction_deletes_oldest_first_by_revision_and_age_and_restores_keep_revisions(
    storage: Storage,
) -> None:
    storage.write(lambda tx: [append(tx, n, time_ns=n * 100) for n in range(1, 11)])
    assert storage.write(lambda tx: tx.changes.compact(below_revision=4, older_than_ns=None, limit=100)) == 3
    assert storage.read(lambda tx: tx.changes.oldest_revision()) == 4
    # by age alone: those older than 650 (revisions 4, 5, 6), at most 2 per call
    assert storage.write(lambda tx: tx.changes.compact(below_revision=0, older_than_ns=650, limit=2)) == 2
    assert storage.write(lambda tx: tx.changes.compact(below_revision=0, older_than_ns=650, limit=2)) == 1
    assert storage.write(lambda tx: tx.changes.compact(below_revision=0, older_than_ns=650, limit=2)) == 0
    assert revisions(storage) == [7, 8, 9, 10]
    assert storage.read(lambda tx: (tx.changes.oldest_revision(), tx.changes.current_revision())) == (7, 10)


def test_restore_and_window_rebuild_an_exported_log(storage: Storage) -> None:
    def body(tx: Tx) -> None:
        for rev in (5, 6, 9):
            tx.changes.restore(
                StoredChange(rev, "session", f"ses-{rev}", "acme", rev, change(rev).SerializeToString())
            )
        tx.changes.set_window(oldest=5, current=12)

    storage.write(body)
    assert revisions(storage) == [5, 6, 9]
    assert storage.read(lambda tx: (tx.changes.oldest_revision(), tx.changes.current_revision())) == (5, 12)
    assert storage.write(lambda tx: append(tx, 13)) == 13


# --- children, requests, counters --------------------------------------------------------------


def test_children_are_ordered_ranges_per_parent(storage: Storage) -> None:
    def body(tx: Tx) -> None:
        for seq in range(1, 6):
            tx.children.append("session", "p1", seq, f"m{seq}".encode())
        tx.children.append("session", "p2", 1, b"other")

    storage.write(body)

    def look(tx: Tx) -> dict[str, Any]:
        ch = tx.children
        return {
            "last": (ch.last_sequence("session", "p1"), ch.last_sequence("session", "p3")),
            "all": [s for s, _ in ch.scan("session", "p1")],
            "after": [s for s, _ in ch.scan("session", "p1", after=2)],
            "between": [s for s, _ in ch.scan("session", "p1", after=1, before=4)],
            "reverse": [s for s, _ in ch.scan("session", "p1", reverse=True)],
            "reverse_before": [s for s, _ in ch.scan("session", "p1", before=4, after=1, reverse=True)],
            "data": dict(ch.scan("session", "p2")),
            "parents": sorted(ch.parents()),
        }

    assert storage.read(look) == {
        "last": (5, 0),
        "all": [1, 2, 3, 4, 5],
        "after": [3, 4, 5],
        "between": [2, 3],
        "reverse": [5, 4, 3, 2, 1],
        "reverse_before": [3, 2],
        "data": {1: b"other"},
        "parents": [("session", "p1", 5), ("session", "p2", 1)],
    }
    assert storage.write(lambda tx: tx.children.delete_all("session", "p1")) == 5
    assert storage.read(lambda tx: sorted(tx.children.parents())) == [("session", "p2", 1)]


def test_delete_after_removes_exactly_a_tail_of_one_parent(storage: Storage) -> None:
    def body(tx: Tx) -> None:
        for seq in (1, 2, 3, 7, 8):
            tx.children.append("session", "p1", seq, f"m{seq}".encode())
        tx.children.append("session", "p2", 9, b"other")

    storage.write(body)
    assert storage.write(lambda tx: tx.children.delete_after("session", "p1", 2)) == 3
    assert storage.read(lambda tx: list(tx.children.scan("session", "p1"))) == [(1, b"m1"), (2, b"m2")]
    assert storage.write(lambda tx: tx.children.delete_after("session", "p1", 5)) == 0
    assert storage.write(lambda tx: tx.children.delete_after("session", "p1", 0)) == 2
    assert storage.read(lambda tx: sorted(tx.children.parents())) == [("session", "p2", 1)]


def test_requests_are_remembered_until_they_expire_and_purged_oldest_first(storage: Storage) -> None:
    def body(tx: Tx) -> None:
        for i in range(5):
            tx.requests.remember(
                "session", f"r{i}", fingerprint=bytes([i]) * 32, response=b"resp%d" % i, expires_at_ns=100 + i
            )

    storage.write(body)
    found = storage.read(lambda tx: tx.requests.lookup("session", "r1", 50))
    assert found is not None and (found.expires_at_ns, found.fingerprint, found.response) == (
        101,
        b"\x01" * 32,
        b"resp1",
    )
    assert storage.read(lambda tx: tx.requests.lookup("session", "r1", 101)) is None  # expired
    assert storage.read(lambda tx: tx.requests.lookup("other", "r1", 50)) is None  # per kind
    assert storage.write(lambda tx: tx.requests.purge_expired(103, 2)) == 2
    assert storage.write(lambda tx: tx.requests.purge_expired(103, 5)) == 2  # r2, r3: due at or before now
    assert storage.read(
        lambda tx: [tx.requests.lookup("session", f"r{i}", 0) is not None for i in range(5)]
    ) == [
        False,
        False,
        False,
        False,
        True,
    ]
    storage.write(
        lambda tx: tx.requests.remember(
            "session", "r0", fingerprint=b"n" * 32, response=b"again", expires_at_ns=500
        )
    )
    again = storage.read(lambda tx: tx.requests.lookup("session", "r0", 0))
    assert again is not None and again.response == b"again"


def test_concurrent_counter_adds_never_lose_one(storage: Storage) -> None:
    results = race(
        6,
        lambda _: [storage.write(lambda tx: tx.counters.add(("session", "n", "acme"), 1)) for _ in range(5)],
    )
    values = sorted(v for r in results for v in r)
    assert values == list(range(1, 31))
    assert storage.write(lambda tx: tx.counters.add(("session", "n", "acme"), 0)) == 30
    assert storage.write(lambda tx: tx.counters.add(("session", "n", "beta"), 2)) == 2


def test_is_empty_and_two_kinds_keep_apart(storage: Storage) -> None:
    assert storage.read(lambda tx: tx.is_empty())
    other = record(1)
    storage.write(lambda tx: tx.records(OTHER).put(other))
    assert not storage.read(lambda tx: tx.is_empty())
    assert storage.read(lambda tx: (tx.records(SESSION).count(), tx.records(OTHER).count())) == (0, 1)
    assert storage.read(lambda tx: tx.records(SESSION).get("ses-00000001")) is None
    put(storage, record(1))  # the same id and slug in another kind is no conflict
    assert (
        storage.read(lambda tx: tx.records(SESSION).find_unique(SLUG_INDEX, ("acme", "s1"))) == "ses-00000001"
    )


def test_check_and_reindex_find_and_repair_nothing_on_a_healthy_store(storage: Storage) -> None:
    put(storage, *(record(n, tags=("t",)) for n in range(1, 6)))
    storage.write(lambda tx: [append(tx, n) for n in range(1, 4)])
    storage.write(lambda tx: tx.children.append("session", "ses-00000001", 1, b"m"))
    progress: list[int] = []
    report = storage.check([SESSION], progress.append)
    assert report.ok, report.problems
    assert report.records == 5 and report.changes == 3 and report.children == 1
    assert sum(progress) == 5 + 1  # increments of records and child records read
    rebuilt: list[int] = []
    assert storage.reindex([SESSION], rebuilt.append) == 5
    assert sum(rebuilt) == 5
    assert storage.check([SESSION]).ok


def test_check_names_the_revisions_missing_from_the_change_log(storage: Storage) -> None:
    # An operator repairing a store needs to know which changes are gone, on every backend.
    def restore(tx: Tx) -> None:
        for revision in (2, 3, 5):
            data = SessionChange(revision=revision).SerializeToString()
            tx.changes.restore(StoredChange(revision, "session", "ses-00000001", "acme", revision, data))
        tx.changes.set_window(oldest=1, current=7)

    storage.write(restore)
    problems = storage.check([SESSION]).problems
    assert "change log: 4 revisions missing between 1 and 7: 1, 4, 6, 7" in problems, problems


def test_description_names_the_backend_without_secrets(storage: Storage) -> None:
    assert storage.description.split("://")[0] in ("lmdb", "postgresql")
    assert "password" not in storage.description
