"""Races the API promises one winner, run as real concurrent transactions on PostgreSQL.

Each thread gets its own storage (its own pool), as separate server processes would.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pipeline.errors import Aborted, AlreadyExists
from pipeline.storage import Remembered, StoredChange
from pipeline.storage.postgres import PostgresStorage, sql
from pipeline.storage.postgres.storage import MAX_RERUNS
from pipeline.storage.postgres.stores import PgTx
from stigmer_sessions.api import Session
from stigmer_sessions.resource import SESSION
from tests.conftest import make_session, race
from tests.pipeline.storage.postgres.conftest import StorageFactory, admin

N = 8


def stored(record_id: str, slug: str = "", **kw: Any) -> Session:
    s = make_session(slug or record_id, **kw)
    s.metadata.id = record_id
    s.metadata.slug = slug or record_id
    return s


@pytest.fixture
def replicas(open_storage: StorageFactory) -> list[PostgresStorage]:
    first = open_storage(pool_size=1)
    return [first, *(open_storage(pool_size=1, migrate=False) for _ in range(N - 1))]


def test_a_unique_entry_taken_between_the_check_and_the_write_reruns_the_unit(
    replicas: list[PostgresStorage],
) -> None:
    # READ COMMITTED: the check and the claim are separate snapshots. A commit landing
    # between them must re-run the unit (whose check then sees it), not fail it with
    # AlreadyExists: an apply that found no such name must update, not refuse.
    a, b = replicas[0], replicas[1]
    attempts: list[str | None] = []

    def apply(tx: PgTx) -> str:
        records = tx.records(SESSION)
        holder = records.find_unique("slug", ("acme", "standup"))
        attempts.append(holder)
        if holder is not None:
            return f"updated {holder}"
        b.write(lambda other: other.records(SESSION).put(stored("ses-b", "standup")))  # lands meanwhile
        records.put(stored("ses-a", "standup"))
        return "created ses-a"

    assert a.write(apply) == "updated ses-b"
    assert attempts == [None, "ses-b"]


def test_a_unique_entry_never_seen_free_is_already_exists_at_once(replicas: list[PostgresStorage]) -> None:
    replicas[0].write(lambda tx: tx.records(SESSION).put(stored("ses-1", "standup")))
    calls: list[int] = []

    def blind(tx: PgTx) -> None:
        calls.append(1)
        tx.records(SESSION).put(stored("ses-2", "standup"))

    with pytest.raises(AlreadyExists, match="ses-1 already has slug 'acme/standup'"):
        replicas[1].write(blind)
    assert calls == [1]  # no re-run: nothing this unit decided on went stale


def test_same_name_creates_have_one_winner(replicas: list[PostgresStorage]) -> None:
    def create(i: int) -> str:
        def fn(tx: PgTx) -> str:
            records = tx.records(SESSION)
            holder = records.find_unique("slug", ("acme", "standup"))
            if holder is not None:
                raise AlreadyExists(f"taken by {holder}")
            records.put(stored(f"ses-{i}", "standup"))
            return f"ses-{i}"

        return replicas[i].write(fn)

    results = race(N, create)
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1, results
    assert all(isinstance(r, AlreadyExists) for r in results if not isinstance(r, str)), results
    assert (
        replicas[0].read(lambda tx: tx.records(SESSION).find_unique("slug", ("acme", "standup")))
        == winners[0]
    )
    assert replicas[0].read(lambda tx: tx.records(SESSION).count()) == 1


def test_read_modify_write_never_loses_an_update(replicas: list[PostgresStorage]) -> None:
    replicas[0].write(lambda tx: tx.records(SESSION).put(stored("ses-1")))

    def bump(tx: PgTx) -> None:
        records = tx.records(SESSION)
        current = records.get("ses-1")
        assert current is not None
        new = Session()
        new.CopyFrom(current)
        new.metadata.annotations["n"] = str(int(current.metadata.annotations.get("n", "0")) + 1)
        records.put(new, current)

    race(N, lambda i: [replicas[i].write(bump) for _ in range(5)])
    final = replicas[0].read(lambda tx: tx.records(SESSION).get("ses-1"))
    assert final is not None
    assert final.metadata.annotations["n"] == str(N * 5)


def test_a_quota_checked_by_count_has_exactly_its_limit_of_winners(replicas: list[PostgresStorage]) -> None:
    limit = 3

    def create(i: int) -> str:
        def fn(tx: PgTx) -> str:
            records = tx.records(SESSION)
            if records.count("org", ("acme",)) >= limit:
                raise AlreadyExists("quota reached")  # any refusal will do
            records.put(stored(f"ses-{i}"))
            return "created"

        return replicas[i].write(fn)

    results = race(N, create)
    assert results.count("created") == limit, results
    assert replicas[0].read(lambda tx: tx.records(SESSION).count("org", ("acme",))) == limit


def test_child_sequences_are_gap_free_under_concurrent_appends(replicas: list[PostgresStorage]) -> None:
    replicas[0].write(lambda tx: tx.records(SESSION).put(stored("ses-1")))

    def append(tx: PgTx) -> int:
        assert tx.records(SESSION).get("ses-1") is not None  # the parent, locked first
        sequence = tx.children.last_sequence("session", "ses-1") + 1
        tx.children.append("session", "ses-1", sequence, b"m")
        return sequence

    results = race(N, lambda i: [replicas[i].write(append) for _ in range(4)])
    assert sorted(s for r in results for s in r) == list(range(1, N * 4 + 1))
    seqs = replicas[0].read(lambda tx: [s for s, _ in tx.children.scan("session", "ses-1")])
    assert seqs == list(range(1, N * 4 + 1))


def test_revisions_are_gap_free_and_a_follower_of_revision_r_never_misses_one(
    replicas: list[PostgresStorage],
) -> None:
    writers = N - 1
    done = threading.Event()
    seen: list[int] = []

    def changes_after(after: int) -> list[StoredChange]:
        return replicas[0].read(lambda tx: list(tx.changes.scan(kind="session", after_revision=after)))

    def follow() -> None:
        after = 0
        while True:
            finished = done.is_set()
            batch = changes_after(after)
            seen.extend(c.revision for c in batch)
            after = seen[-1] if seen else 0
            if finished and not batch:
                return

    def append(tx: PgTx) -> int:
        event = SESSION.event_type() if SESSION.event_type else None
        assert event is not None
        return tx.changes.append(event, kind="session", resource_id="ses-1", org="acme", time_ns=1)

    follower = threading.Thread(target=follow)
    follower.start()
    results = race(writers, lambda i: [replicas[i + 1].write(append) for _ in range(10)])
    done.set()
    follower.join()
    assert sorted(r for batch in results for r in batch) == list(range(1, writers * 10 + 1))
    assert seen == list(range(1, writers * 10 + 1))


def _waiting_on_a_lock(schema: str) -> bool:
    rows = admin(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
        (schema,),
    )
    return bool(rows[0][0])


@pytest.mark.parametrize(
    ("first_commits", "placeholder"),
    [(True, False), (False, False), (True, True)],
    ids=["first-commits", "first-rolls-back", "over-a-committed-placeholder"],
)
def test_a_concurrent_retry_waits_for_the_claim_then_replays_or_takes_over(
    pg_schema: tuple[str, str], replicas: list[PostgresStorage], first_commits: bool, placeholder: bool
) -> None:
    if placeholder:  # a claim some transaction committed without remembering: still a claim
        replicas[0].write(lambda tx: tx.requests.lookup("session", "req-1", 1_000))
    claimed = threading.Event()
    release = threading.Event()
    now = 1_000

    def first(tx: PgTx) -> None:
        assert tx.requests.lookup("session", "req-1", now) is None
        claimed.set()
        release.wait(30)
        if not first_commits:
            raise RuntimeError("the first attempt fails")
        tx.requests.remember(
            "session", "req-1", fingerprint=b"f" * 32, response=b"first", expires_at_ns=now * 2
        )

    def second(tx: PgTx) -> Remembered | None:
        found = tx.requests.lookup("session", "req-1", now)
        if found is None:
            tx.requests.remember(
                "session", "req-1", fingerprint=b"g" * 32, response=b"second", expires_at_ns=now * 2
            )
        return found

    outcome: list[Any] = []
    one = threading.Thread(target=lambda: outcome.append(_attempt(replicas[0], first)))
    one.start()
    assert claimed.wait(30)
    two_result: list[Any] = []
    two = threading.Thread(target=lambda: two_result.append(replicas[1].write(second)))
    two.start()
    for _ in range(3000):  # until the retry is blocked on the claim (or a generous bound)
        if _waiting_on_a_lock(pg_schema[0]):
            break
        time.sleep(0.01)
    assert _waiting_on_a_lock(pg_schema[0]), "the retry did not wait for the claim"
    release.set()
    one.join()
    two.join()
    stored = replicas[0].read(lambda tx: tx.requests.lookup("session", "req-1", now))
    assert stored is not None
    if first_commits:
        assert two_result == [Remembered(now * 2, b"f" * 32, b"first")]
        assert stored.response == b"first"
    else:
        assert isinstance(outcome[0], RuntimeError)
        assert two_result == [None]
        assert stored.response == b"second"


def _attempt(storage: PostgresStorage, fn: Any) -> Any:
    try:
        return storage.write(fn)
    except Exception as exc:
        return exc


def test_an_expired_entry_counts_as_absent(pg: PostgresStorage) -> None:
    pg.write(
        lambda tx: tx.requests.remember("session", "r", fingerprint=b"f", response=b"x", expires_at_ns=10)
    )
    assert pg.read(lambda tx: tx.requests.lookup("session", "r", 9)) == Remembered(10, b"f", b"x")
    assert pg.read(lambda tx: tx.requests.lookup("session", "r", 10)) is None
    assert pg.write(lambda tx: tx.requests.lookup("session", "r", 10)) is None


def test_a_conflict_that_never_clears_ends_in_aborted_after_the_reruns(pg: PostgresStorage) -> None:
    calls: list[int] = []

    def clash(tx: PgTx) -> None:
        calls.append(1)
        tx.execute(sql.UNIQUE_INSERT, ("session", "slug", b"k", "a"))
        tx.execute(sql.UNIQUE_INSERT, ("session", "slug", b"k", "b"))

    before = pg.snapshot()
    with pytest.raises(Aborted, match="conflicted with concurrent writes 20 times"):
        pg.write(clash)
    assert len(calls) == MAX_RERUNS
    assert pg.snapshot() == before
