"""Optional indexes: which a store holds, and enabling those a deployment needs.

Every index costs every write that touches it an entry (in LMDB a B-tree leaf page each), so
a kind declares the indexes only some features need as ``optional_indexes`` (per-owner quotas,
restart recovery), and a deployment keeps those its configuration uses. The store records,
per kind, the indexes it holds (:class:`~pipeline.storage.IndexSets`):

* a server starting with a configuration that needs an optional index the store lacks
  builds it from the records, once, in one transaction (:func:`enable`);
* an optional index the store holds but the configuration does not need is kept, and kept
  up to date: the next start may still rely on it. Only an explicit reindex (server
  stopped) drops it;
* a store that servers with other settings write at once (PostgreSQL replicas, restarted
  one by one to turn a quota on) keeps every optional index: a replica maintaining fewer
  than another relies on would make that one's quota or recovery silently wrong;
* maintenance (check, export, reindex) reads the store with the indexes it holds
  (:func:`held`), whatever flags it was started with;
* a store from before index sets were recorded holds every index there is;
* in one process, controllers sharing one store instance (``pipeline.shared_storage``) serve
  what the store holds: each recorded its set at open, so the store holds the union of what
  they keep, and a later one serves that union. One whose configuration needs an optional
  index the store lacks is refused while others serve it (``enable(..., frozen=True)``):
  building it would leave the live ones writing without maintaining it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pipeline.errors import FailedPrecondition
from pipeline.resource import ResourceKind
from pipeline.storage import Storage, Tx

_log = logging.getLogger(__name__)


def _recorded(tx: Tx, kind: ResourceKind[Any]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(what the store records for ``kind``, what it holds): the record; else, for a store
    from before with records of the kind, every index there is; else None (nothing held)."""
    names = tx.index_sets.get(kind.name)
    if names is not None or not tx.records(kind.base).count():
        return names, names
    return None, tuple(i.name for i in (*kind.base.indexes, *kind.optional_indexes))


def _serving(kind: ResourceKind[Any], recorded: tuple[str, ...] | None) -> ResourceKind[Any]:
    optional = {i.name for i in kind.optional_indexes}
    return kind.with_optional(kind.optional_kept | (optional & set(recorded or ())))


def held(storage: Storage, kinds: Iterable[ResourceKind[Any]]) -> list[ResourceKind[Any]]:
    """``kinds`` keeping exactly the optional indexes the store holds (read only)."""
    kinds = list(kinds)
    return storage.read(lambda tx: [_serving(k.base, _recorded(tx, k)[1]) for k in kinds])


def enable(
    storage: Storage, kinds: Iterable[ResourceKind[Any]], *, frozen: bool = False
) -> list[ResourceKind[Any]]:
    """``kinds`` as a server must serve them: each keeping the optional indexes it asks for
    plus those the store already holds (on a shared store, every one: see
    :attr:`~pipeline.storage.Storage.shared`). Builds the ones the store lacks and records
    the set in one write transaction, only when something changed (so starting a server on
    a store that is up to date writes nothing). ``frozen``: others in this process serve
    the store as it is, so an optional index it lacks is FailedPrecondition (naming it),
    not built."""
    kinds = list(kinds)
    if storage.shared:
        kinds = [kind.with_optional(i.name for i in kind.optional_indexes) for kind in kinds]

    def plan(tx: Tx) -> list[tuple[ResourceKind[Any], tuple[str, ...] | None, tuple[str, ...]]]:
        """(the kind as it must be served, what the store records, what it holds)."""
        planned = []
        for kind in kinds:
            stored, holding = _recorded(tx, kind)
            served = _serving(kind, holding)
            planned.append((served, stored, holding or ()))
        return planned

    def names(kind: ResourceKind[Any]) -> tuple[str, ...]:
        return tuple(i.name for i in kind.indexes)

    planned = storage.read(plan)
    if frozen:
        _refuse_builds(storage, planned)
    if all(stored == names(served) for served, stored, _ in planned):
        return [served for served, _, _ in planned]

    def build(tx: Tx) -> list[tuple[ResourceKind[Any], list[str], int]]:
        done: list[tuple[ResourceKind[Any], list[str], int]] = []
        for served, stored, holding in plan(tx):  # again: another process may have done it
            if stored == names(served):
                done.append((served, [], 0))
                continue
            # a new store (nothing held, no records) has nothing to build
            missing = [i for i in served.indexes if holding and i.name not in holding]
            records = tx.records(served)
            read = max((records.build_index(index) for index in missing), default=0)
            tx.index_sets.put(served.name, names(served))
            done.append((served, [i.name for i in missing], read))
        return done

    def build_unless_frozen(tx: Tx) -> list[tuple[ResourceKind[Any], list[str], int]]:
        if frozen:  # again, in the transaction that would build
            _refuse_builds(storage, plan(tx))
        return build(tx)

    built = storage.write(build_unless_frozen)
    for served, made, read in built:
        if made:
            _log.warning("built the %s index(es) %s from %d records", served.name, ", ".join(made), read)
    return [served for served, _, _ in built]


def _refuse_builds(
    storage: Storage, planned: list[tuple[ResourceKind[Any], tuple[str, ...] | None, tuple[str, ...]]]
) -> None:
    for served, _, holding in planned:
        lacking = sorted(served.optional_kept - set(holding))
        if lacking:
            raise FailedPrecondition(
                f"the {served.name} index(es) {', '.join(lacking)} are not kept by the store "
                f"{storage.description}, which other controllers in this process serve without them: "
                "open every controller on it with a configuration needing them, or close the others first"
            )
