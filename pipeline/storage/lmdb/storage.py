"""``LmdbStorage``: the embedded backend, one LMDB environment per data directory.

The engine (:mod:`pipeline.storage.lmdb.engine`) runs callbacks in LMDB transactions with
group commit, map growth and fault handling; this class hands those callbacks the typed
stores of :mod:`pipeline.storage.lmdb.stores` instead of raw keys. One process owns the
writes (LMDB serialises writers), so check-then-write is atomic without locks, and commits
by other processes on the same directory are not announced: ``follow`` is a no-op and
watchers of a store shared by several processes poll (the controller's ``watch_poll_s``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pipeline.resource import ResourceKind
from pipeline.storage import CheckReport
from pipeline.storage.lmdb import check as _check
from pipeline.storage.lmdb.engine import LmdbEngine, RawTx, Table
from pipeline.storage.lmdb.stores import Layout, LmdbTx, needs_upgrade, upgrade_change_log

T = TypeVar("T")
_log = logging.getLogger(__name__)


class LmdbStorage(LmdbEngine):
    """A :class:`~pipeline.storage.Storage` on an embedded LMDB environment at ``path``.

    ``durable=True`` (default) syncs on every commit, and concurrent writes share commits
    (``group_commit``, on by default when durable). ``durable=False`` flushes every
    ``flush_interval_s`` in the background instead: a process crash loses nothing, a machine
    crash may lose that window, and the store is never corrupted. The map starts at
    ``map_size`` bytes and doubles whenever a write finds it full.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "./data",
        *,
        durable: bool = True,
        map_size: int = LmdbEngine.DEFAULT_MAP_SIZE,
        max_readers: int = 512,
        group_commit: bool | None = None,
        flush_interval_s: float = 0.1,
    ) -> None:
        super().__init__(
            path,
            durable=durable,
            map_size=map_size,
            max_readers=max_readers,
            group_commit=group_commit,
            flush_interval_s=flush_interval_s,
        )
        #: Key prefixes per kind served, computed on first use (see stores.Layout).
        self._layouts: dict[int, tuple[ResourceKind[Any], Layout]] = {}
        try:
            upgraded = 0
            if self.read_raw(needs_upgrade):
                upgraded = self.write_raw(lambda raw: upgrade_change_log(raw, time.time_ns()))
        except BaseException:
            self.close()
            raise
        if upgraded:
            _log.warning("rewrote the %d changes of %s in the current change-log layout", upgraded, self.path)

    def read(self, fn: Callable[[LmdbTx], T]) -> T:
        layouts = self._layouts
        return self.read_raw(lambda raw: fn(LmdbTx(raw, layouts)))

    def write(self, fn: Callable[[LmdbTx], T]) -> T:
        layouts = self._layouts
        return self.write_raw(lambda raw: fn(LmdbTx(raw, layouts)))

    def check(
        self,
        kinds: Iterable[ResourceKind[Any]],
        progress: Callable[[int], None] | None = None,
        *,
        avoid: Mapping[str, bytes | None] | None = None,
        journal: _check.Journal | None = None,
    ) -> CheckReport:
        """Read everything and report problems (see :func:`pipeline.storage.lmdb.check.check`;
        ``avoid`` and ``journal`` let a supervisor run it around a spot where LMDB aborted
        the process)."""
        return _check.check(self, kinds, progress=progress, avoid=avoid, journal=journal)

    def reindex(
        self, kinds: Iterable[ResourceKind[Any]], progress: Callable[[int], None] | None = None
    ) -> int:
        """Drop every unique and index entry, the record counter and the index counters of
        ``kinds`` (named counters are kept; so are the counters of optional indexes that are
        not kept: they go too) and rebuild them from the records, in one write transaction:
        readers see the old or the new indexes. Records the indexes now held."""
        kinds = list(kinds)

        def rebuild(raw: RawTx) -> int:
            tx = LmdbTx(raw, self._layouts)
            total = 0
            for kind in kinds:
                every = kind.with_optional(i.name for i in kind.optional_indexes)
                layout = Layout.of(every)
                for table in (Table.INDEX, Table.UNIQUE):
                    for key in [k for k, _ in raw.scan(table, layout.prefix)]:
                        raw.delete(table, key)
                for key in [k for k, _ in raw.scan(Table.COUNTERS, layout.prefix)]:
                    if layout.is_index_counter(key):
                        raw.delete(Table.COUNTERS, key)
                records = tx.records(kind)
                for record, _ in list(records.scan_sized()):
                    records.put(record, None)
                    total += 1
                    if progress is not None:
                        progress(1)
                tx.index_sets.put(kind.name, tuple(i.name for i in kind.indexes))
            return total

        return self.write_raw(rebuild)

    def follow(self, on_revision: Callable[[int], None]) -> Callable[[], None]:
        """Nothing to follow: commits in this process are announced by the pipeline, and
        other processes' are found by polling."""
        return _no_op

    @property
    def poll_s(self) -> float | None:
        return None

    @property
    def shared(self) -> bool:
        return False  # one server (the directory lock); its workers share its settings

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return self.read_raw(lambda raw: {t.value: list(raw.scan(t, b"")) for t in Table})

    @property
    def description(self) -> str:
        return f"lmdb://{self.path}"

    def __enter__(self) -> LmdbStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _no_op() -> None:
    pass
