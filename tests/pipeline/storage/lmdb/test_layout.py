"""The LMDB key layout of the change log and of named counters."""

from __future__ import annotations

from pathlib import Path

from pipeline import events
from pipeline.keycodec import pack
from pipeline.storage import StoredChange, Tx
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import RawTx, Table
from pipeline.storage.lmdb.stores import (
    BY_KIND,
    BY_ORG,
    BY_RESOURCE,
    CURRENT,
    FORMAT,
    LOG,
    REV,
    decode_entry,
    encode_entry,
    entry_key,
)
from stigmer_sessions.api import SessionChange
from stigmer_sessions.resource import SESSION
from tests.conftest import make_session


def _append(tx: Tx, kind: str, resource_id: str, org: str, time_ns: int) -> int:
    return tx.changes.append(SessionChange(), kind=kind, resource_id=resource_id, org=org, time_ns=time_ns)


def events_keys(lmdb_store: LmdbStorage) -> set[bytes]:
    return lmdb_store.read_raw(lambda raw: {key for key, _ in raw.scan(Table.EVENTS, b"")})


def test_a_change_is_filed_under_its_kind_with_a_header_saying_where_it_belongs(
    lmdb_store: LmdbStorage,
) -> None:
    lmdb_store.write(lambda tx: _append(tx, "session", "ses-1", "acme", 7))
    lmdb_store.write(lambda tx: _append(tx, "note", "ses-1", "acme", 8))  # same id and org, other kind
    rev1, rev2 = REV.pack(1), REV.pack(2)
    assert events_keys(lmdb_store) == {  # three keys a change, and no marker rewritten per write
        FORMAT,
        entry_key("session", 1),
        BY_RESOURCE + pack("session", "ses-1") + rev1,
        BY_ORG + pack("session", "acme") + rev1,
        entry_key("note", 2),
        BY_RESOURCE + pack("note", "ses-1") + rev2,
        BY_ORG + pack("note", "acme") + rev2,
    }
    assert lmdb_store.read(lambda tx: tx.changes.current_revision()) == 2
    value = lmdb_store.read_raw(lambda raw: raw.get(Table.EVENTS, entry_key("note", 2)))
    assert value is not None
    stored = decode_entry(2, value)
    assert (stored.kind, stored.resource_id, stored.org, stored.time_ns) == ("note", "ses-1", "acme", 8)
    for filters in ({}, {"resource_id": "ses-1"}, {"org": "acme"}):
        scanned = lmdb_store.read(
            lambda tx, f=filters: [c.revision for c in tx.changes.scan(kind="session", **f)]  # type: ignore[misc]
        )
        assert scanned == [1], filters


def test_compaction_removes_every_index_entry_and_reads_only_headers(lmdb_store: LmdbStorage) -> None:
    for i in range(4):
        lmdb_store.write(lambda tx, i=i: _append(tx, "session" if i % 2 else "note", f"r{i}", "acme", i))  # type: ignore[misc]
    # a change whose bytes are no SessionChange at all: compaction must not need to parse it
    lmdb_store.write(lambda tx: tx.changes.restore(StoredChange(5, "other", "x", "o", 0, b"\xff\xff")))
    deleted = lmdb_store.write(lambda tx: tx.changes.compact(below_revision=6, older_than_ns=None, limit=100))
    assert deleted == 5
    assert {key[:1] for key in events_keys(lmdb_store)} == {b"\x00"}  # only the markers are left
    assert lmdb_store.read(lambda tx: tx.changes.oldest_revision()) == 6
    # the newest entry is gone, and the current revision with it would go backwards: the
    # marker keeps it, and the next change follows it
    assert lmdb_store.read(lambda tx: tx.changes.current_revision()) == 5
    assert lmdb_store.write(lambda tx: _append(tx, "session", "r9", "acme", 9)) == 6
    assert lmdb_store.check([SESSION]).ok


def test_reindex_keeps_named_counters_and_rebuilds_index_counters(lmdb_store: LmdbStorage) -> None:
    session = make_session()
    session.metadata.id = "ses-1"
    lmdb_store.write(lambda tx: tx.records(SESSION).put(session))
    name = (SESSION.name, "_generated_names", "acme", "2026-01-01")
    lmdb_store.write(lambda tx: tx.counters.add(name, 3))
    lmdb_store.write_raw(lambda raw: raw.add(Table.COUNTERS, pack(SESSION.name, "org", "acme"), 5))  # damage
    assert lmdb_store.reindex([SESSION]) == 1
    assert lmdb_store.write(lambda tx: tx.counters.add(name, 0)) == 3  # survived
    assert lmdb_store.read(lambda tx: tx.records(SESSION).count("org", ("acme",))) == 1  # rebuilt
    assert lmdb_store.check([SESSION]).ok


def test_a_log_of_the_first_layout_is_rewritten_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "old"
    changes = [
        SessionChange(revision=r, resource_kind="session", resource_id=f"ses-{r}", org="acme") for r in (1, 2)
    ]
    with LmdbStorage(path, durable=False) as old:

        def legacy(raw: RawTx) -> None:  # as the store wrote the log before it was filed by kind
            for change in changes:
                rev = REV.pack(change.revision)
                raw.put(Table.EVENTS, LOG + rev, change.SerializeToString())
                raw.put(Table.EVENTS, BY_RESOURCE + pack("session", change.resource_id) + rev, b"")
                raw.put(Table.EVENTS, BY_ORG + pack("acme") + rev, b"")
                raw.put(Table.EVENTS, CURRENT, rev)

        old.write_raw(legacy)
    with LmdbStorage(path, durable=False) as store:
        assert store.read(lambda tx: list(events.scan(tx, SessionChange, kind="session"))) == changes
        assert store.read(lambda tx: [c.revision for c in tx.changes.scan(kind="session", org="acme")]) == [
            1,
            2,
        ]
        assert store.check([SESSION]).ok
        before = store.snapshot()
    with LmdbStorage(path, durable=False) as again:  # once only
        assert again.snapshot() == before


def test_a_log_of_the_second_layout_is_filed_by_kind_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "v2"
    stored = [
        StoredChange(
            r,
            "session" if r != 2 else "note",
            f"ses-{r}",
            "acme",
            r,
            SessionChange(revision=r).SerializeToString(),
        )
        for r in (1, 2, 3)
    ]
    with LmdbStorage(path, durable=False) as old:

        def v2(raw: RawTx) -> None:  # one global entry key per revision, plus a kind index
            raw.put(Table.EVENTS, FORMAT, REV.pack(2))
            for change in stored:
                rev = REV.pack(change.revision)
                raw.put(Table.EVENTS, LOG + rev, encode_entry(change))
                raw.put(Table.EVENTS, BY_RESOURCE + pack(change.kind, change.resource_id) + rev, b"")
                raw.put(Table.EVENTS, BY_ORG + pack(change.kind, change.org) + rev, b"")
                raw.put(Table.EVENTS, BY_KIND + pack(change.kind) + rev, b"")
                raw.put(Table.EVENTS, CURRENT, rev)

        old.write_raw(v2)
    with LmdbStorage(path, durable=False) as store:
        assert store.read(lambda tx: [c.revision for c in tx.changes.scan(kind="session")]) == [1, 3]
        assert store.read(lambda tx: [c.revision for c in tx.changes.scan(kind="note", org="acme")]) == [2]
        assert store.read(lambda tx: tx.changes.current_revision()) == 3
        assert not any(key[:1] == BY_KIND for key in events_keys(store))
        assert rev_of(store.read_raw(lambda raw: raw.get(Table.EVENTS, FORMAT))) == 3
        assert store.check([SESSION]).ok
        before = store.snapshot()
    with LmdbStorage(path, durable=False) as again:  # once only
        assert again.snapshot() == before


def rev_of(raw: bytes | None) -> int:
    assert raw is not None
    return int(REV.unpack(raw)[0])
