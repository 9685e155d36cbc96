"""The typed stores of one LMDB transaction, over today's key layout (see :mod:`pipeline.storage`).

Every key is built with :mod:`pipeline.keycodec`, so byte order is tuple order and a tuple
prefix is a key prefix. The tables (:class:`~pipeline.storage.lmdb.engine.Table`):

==============  ====================================================  ==========================
``records``     ``pack(kind, id)``                                     the serialized record
``unique``      ``pack(kind, index, *values)``                         the holder's id
``index``       ``pack(kind, index, *values, id)``                     empty (id order = age; older
                                                                       stores hold the id)
``counters``    ``pack(kind)`` / ``pack(kind, index, *values)`` /       int64: records / entries /
                ``pack(*name)``                                        a named counter
``requests``    ``pack("req", kind, id)`` / ``pack("exp", t, kind, id)``  entry / its expiry key
``events``      see :class:`LmdbChangeLog`                             the change log
``children``    ``pack(kind, parent id) + seq`` (8-byte big-endian)     the child's bytes
``schema``      ``pack("indexes", kind)``                               ``pack(*index names)``
==============  ====================================================  ==========================
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic

from google.protobuf.message import Message

from pipeline.errors import AlreadyExists, Internal
from pipeline.keycodec import pack, unpack
from pipeline.resource import Index, M, ResourceKind, index_changes, index_entries
from pipeline.storage import Remembered, StoredChange
from pipeline.storage.lmdb.engine import RawTx, Table


@dataclass(frozen=True)
class Layout:
    """Where one kind's keys start, computed once per kind (it is on every write's path)."""

    prefix: bytes  # pack(kind): records, unique and index entries, the record counter
    index_prefixes: dict[str, bytes]  # pack(kind, index) per index
    counted_prefixes: tuple[bytes, ...]  # pack(kind, index) of every plain (counted) index

    @classmethod
    def of(cls, kind: ResourceKind[Any]) -> Layout:
        prefixes = {index.name: pack(kind.name, index.name) for index in kind.indexes}
        counted = tuple(prefixes[index.name] for index in kind.indexes if not index.unique)
        return cls(pack(kind.name), prefixes, counted)

    def is_index_counter(self, key: bytes) -> bool:
        """True for the record counter and the index counters (derived from records, so
        check compares and reindex rebuilds them); False for named counters."""
        return key == self.prefix or any(key.startswith(p) for p in self.counted_prefixes)


class LmdbTx:
    """One unit of work over one LMDB transaction."""

    __slots__ = ("_changes", "_layouts", "raw")

    def __init__(self, raw: RawTx, layouts: dict[int, tuple[ResourceKind[Any], Layout]]) -> None:
        self.raw = raw
        self._layouts = layouts
        self._changes: LmdbChangeLog | None = None

    @property
    def changes(self) -> LmdbChangeLog:
        # one per transaction: it remembers the current revision once read (a batch of
        # writes, or a write recording several changes, seeks for it once)
        if self._changes is None:
            self._changes = LmdbChangeLog(self.raw)
        return self._changes

    @property
    def children(self) -> LmdbChildren:
        return LmdbChildren(self.raw)

    @property
    def requests(self) -> LmdbRequests:
        return LmdbRequests(self.raw)

    @property
    def counters(self) -> LmdbCounters:
        return LmdbCounters(self.raw)

    @property
    def index_sets(self) -> LmdbIndexSets:
        return LmdbIndexSets(self.raw)

    def records(self, kind: ResourceKind[M]) -> LmdbRecords[M]:
        # Keyed by the kind itself: one name may be served with more or fewer optional
        # indexes (a controller, and a maintenance command reading the store as it is).
        found = self._layouts.get(id(kind))
        if found is None or found[0] is not kind:
            found = self._layouts[id(kind)] = (kind, Layout.of(kind))
        return LmdbRecords(self.raw, kind, found[1])

    def is_empty(self) -> bool:
        has_records = any(True for _ in self.raw.scan(Table.RECORDS, b""))
        return not has_records and not self.changes.current_revision()


class LmdbRecords(Generic[M]):
    """The records of one kind, with their unique entries, index entries and counters."""

    __slots__ = ("_kind", "_layout", "_prefix", "_raw")

    def __init__(self, raw: RawTx, kind: ResourceKind[M], layout: Layout) -> None:
        self._raw = raw
        self._kind = kind
        self._layout = layout
        self._prefix = layout.prefix

    def get(self, record_id: str) -> M | None:
        raw = self._raw.get(Table.RECORDS, self._prefix + pack(record_id))
        return None if raw is None else self._parse(raw)

    def find_unique(self, index: str, values: tuple[str, ...]) -> str | None:
        raw = self._raw.get(Table.UNIQUE, self._prefix + pack(index, *values))
        return None if raw is None else raw.decode()

    def count(self, index: str | None = None, values: tuple[str, ...] = ()) -> int:
        if index is None:
            return self._raw.counter(Table.COUNTERS, self._prefix)
        if index not in self._layout.index_prefixes:  # an index not kept counts nothing: say so
            raise Internal(f"{self._kind.name} has no index {index!r}")
        return self._raw.counter(Table.COUNTERS, self._prefix + pack(index, *values))

    def scan_sized(
        self,
        index: str | None = None,
        values: tuple[str, ...] = (),
        *,
        after_id: str | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[M, int]]:
        if index is None:
            after = None if after_id is None else self._prefix + pack(after_id)
            for _, raw in self._raw.scan(Table.RECORDS, self._prefix, after=after, reverse=reverse):
                yield self._parse(raw), len(raw)
            return
        prefix = self._prefix + pack(index, *values)
        after = None if after_id is None else prefix + pack(after_id)
        start = len(prefix)
        for key, _ in self._raw.scan(Table.INDEX, prefix, after=after, reverse=reverse):
            stored = self._raw.get(Table.RECORDS, self._prefix + key[start:])  # the key ends in pack(id)
            if stored is None:
                raise Internal(f"index {index} of {self._kind.name} points to missing {key[start:]!r}")
            yield self._parse(stored), len(stored)

    def put(self, record: M, previous: M | None = None, *, changed: frozenset[str] | None = None) -> None:
        record_id: str = record.metadata.id  # type: ignore[attr-defined]
        if not record_id:
            raise Internal(f"refusing to store a {self._kind.name} without an id")
        id_key = pack(record_id)
        prefixes = self._layout.index_prefixes
        for index, removed, added in index_changes(self._kind, previous, record, changed):
            prefix = prefixes[index.name]
            for values in removed:
                self._remove_entry(index.unique, prefix + pack(*values), id_key, record_id)
            for values in added:
                self._add_entry(
                    index.unique, prefix + pack(*values), id_key, record_id, index=index.name, values=values
                )
        if previous is None:
            self._raw.add(Table.COUNTERS, self._prefix, 1)
        self._raw.put(Table.RECORDS, self._prefix + id_key, record.SerializeToString())

    def delete(self, record: M) -> None:
        record_id: str = record.metadata.id  # type: ignore[attr-defined]
        id_key = pack(record_id)
        prefixes = self._layout.index_prefixes
        for index, values in index_entries(self._kind, record):
            self._remove_entry(index.unique, prefixes[index.name] + pack(*values), id_key, record_id)
        if self._raw.delete(Table.RECORDS, self._prefix + id_key):
            self._raw.add(Table.COUNTERS, self._prefix, -1)

    def build_index(self, index: Index) -> int:
        prefix = pack(self._kind.name, index.name)
        read = 0
        for record, _ in list(self.scan_sized()):
            record_id: str = record.metadata.id  # type: ignore[attr-defined]
            for values in set(index.values(record)):
                self._add_entry(
                    index.unique,
                    prefix + pack(*values),
                    pack(record_id),
                    record_id,
                    index=index.name,
                    values=values,
                )
            read += 1
        return read

    def _add_entry(
        self, unique: bool, key: bytes, id_key: bytes, record_id: str, *, index: str, values: tuple[str, ...]
    ) -> None:
        if unique:
            holder = self._raw.get(Table.UNIQUE, key)
            if holder is not None and holder.decode() != record_id:
                raise AlreadyExists(
                    f"{self._kind.name} {holder.decode()} already has {index} {'/'.join(values)!r}"
                )
            self._raw.put(Table.UNIQUE, key, record_id.encode())
            return
        self._raw.put(Table.INDEX, key + id_key, b"")  # the id is the key's end: no copy
        self._raw.add(Table.COUNTERS, key, 1)

    def _remove_entry(self, unique: bool, key: bytes, id_key: bytes, record_id: str) -> None:
        if unique:
            holder = self._raw.get(Table.UNIQUE, key)
            if holder is not None and holder.decode() == record_id:
                self._raw.delete(Table.UNIQUE, key)
            return
        if self._raw.delete(Table.INDEX, key + id_key):
            self._raw.add(Table.COUNTERS, key, -1)

    def _parse(self, raw: Any) -> M:
        try:
            return self._kind.message_type.FromString(raw)
        except Exception as exc:  # DecodeError: a corrupt record is our fault, not the caller's
            raise Internal(f"corrupt {self._kind.name} record: {exc}") from exc


REV = struct.Struct(">Q")
CURRENT = b"\x00current"
OLDEST = b"\x00oldest"
#: The log's layout version, written with the first change. Older layouts are rewritten in
#: this one when the store opens (:func:`upgrade_change_log`): none (the first: values
#: without a header, an org index not per kind) and 2 (one global log key per revision plus
#: a per-kind index entry).
FORMAT = b"\x00format"
LOG_FORMAT = 3
LOG = b"\x01"
BY_RESOURCE = b"\x02"
BY_ORG = b"\x03"
#: Layout 2's per-kind index (layout 3 files the entries themselves by kind).
BY_KIND = b"\x04"
#: A log value: format, time_ns, length of ``pack(kind, resource id, org)``; then that; then
#: the change's bytes. Scans and compaction read where a change belongs from this header,
#: never by parsing a kind's change type.
ENTRY_HEADER = struct.Struct(">BqH")
ENTRY_FORMAT = 1


def rev_int(raw: bytes | None) -> int:
    return 0 if raw is None else int(REV.unpack(raw)[0])


def encode_entry(change: StoredChange) -> bytes:
    where = pack(change.kind, change.resource_id, change.org)
    return ENTRY_HEADER.pack(ENTRY_FORMAT, change.time_ns, len(where)) + where + change.data


def decode_entry(revision: int, value: bytes) -> StoredChange:
    """The stored change of a log value; ValueError (or struct.error) if it is malformed."""
    version, time_ns, length = ENTRY_HEADER.unpack_from(value)
    if version != ENTRY_FORMAT:
        raise ValueError(f"unknown change-log entry format {version}")
    end = ENTRY_HEADER.size + length
    kind, resource_id, org = unpack(value[ENTRY_HEADER.size : end])
    return StoredChange(revision, kind, resource_id, org, time_ns, value[end:])


def entry_key(kind: str, revision: int) -> bytes:
    """Where a change's entry is: in its kind's run of the log, in revision order."""
    return LOG + pack(kind) + REV.pack(revision)


def index_keys(change: StoredChange) -> tuple[bytes, bytes]:
    """The two index entries of a change: by resource and by org (both within its kind)."""
    rev = REV.pack(change.revision)
    return (
        BY_RESOURCE + pack(change.kind, change.resource_id) + rev,
        BY_ORG + pack(change.kind, change.org) + rev,
    )


class LmdbChangeLog:
    """The change log in the ``events`` table (revisions 8-byte big-endian: key order is
    revision order). Gap-free and in commit order because LMDB runs one writer at a time and
    the next revision is read inside it: an aborted write takes its revision with it.

    The entries are filed by kind, so a kind's changes are one key range (a scan of one kind
    needs no index) and a change writes three keys: its entry and two index entries. The
    current revision is the newest entry's, read with one seek per kind in the log, so a
    write does not rewrite a marker too; the ``current`` marker only keeps it when the newest
    entries are compacted away or an import declares a window.

    ==========================================  =====================================
    ``0x00 "current"`` / ``0x00 "oldest"``      current revision floor / oldest retained
    ``0x00 "format"``                           the layout version (3)
    ``0x01 pack(kind) rev``                     the entry (header + change bytes)
    ``0x02 pack(kind, resource id) rev``        index: changes of one resource
    ``0x03 pack(kind, org) rev``                index: one kind's changes in one org
    ==========================================  =====================================
    """

    __slots__ = ("_current", "_raw")

    def __init__(self, raw: RawTx) -> None:
        self._raw = raw
        #: The current revision as this transaction left it (None: not read yet). Only this
        #: transaction writes the log while it is open (LMDB's single writer), so it stays
        #: true until commit; every method that moves it sets it.
        self._current: int | None = None

    def append(self, event: Message, *, kind: str, resource_id: str, org: str, time_ns: int) -> int:
        current = self.current_revision()
        revision = current + 1
        event.revision = revision  # type: ignore[attr-defined]
        self._store(
            StoredChange(revision, kind, resource_id, org, time_ns, event.SerializeToString()), current
        )
        return revision

    def restore(self, change: StoredChange) -> None:
        current = self.current_revision()
        if change.revision <= current:
            raise Internal(f"revision {change.revision} is not after the current revision {current}")
        self._store(change, current)

    def _store(self, change: StoredChange, current: int) -> None:
        if not current and self._raw.get(Table.EVENTS, FORMAT) is None:  # the log's first change
            self._raw.put(Table.EVENTS, FORMAT, REV.pack(LOG_FORMAT))
        self._raw.put(Table.EVENTS, entry_key(change.kind, change.revision), encode_entry(change))
        for key in index_keys(change):
            self._raw.put(Table.EVENTS, key, b"")
        self._current = change.revision

    def set_window(self, *, oldest: int, current: int) -> None:
        self._raw.put(Table.EVENTS, OLDEST, REV.pack(max(oldest, 1)))
        self._raw.put(Table.EVENTS, CURRENT, REV.pack(current))
        self._current = None  # a marker below the newest entry does not lower it: read again

    def current_revision(self) -> int:
        if self._current is None:
            newest = max((rev for _, rev in _kind_heads(self._raw, newest=True)), default=0)
            self._current = max(newest, rev_int(self._raw.get(Table.EVENTS, CURRENT)))
        return self._current

    def oldest_revision(self) -> int:
        return max(rev_int(self._raw.get(Table.EVENTS, OLDEST)), 1)

    def scan(
        self, *, kind: str, after_revision: int = 0, resource_id: str = "", org: str = ""
    ) -> Iterator[StoredChange]:
        after = REV.pack(after_revision)
        if not resource_id and not org:
            prefix = LOG + pack(kind)
            for key, value in self._raw.scan(Table.EVENTS, prefix, after=prefix + after):
                yield self._decode(rev_int(key[-REV.size :]), value)
            return
        prefix = BY_RESOURCE + pack(kind, resource_id) if resource_id else BY_ORG + pack(kind, org)
        entries = LOG + pack(kind)
        for key, _ in self._raw.scan(Table.EVENTS, prefix, after=prefix + after):
            rev = key[-REV.size :]
            stored = self._raw.get(Table.EVENTS, entries + rev)
            if stored is None:
                raise Internal(f"change index points to missing revision {rev_int(rev)}")
            yield self._decode(rev_int(rev), stored)

    def compact(self, *, below_revision: int, older_than_ns: int | None, limit: int) -> int:
        current = self.current_revision()
        doomed: list[tuple[bytes, StoredChange]] = []
        # The oldest changes of every kind, merged in revision order: compaction is global.
        runs = [self._entries(kind_prefix) for kind_prefix, _ in _kind_heads(self._raw, newest=False)]
        for key, change in heapq.merge(*runs, key=lambda item: item[1].revision):
            if len(doomed) >= limit:
                break
            too_old = older_than_ns is not None and change.time_ns < older_than_ns
            if change.revision >= below_revision and not too_old:
                break
            doomed.append((key, change))
        for key, change in doomed:
            self._raw.delete(Table.EVENTS, key)
            for index_key in index_keys(change):
                self._raw.delete(Table.EVENTS, index_key)
        if doomed:
            self._raw.put(Table.EVENTS, OLDEST, REV.pack(doomed[-1][1].revision + 1))
            self._raw.put(Table.EVENTS, CURRENT, REV.pack(current))  # the newest may be gone now
        return len(doomed)

    def _entries(self, kind_prefix: bytes) -> Iterator[tuple[bytes, StoredChange]]:
        for key, value in self._raw.scan(Table.EVENTS, kind_prefix):
            yield key, self._decode(rev_int(key[-REV.size :]), value)

    @staticmethod
    def _decode(revision: int, value: bytes) -> StoredChange:
        try:
            return decode_entry(revision, value)
        except (ValueError, UnicodeDecodeError, struct.error) as exc:
            raise Internal(f"change-log entry {revision} is corrupt") from exc


def _kind_heads(raw: RawTx, *, newest: bool) -> Iterator[tuple[bytes, int]]:
    """(``LOG + pack(kind)``, its newest or oldest revision) for every kind in the log: two
    seeks per kind, whatever the log's length."""
    after: bytes | None = None
    while True:
        first = next(raw.scan(Table.EVENTS, LOG, after=after), None)
        if first is None:
            return
        key = first[0]
        kind_prefix = key[: -REV.size]
        if newest:
            key = next(raw.scan(Table.EVENTS, kind_prefix, reverse=True))[0]
        yield kind_prefix, rev_int(key[-REV.size :])
        after = kind_prefix + b"\xff" * REV.size  # past this kind's last possible revision


def needs_upgrade(raw: RawTx) -> bool:
    """A log of an older layout: changes (a current marker) without a format marker, or
    format 2."""
    stored = raw.get(Table.EVENTS, FORMAT)
    if stored is None:
        return raw.get(Table.EVENTS, CURRENT) is not None
    return rev_int(stored) < LOG_FORMAT


def upgrade_change_log(raw: RawTx, now_ns: int) -> int:
    """Rewrite a change log of an older layout in this one; returns how many changes it
    rewrote (0: nothing to do).

    From the first layout (values without a header, an org index not per kind, no kind
    index), where a change belongs comes from its old index entries; its time, which only
    age-based compaction reads, becomes ``now_ns``, so such a compaction keeps it longer
    rather than dropping it early. From layout 2 (a global entry key per revision plus a
    per-kind index entry), each entry moves under its kind and the kind index goes. The
    ``current`` marker of either stays, as the floor it now is."""
    if not needs_upgrade(raw):
        return 0
    first = raw.get(Table.EVENTS, FORMAT) is None
    resources: dict[int, tuple[str, str]] = {}
    orgs: dict[int, str] = {}
    if first:
        old_index = [key for key, _ in raw.scan(Table.EVENTS, BY_RESOURCE)]
        for key in old_index:
            kind, resource_id = unpack(key[1 : -REV.size])
            resources[rev_int(key[-REV.size :])] = (kind, resource_id)
        for key, _ in raw.scan(Table.EVENTS, BY_ORG):
            old_index.append(key)
            (org,) = unpack(key[1 : -REV.size])
            orgs[rev_int(key[-REV.size :])] = org
    else:
        old_index = [key for key, _ in raw.scan(Table.EVENTS, BY_KIND)]
    for key in old_index:
        raw.delete(Table.EVENTS, key)
    count = 0
    old_entries = [(k, v) for k, v in raw.scan(Table.EVENTS, LOG) if len(k) == len(LOG) + REV.size]
    for key, value in old_entries:
        revision = rev_int(key[1:])
        if first:
            kind, resource_id = resources.get(revision, ("", ""))
            change = StoredChange(revision, kind, resource_id, orgs.get(revision, ""), now_ns, value)
        else:
            change = LmdbChangeLog._decode(revision, value)
        raw.delete(Table.EVENTS, key)
        raw.put(Table.EVENTS, entry_key(change.kind, revision), encode_entry(change))
        for index_key in index_keys(change):
            raw.put(Table.EVENTS, index_key, b"")
        count += 1
    raw.put(Table.EVENTS, FORMAT, REV.pack(LOG_FORMAT))
    return count


SEQ = struct.Struct(">Q")


def parse_child_key(key: bytes) -> tuple[str, str, int]:
    """(kind, parent id, sequence) of a child record's key; ValueError if it is malformed."""
    if len(key) <= SEQ.size:
        raise ValueError(f"child key too short: {key!r}")
    parts = unpack(key[: -SEQ.size])
    if len(parts) != 2:
        raise ValueError(f"child key without (kind, parent id): {key!r}")
    return parts[0], parts[1], int(SEQ.unpack(key[-SEQ.size :])[0])


class LmdbChildren:
    """Child records at ``pack(kind, parent id) + sequence``: one parent's children are one
    contiguous key range in sequence order, so a page is a range scan, the next sequence is
    one seek and deleting them all one range walk."""

    __slots__ = ("_raw",)

    def __init__(self, raw: RawTx) -> None:
        self._raw = raw

    def last_sequence(self, kind: str, parent_id: str) -> int:
        for key, _ in self._raw.scan(Table.CHILDREN, pack(kind, parent_id), reverse=True):
            return int(SEQ.unpack(key[-SEQ.size :])[0])
        return 0

    def append(self, kind: str, parent_id: str, sequence: int, data: bytes) -> None:
        self._raw.put(Table.CHILDREN, pack(kind, parent_id) + SEQ.pack(sequence), data)

    def scan(
        self, kind: str, parent_id: str, *, after: int = 0, before: int | None = None, reverse: bool = False
    ) -> Iterator[tuple[int, bytes]]:
        prefix = pack(kind, parent_id)
        if reverse:
            start = prefix + SEQ.pack(before) if before is not None else None
            for key, value in self._raw.scan(Table.CHILDREN, prefix, after=start, reverse=True):
                sequence = int(SEQ.unpack(key[-SEQ.size :])[0])
                if sequence <= after:
                    return
                yield sequence, value
            return
        for key, value in self._raw.scan(Table.CHILDREN, prefix, after=prefix + SEQ.pack(after)):
            sequence = int(SEQ.unpack(key[-SEQ.size :])[0])
            if before is not None and sequence >= before:
                return
            yield sequence, value

    def delete_all(self, kind: str, parent_id: str) -> int:
        return self.delete_after(kind, parent_id, 0)

    def delete_after(self, kind: str, parent_id: str, after: int) -> int:
        prefix = pack(kind, parent_id)
        keys = [key for key, _ in self._raw.scan(Table.CHILDREN, prefix, after=prefix + SEQ.pack(after))]
        for key in keys:
            self._raw.delete(Table.CHILDREN, key)
        return len(keys)

    def parents(self) -> Iterator[tuple[str, str, int]]:
        current: tuple[str, str] | None = None
        count = 0
        for key, _ in self._raw.scan(Table.CHILDREN, b""):
            kind, parent_id = unpack(key[: -SEQ.size])
            if (kind, parent_id) != current:
                if current is not None:
                    yield (*current, count)
                current, count = (kind, parent_id), 0
            count += 1
        if current is not None:
            yield (*current, count)


REQUEST_HEADER = struct.Struct("<Bq32s")  # format version, expires_at_ns, sha256 of the request
REQUEST_FORMAT = 1
REQUEST_ENTRY = "req"
REQUEST_EXPIRY = "exp"


def time_key(ns: int) -> str:
    return f"{max(ns, 0):020d}"  # zero-padded so string order is time order


class LmdbRequests:
    """Remembered requests: ``pack("req", kind, id)`` holds the entry, and a second key
    ``pack("exp", expiry, kind, id)`` keeps them in expiry order, so purging a few expired
    ones per write is a short range walk (no sweeper thread, no full scan)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: RawTx) -> None:
        self._raw = raw

    def lookup(self, kind: str, request_id: str, now_ns: int) -> Remembered | None:
        raw = self._raw.get(Table.REQUESTS, pack(REQUEST_ENTRY, kind, request_id))
        if raw is None:
            return None
        _, expires, digest = REQUEST_HEADER.unpack_from(raw)
        if expires <= now_ns:
            return None
        return Remembered(expires, digest, raw[REQUEST_HEADER.size :])

    def remember(
        self, kind: str, request_id: str, *, fingerprint: bytes, response: bytes, expires_at_ns: int
    ) -> None:
        key = pack(REQUEST_ENTRY, kind, request_id)
        previous = self._raw.get(Table.REQUESTS, key)
        if previous is not None:  # an expired entry being reused: drop its expiry key
            expired = time_key(REQUEST_HEADER.unpack_from(previous)[1])
            self._raw.delete(Table.REQUESTS, pack(REQUEST_EXPIRY, expired, kind, request_id))
        header = REQUEST_HEADER.pack(REQUEST_FORMAT, expires_at_ns, fingerprint)
        self._raw.put(Table.REQUESTS, key, header + response)
        self._raw.put(Table.REQUESTS, pack(REQUEST_EXPIRY, time_key(expires_at_ns), kind, request_id), b"")

    def purge_expired(self, now_ns: int, limit: int) -> int:
        doomed: list[bytes] = []
        now_key = time_key(now_ns)
        for key, _ in self._raw.scan(Table.REQUESTS, pack(REQUEST_EXPIRY)):
            _, expires, kind, request_id = unpack(key)
            if expires > now_key or len(doomed) >= limit * 2:
                break
            doomed += [key, pack(REQUEST_ENTRY, kind, request_id)]
        for key in doomed:
            self._raw.delete(Table.REQUESTS, key)
        return len(doomed) // 2


class LmdbCounters:
    """Named counters in the ``counters`` table at ``pack(*name)``. A name starting with a
    kind's name must not start with one of its index names, or it would read as an index
    counter (GenerateName uses ``(kind, "_generated_names", ...)``)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: RawTx) -> None:
        self._raw = raw

    def add(self, name: tuple[str, ...], delta: int) -> int:
        return self._raw.add(Table.COUNTERS, pack(*name), delta)


class LmdbIndexSets:
    """The index names held per kind in the ``schema`` table (LMDB's single writer makes a
    read-then-write of one set atomic)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: RawTx) -> None:
        self._raw = raw

    def get(self, kind: str) -> tuple[str, ...] | None:
        raw = self._raw.get(Table.SCHEMA, pack("indexes", kind))
        return None if raw is None else tuple(unpack(raw))

    def put(self, kind: str, names: tuple[str, ...]) -> None:
        self._raw.put(Table.SCHEMA, pack("indexes", kind), pack(*names))
