"""Records of one kind inside one transaction: the record plus every index entry and counter.

All index maintenance lives here, so a write can never update a record without its indexes:
``put`` and ``delete`` diff the old and new index entries and apply exactly the difference,
in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic

from pipeline.errors import AlreadyExists, Internal
from pipeline.keycodec import pack
from pipeline.resource import M, ResourceKind
from pipeline.store import Table, Transaction


class Records(Generic[M]):
    """Typed access to the records and indexes of ``kind`` through ``txn``."""

    __slots__ = ("_kind", "_prefix", "_txn")

    def __init__(self, txn: Transaction, kind: ResourceKind[M]) -> None:
        self._txn = txn
        self._kind = kind
        self._prefix = kind.key_prefix

    def get(self, record_id: str) -> M | None:
        raw = self._txn.get(Table.RECORDS, self._prefix + pack(record_id))
        return None if raw is None else self._parse(raw)

    def find_unique(self, index: str, values: tuple[str, ...]) -> str | None:
        """The id stored under ``values`` in unique ``index``, if any."""
        raw = self._txn.get(Table.UNIQUE, self._prefix + pack(index, *values))
        return None if raw is None else raw.decode()

    def count(self, index: str | None = None, values: tuple[str, ...] = ()) -> int:
        """How many records there are (``index`` None) or have entry ``values`` in ``index``."""
        key = self._prefix if index is None else self._prefix + pack(index, *values)
        return self._txn.counter(Table.COUNTERS, key)

    def scan(
        self,
        index: str | None = None,
        values: tuple[str, ...] = (),
        *,
        after_id: str | None = None,
        reverse: bool = False,
    ) -> Iterator[M]:
        """Records in id (= creation) order, all of them or those under ``values`` in ``index``,
        strictly after ``after_id`` in the scan direction."""
        for record, _ in self.scan_sized(index, values, after_id=after_id, reverse=reverse):
            yield record

    def scan_sized(
        self,
        index: str | None = None,
        values: tuple[str, ...] = (),
        *,
        after_id: str | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[M, int]]:
        """:meth:`scan`, each record with the length of its stored bytes (what it serializes
        to), so a page can be bounded in bytes without serializing anything again."""
        if index is None:
            after = None if after_id is None else self._prefix + pack(after_id)
            for _, raw in self._txn.scan(Table.RECORDS, self._prefix, after=after, reverse=reverse):
                yield self._parse(raw), len(raw)
            return
        prefix = self._prefix + pack(index, *values)
        after = None if after_id is None else prefix + pack(after_id)
        for _, raw_id in self._txn.scan(Table.INDEX, prefix, after=after, reverse=reverse):
            stored = self._txn.get(Table.RECORDS, self._prefix + pack(raw_id.decode()))
            if stored is None:
                raise Internal(f"index {index} of {self._kind.name} points to missing {raw_id.decode()}")
            yield self._parse(stored), len(stored)

    def put(self, record: M, previous: M | None = None) -> None:
        """Store ``record`` (replacing ``previous``, the version currently stored, if any) and
        bring every index and counter in line with it.

        Raises AlreadyExists if a unique index entry belongs to another record: callers check
        first to give a friendlier message, this is the guarantee.
        """
        record_id: str = record.metadata.id  # type: ignore[attr-defined]
        if not record_id:
            raise Internal(f"refusing to store a {self._kind.name} without an id")
        id_key = pack(record_id)
        prefixes = self._kind.index_prefixes
        for index in self._kind.indexes:
            new = set(index.values(record))
            old = set(index.values(previous)) if previous is not None else set()
            if old == new:
                continue
            prefix = prefixes[index.name]
            for values in old - new:
                self._remove_entry(index.unique, prefix + pack(*values), id_key, record_id)
            for values in new - old:
                self._add_entry(
                    index.unique, prefix + pack(*values), id_key, record_id, index=index.name, values=values
                )
        if previous is None:
            self._txn.add(Table.COUNTERS, self._prefix, 1)
        self._txn.put(Table.RECORDS, self._prefix + id_key, record.SerializeToString())

    def delete(self, record: M) -> None:
        """Remove ``record`` (as currently stored) and all its index entries."""
        record_id: str = record.metadata.id  # type: ignore[attr-defined]
        id_key = pack(record_id)
        prefixes = self._kind.index_prefixes
        for index in self._kind.indexes:
            for values in set(index.values(record)):
                self._remove_entry(index.unique, prefixes[index.name] + pack(*values), id_key, record_id)
        if self._txn.delete(Table.RECORDS, self._prefix + id_key):
            self._txn.add(Table.COUNTERS, self._prefix, -1)

    def _add_entry(
        self, unique: bool, key: bytes, id_key: bytes, record_id: str, *, index: str, values: tuple[str, ...]
    ) -> None:
        if unique:
            holder = self._txn.get(Table.UNIQUE, key)
            if holder is not None and holder.decode() != record_id:
                raise AlreadyExists(
                    f"{self._kind.name} {holder.decode()} already has {index} {'/'.join(values)!r}"
                )
            self._txn.put(Table.UNIQUE, key, record_id.encode())
            return
        self._txn.put(Table.INDEX, key + id_key, record_id.encode())
        self._txn.add(Table.COUNTERS, key, 1)

    def _remove_entry(self, unique: bool, key: bytes, id_key: bytes, record_id: str) -> None:
        if unique:
            holder = self._txn.get(Table.UNIQUE, key)
            if holder is not None and holder.decode() == record_id:
                self._txn.delete(Table.UNIQUE, key)
            return
        if self._txn.delete(Table.INDEX, key + id_key):
            self._txn.add(Table.COUNTERS, key, -1)

    def _parse(self, raw: Any) -> M:
        try:
            return self._kind.message_type.FromString(raw)
        except Exception as exc:  # DecodeError: a corrupt record is our fault, not the caller's
            raise Internal(f"corrupt {self._kind.name} record: {exc}") from exc
