"""The typed stores on PostgreSQL: what the backend contract suite checks on every backend, plus
what is particular to this one (keyset batches, bytes for users' strings, check and reindex)."""

from __future__ import annotations

from itertools import islice
from typing import Any

import pytest

from pipeline.errors import AlreadyExists, FailedPrecondition, Internal
from pipeline.keycodec import pack
from pipeline.storage import Storage, StoredChange, Tx
from pipeline.storage.postgres import PostgresStorage, sql
from pipeline.storage.postgres.stores import PgTx
from stigmer_sessions.api import Session, SessionChange
from stigmer_sessions.resource import SESSION
from tests.conftest import make_session

MANY = sql.BATCH * 2 + 7  # crosses keyset batch boundaries


def as_protocols(storage: PostgresStorage, tx: PgTx) -> tuple[Storage, Tx]:
    """Where mypy checks that the backend implements the protocols of pipeline.storage."""
    return storage, tx


def test_the_backend_implements_the_storage_protocols(pg: PostgresStorage) -> None:
    storage, tx = pg.read(lambda tx: as_protocols(pg, tx))
    assert storage.description.startswith("postgresql://")
    assert storage.poll_s == 1.0
    assert isinstance(tx, PgTx)


def stored(record_id: str, slug: str = "", **kw: object) -> Session:
    s = make_session(slug or record_id, **kw)  # type: ignore[arg-type]
    s.metadata.id = record_id
    s.metadata.slug = slug or record_id
    return s


def ids(storage: PostgresStorage, **scan: object) -> list[str]:
    return storage.read(
        lambda tx: [r.metadata.id for r, _ in tx.records(SESSION).scan_sized(**scan)]  # type: ignore[arg-type]
    )


def test_scans_page_through_batches_in_id_order_both_ways(pg: PostgresStorage) -> None:
    every = [f"ses-{i:04d}" for i in range(MANY)]

    def put_all(tx: PgTx) -> None:
        for n, i in enumerate(every):
            tx.records(SESSION).put(stored(i, org="acme" if n % 2 else "beta"))

    pg.write(put_all)
    acme = every[1::2]
    assert ids(pg) == every
    assert ids(pg, reverse=True) == every[::-1]
    assert ids(pg, after_id=every[200]) == every[201:]
    assert ids(pg, after_id=every[200], reverse=True) == every[:200][::-1]
    assert ids(pg, index="org", values=("acme",)) == acme
    assert ids(pg, index="org", values=("acme",), reverse=True, after_id=acme[-3]) == acme[:-3][::-1]
    assert ids(pg, index="slug", values=("acme", every[1])) == [every[1]]
    sizes = pg.read(lambda tx: [n for _, n in tx.records(SESSION).scan_sized(index="org", values=("beta",))])
    assert sizes == [len(stored(i, org="beta").SerializeToString()) for i in every[0::2]]
    assert pg.read(lambda tx: tx.records(SESSION).count()) == MANY
    assert pg.read(lambda tx: tx.records(SESSION).count("org", ("acme",))) == len(acme)
    assert pg.read(lambda tx: tx.records(SESSION).count("slug", ("acme", every[1]))) == 1


def test_users_strings_with_nul_and_any_character_are_keys_like_any_other(pg: PostgresStorage) -> None:
    odd = "a\x00b\U0001f600"
    pg.write(lambda tx: tx.records(SESSION).put(stored("ses-1", "x", org=odd, tags=(odd,))))
    assert pg.read(lambda tx: tx.records(SESSION).find_unique("slug", (odd, "x"))) == "ses-1"
    assert pg.read(lambda tx: tx.records(SESSION).find_unique("slug", ("a", "x"))) is None
    assert ids(pg, index="org_tag", values=(odd, odd)) == ["ses-1"]
    pg.write(
        lambda tx: tx.changes.append(SessionChange(), kind="session", resource_id="ses-1", org=odd, time_ns=5)
    )
    changes = pg.read(lambda tx: list(tx.changes.scan(kind="session", org=odd)))
    assert [(c.revision, c.org) for c in changes] == [(1, odd)]
    pg.write(
        lambda tx: tx.requests.remember("session", odd, fingerprint=b"f", response=b"r", expires_at_ns=9)
    )
    assert pg.read(lambda tx: tx.requests.lookup("session", odd, 1)) is not None
    assert pg.write(lambda tx: tx.counters.add((odd, "day"), 2)) == 2


def test_updates_move_only_changed_entries_and_delete_removes_all(pg: PostgresStorage) -> None:
    old = stored("ses-1", "a", tags=("x",))
    new = stored("ses-1", "b", tags=("y",))
    pg.write(lambda tx: tx.records(SESSION).put(old))
    pg.write(lambda tx: tx.records(SESSION).put(new, old))
    assert ids(pg, index="tag", values=("x",)) == []
    assert ids(pg, index="tag", values=("y",)) == ["ses-1"]
    assert pg.read(lambda tx: tx.records(SESSION).find_unique("slug", ("acme", "a"))) is None
    pg.write(lambda tx: tx.records(SESSION).delete(new))
    snap = pg.snapshot()
    assert snap["records"] == snap["unique_entries"] == snap["index_entries"] == []


def test_a_taken_unique_entry_is_already_exists_and_writes_nothing(pg: PostgresStorage) -> None:
    pg.write(lambda tx: tx.records(SESSION).put(stored("ses-1", "same")))
    before = pg.snapshot()

    def second(tx: PgTx) -> None:
        tx.counters.add(("side",), 1)
        tx.records(SESSION).put(stored("ses-2", "same"))

    with pytest.raises(AlreadyExists, match="ses-1 already has slug 'acme/same'"):
        pg.write(second)
    assert pg.snapshot() == before


def test_children_scan_in_both_directions_between_bounds_and_delete_together(pg: PostgresStorage) -> None:
    def add(tx: PgTx) -> None:
        for seq in range(1, MANY + 1):
            tx.children.append("session", "ses-1", seq, str(seq).encode())
        tx.children.append("session", "ses-2", 1, b"other")

    pg.write(add)
    assert pg.read(lambda tx: tx.children.last_sequence("session", "ses-1")) == MANY
    assert pg.read(lambda tx: tx.children.last_sequence("session", "nobody")) == 0
    got = pg.read(lambda tx: [s for s, _ in tx.children.scan("session", "ses-1", after=3, before=MANY)])
    assert got == list(range(4, MANY))
    back = pg.read(
        lambda tx: [s for s, _ in tx.children.scan("session", "ses-1", before=MANY - 1, reverse=True)]
    )
    assert back == list(range(MANY - 2, 0, -1))
    assert pg.read(lambda tx: list(tx.children.parents())) == [
        ("session", "ses-1", MANY),
        ("session", "ses-2", 1),
    ]
    assert pg.write(lambda tx: tx.children.delete_all("session", "ses-1")) == MANY
    assert pg.read(lambda tx: list(tx.children.parents())) == [("session", "ses-2", 1)]


def append(tx: PgTx, kind: str = "session", resource_id: str = "ses-1", time_ns: int = 1) -> int:
    return tx.changes.append(SessionChange(), kind=kind, resource_id=resource_id, org="acme", time_ns=time_ns)


def test_the_change_log_is_shared_but_every_scan_is_filtered_by_kind(pg: PostgresStorage) -> None:
    def mixed(tx: PgTx) -> None:
        for n in range(MANY):
            append(tx, kind="session" if n % 3 else "agent", resource_id=f"r{n % 2}")

    pg.write(mixed)
    sessions = pg.read(lambda tx: [c.revision for c in tx.changes.scan(kind="session")])
    assert sessions == [n + 1 for n in range(MANY) if n % 3]
    one = pg.read(
        lambda tx: [c.revision for c in tx.changes.scan(kind="session", resource_id="r1", after_revision=9)]
    )
    assert one == [n + 1 for n in range(MANY) if n % 3 and n % 2 and n + 1 > 9]
    stored_data = pg.read(lambda tx: next(iter(tx.changes.scan(kind="agent"))).data)
    assert SessionChange.FromString(stored_data).revision == 1  # the revision is in the change
    assert pg.read(lambda tx: tx.changes.current_revision()) == MANY


def test_compaction_deletes_the_oldest_up_to_the_first_it_must_keep(pg: PostgresStorage) -> None:
    pg.write(lambda tx: [append(tx, time_ns=t) for t in (10, 20, 30, 40, 50)])
    assert pg.write(lambda tx: tx.changes.compact(below_revision=3, older_than_ns=None, limit=100)) == 2
    assert pg.read(lambda tx: tx.changes.oldest_revision()) == 3
    assert pg.write(lambda tx: tx.changes.compact(below_revision=0, older_than_ns=45, limit=1)) == 1
    assert pg.write(lambda tx: tx.changes.compact(below_revision=0, older_than_ns=45, limit=10)) == 1
    assert pg.read(lambda tx: (tx.changes.oldest_revision(), tx.changes.current_revision())) == (5, 5)
    assert pg.read(lambda tx: [c.revision for c in tx.changes.scan(kind="session")]) == [5]
    assert pg.check([SESSION]).ok


def test_restore_keeps_the_log_increasing_and_set_window_declares_it(pg: PostgresStorage) -> None:
    def restore(tx: PgTx) -> None:
        tx.changes.restore(StoredChange(7, "session", "ses-1", "acme", 1, b""))
        tx.changes.restore(StoredChange(8, "session", "ses-1", "acme", 1, b""))
        tx.changes.set_window(oldest=7, current=8)

    pg.write(restore)
    assert pg.read(lambda tx: (tx.changes.oldest_revision(), tx.changes.current_revision())) == (7, 8)
    assert not pg.is_empty()
    with pytest.raises(Internal, match="not after the current revision 8"):
        pg.write(lambda tx: tx.changes.restore(StoredChange(8, "session", "x", "acme", 1, b"")))
    assert pg.write(append) == 9
    assert pg.check([SESSION]).ok


def test_check_finds_damage_and_reindex_repairs_the_entries(pg: PostgresStorage) -> None:
    def put_three(tx: PgTx) -> None:
        for i in range(3):
            tx.records(SESSION).put(stored(f"ses-{i}", tags=("t",)))

    pg.write(put_three)
    pg.write(lambda tx: tx.children.append("session", "ses-gone", 1, b"m"))
    pg.write(append)
    healthy = pg.check([SESSION])
    assert (healthy.records, healthy.children, healthy.changes) == (3, 1, 1)
    assert healthy.problems == ["1 children of missing session ses-gone"]
    pg.write(lambda tx: tx.execute("DELETE FROM index_entries WHERE idx = 'tag' AND id = 'ses-1'"))
    pg.write(lambda tx: tx.execute(sql.INDEX_INSERT, ("session", "org", pack("acme"), "ses-9")))
    pg.write(lambda tx: tx.execute(sql.UNIQUE_INSERT, ("session", "slug", pack("acme", "z"), "a-first")))
    pg.write(lambda tx: tx.execute("UPDATE change_head SET current = 5"))
    problems = pg.check([SESSION]).problems
    assert f"session ses-1: missing entry {pack('t')!r} in index tag" in problems
    assert f"session ses-9: stray entry {pack('acme')!r} in index org" in problems
    assert f"session a-first: stray entry {pack('acme', 'z')!r} in index slug" in problems
    assert "change log: 4 revisions missing between 1 and 5: 2, 3, 4, 5" in problems
    assert pg.reindex([SESSION]) == 3
    after = pg.check([SESSION]).problems
    assert not any("index" in p for p in after), after
    assert ids(pg, index="tag", values=("t",)) == ["ses-0", "ses-1", "ses-2"]


def test_reindex_refuses_two_records_claiming_one_unique_entry(pg: PostgresStorage) -> None:
    def put_two(tx: PgTx) -> None:
        for i in range(2):
            tx.records(SESSION).put(stored(f"ses-{i}", f"s{i}"))

    pg.write(put_two)
    twin = stored("ses-1", "s0")
    pg.write(lambda tx: tx.execute(sql.RECORD_UPSERT, ("session", "ses-1", twin.SerializeToString())))
    before = pg.snapshot()
    with pytest.raises(FailedPrecondition, match="ses-0 and ses-1 share slug"):
        pg.reindex([SESSION])
    assert pg.snapshot() == before


def test_expired_requests_are_purged_oldest_first(pg: PostgresStorage) -> None:
    def remember(tx: PgTx) -> None:
        for n in range(5):
            tx.requests.remember("session", f"r{n}", fingerprint=b"f", response=b"x", expires_at_ns=10 + n)

    pg.write(remember)
    assert pg.write(lambda tx: tx.requests.purge_expired(12, 2)) == 2
    assert [r[1] for r in pg.snapshot()["requests"]] == [b"r2", b"r3", b"r4"]
    assert pg.write(lambda tx: tx.requests.purge_expired(100, 16)) == 3


def test_is_empty_until_a_record_or_a_change(pg: PostgresStorage) -> None:
    assert pg.is_empty()
    pg.write(lambda tx: tx.counters.add(("n",), 1))
    assert pg.is_empty()
    pg.write(append)
    assert not pg.is_empty()


def test_reindex_rebuilds_many_records_in_batches(pg: PostgresStorage) -> None:
    every = [f"ses-{i:04d}" for i in range(MANY)]

    def put_all(tx: PgTx) -> None:
        for i in every:
            tx.records(SESSION).put(stored(i, tags=("t", "u")))

    pg.write(put_all)
    before = pg.snapshot()
    pg.write(lambda tx: tx.execute("DELETE FROM index_entries"))
    pg.write(lambda tx: tx.execute("DELETE FROM unique_entries"))
    assert len(before["index_entries"]) > 1000  # more than one flush of entries
    assert pg.reindex([SESSION]) == MANY
    after = pg.snapshot()
    assert after.pop("index_sets") == [("session", [i.name for i in SESSION.indexes])]  # what it holds now
    before.pop("index_sets")
    assert after == before
    assert pg.check([SESSION]).ok


def test_scans_start_with_a_small_batch_and_double_up_to_the_largest(pg: PostgresStorage) -> None:
    # A page that a byte budget stops after a few 1 MiB messages must not have fetched 128.
    def fill(tx: PgTx) -> None:
        for seq in range(1, 40):
            tx.children.append("session", "p", seq, b"m")

    pg.write(fill)

    def limits_of(consume: int | None) -> list[int]:
        seen: list[int] = []

        def body(tx: PgTx) -> None:
            real = tx.execute

            def spy(query: str, params: Any = ()) -> Any:
                seen.append(params[-1])
                return real(query, params)

            tx.execute = spy  # type: ignore[method-assign]
            rows = tx.children.scan("session", "p")
            for _ in islice(rows, consume):
                pass

        pg.read(body)
        return seen

    assert limits_of(1) == [sql.FIRST_BATCH]
    assert limits_of(None) == [8, 16, 32]  # 8 + 16 rows, then 15 of 32: the end
    assert list(islice(sql.batch_sizes(), 7)) == [8, 16, 32, 64, 128, 128, 128]
