"""Optional indexes: a store keeps what its deployment needs, builds what a new flag needs,
keeps what it holds, and maintenance reads it as it is (both backends)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline import indexes
from pipeline.errors import ResourceExhausted
from pipeline.keycodec import pack
from pipeline.lifecycle import Lifecycle
from pipeline.resource import ORG_OWNER_INDEX
from pipeline.storage import Storage, Tx
from pipeline.storage.lmdb.engine import Table
from pipeline.storage.lmdb.stores import LmdbTx
from stigmer_sessions import SessionController
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.resource import AGENT_INSTANCE, PHASE_INDEX, SESSION
from stigmer_sessions.session import session_kind
from tests.conftest import make_session

OWNER_QUOTA = SessionConfig(max_sessions_per_owner=2)
BASE = tuple(i.name for i in SESSION.indexes)
EVERY = SESSION.with_optional(i.name for i in SESSION.optional_indexes)
#: What a server keeps on a store other servers with other settings may write (PostgreSQL).
ALL_OPTIONAL = EVERY.optional_kept


def kept(store: Storage, *optional: str) -> frozenset[str]:
    """The optional indexes a server needing ``optional`` keeps on ``store``."""
    return ALL_OPTIONAL if store.shared else frozenset(optional)


def names(store: Storage, *optional: str) -> tuple[str, ...]:
    return tuple(i.name for i in SESSION.with_optional(kept(store, *optional)).indexes)


def held(store: Storage) -> tuple[str, ...] | None:
    return store.read(lambda tx: tx.index_sets.get(SESSION.name))


def entries_of(store: Storage, index: str) -> int:
    """How many sessions hold an entry in ``index`` (read through a kind keeping it)."""
    kind = SESSION.with_optional([index])

    def count(tx: Tx) -> int:
        records = tx.records(kind)
        sessions = [s for s, _ in records.scan_sized()]
        values = {v for s in sessions for i in kind.indexes if i.name == index for v in i.values(s)}
        return sum(records.count(index, v) for v in values)

    return store.read(count)


def test_the_default_configuration_keeps_no_optional_index_where_it_is_the_only_writer(
    store: Storage,
) -> None:
    with SessionController(store=store) as c:
        c.create(make_session("a"), actor="alice")
        assert c.kinds[0].optional_kept == kept(store)
        served = c.kinds[0]
    assert held(store) == names(store)
    assert entries_of(store, ORG_OWNER_INDEX) == entries_of(store, PHASE_INDEX) == (1 if store.shared else 0)
    assert store.check([served, AGENT_INSTANCE]).ok


@pytest.mark.parametrize("backend", ["postgres"])  # an LMDB store has one server (its directory lock)
def test_on_a_shared_store_a_replica_keeps_what_another_replica_needs(store: Storage) -> None:
    """Replicas restarted one by one to turn a per-owner quota on: the ones still running
    without the flag keep the owner index, so the quota counts every session."""
    assert store.shared
    with (
        SessionController(store=store) as without,
        SessionController(store=store, config=OWNER_QUOTA) as quota,
    ):
        without.create(make_session("a"), actor="alice")
        without.create(make_session("b"), actor="alice")
        with pytest.raises(ResourceExhausted):
            quota.create(make_session("c"), actor="alice")


def test_a_flag_needing_an_index_builds_it_from_the_records_once(store: Storage) -> None:
    with SessionController(store=store) as c:
        for name in ("a", "b"):
            c.create(make_session(name), actor="alice")
    with SessionController(store=store, config=OWNER_QUOTA) as c:
        assert entries_of(store, ORG_OWNER_INDEX) == 2  # built at open, for what was there
        with pytest.raises(ResourceExhausted):  # so the quota counts the old sessions
            c.create(make_session("c"), actor="alice")
        c.create(make_session("c"), actor="bob")
    assert held(store) == names(store, ORG_OWNER_INDEX)
    before = store.snapshot()
    SessionController(store=store, config=OWNER_QUOTA).close()
    assert store.snapshot() == before  # up to date: opening writes nothing


def test_an_index_the_store_holds_is_kept_up_to_date_without_the_flag(store: Storage) -> None:
    SessionController(store=store, config=OWNER_QUOTA).close()
    with SessionController(store=store) as c:  # a restart without the flag
        assert c.kinds[0].optional_kept == kept(store, ORG_OWNER_INDEX)
        c.create(make_session("a"), actor="alice")
        c.delete(c.create(make_session("b"), actor="alice").metadata.id)
        assert c.check().ok
    assert entries_of(store, ORG_OWNER_INDEX) == 1


def test_maintenance_reads_the_store_as_it_is_and_writes_nothing(store: Storage) -> None:
    with SessionController(store=store, config=OWNER_QUOTA) as c:
        c.create(make_session("a"), actor="alice")
    before = store.snapshot()
    with SessionController(store=store, config=SessionConfig(lifecycle=_recovering()), as_stored=True) as c:
        assert c.kinds[0].optional_kept == kept(store, ORG_OWNER_INDEX)  # whatever its flags ask for
        assert c.check().ok
    assert store.snapshot() == before


def test_reindex_keeps_exactly_the_optional_indexes_named(store: Storage) -> None:
    config = SessionConfig(max_sessions_per_owner=5, lifecycle=_recovering())
    with SessionController(store=store, config=config) as c:
        c.create(make_session("a"), actor="alice")
        assert c.kinds[0].optional_kept == {ORG_OWNER_INDEX, PHASE_INDEX}
        assert c.reindex(optional_indexes=[PHASE_INDEX]) == 1
    assert held(store) == (*BASE, PHASE_INDEX)
    assert entries_of(store, ORG_OWNER_INDEX) == 0 and entries_of(store, PHASE_INDEX) == 1
    with SessionController(store=store, as_stored=True) as c:  # a reindex with the servers stopped
        assert c.kinds[0].optional_kept == {PHASE_INDEX}
        report = c.check()
        assert report.ok, report.problems  # nothing of the dropped index left (counters included)


def test_a_store_from_before_holds_every_index(store: Storage) -> None:
    every = EVERY
    with SessionController(
        store=store, config=SessionConfig(max_sessions_per_owner=5, lifecycle=_recovering())
    ) as c:
        c.create(make_session("a"), actor="alice")

    store.write(_forget_index_set)  # as a store written before index sets were recorded
    assert held(store) is None
    with SessionController(store=store) as c:
        assert c.kinds[0].optional_kept == every.optional_kept
    assert held(store) == tuple(i.name for i in every.indexes)


def test_a_new_store_records_its_set_without_building_anything(store: Storage) -> None:
    served = indexes.enable(store, [session_kind(OWNER_QUOTA)])
    assert [k.optional_kept for k in served] == [kept(store, ORG_OWNER_INDEX)]
    assert held(store) == names(store, ORG_OWNER_INDEX)


def _recovering() -> Lifecycle:
    return Lifecycle(
        name="recovering",
        initial="active",
        transitions={"active": ("paused",), "paused": ("active",)},
        accepts_messages=frozenset({"active"}),
        live=frozenset({"active"}),
        recovery_phase="paused",
    )


def _forget_index_set(tx: Any) -> None:
    if isinstance(tx, LmdbTx):
        tx.raw.delete(Table.SCHEMA, pack("indexes", SESSION.name))
    else:
        tx.execute("DELETE FROM index_sets WHERE kind = %s", (SESSION.name,))
