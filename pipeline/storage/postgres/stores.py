"""The typed stores of one PostgreSQL transaction (see :mod:`pipeline.storage` for the contract).

Every statement goes through :meth:`PgTx.execute`, which turns engine exceptions into library
errors or into a re-run of the whole unit of work, and remembers that the transaction is
spoiled (PostgreSQL refuses every further statement after an error, and a COMMIT of a
failed transaction silently rolls back: the write loop must never report that as success).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic

import psycopg
from google.protobuf.message import Message

from pipeline.errors import AlreadyExists, Internal, ResourceError
from pipeline.keycodec import pack, unpack
from pipeline.resource import Index, M, ResourceKind, index_changes
from pipeline.storage import Remembered, StoredChange
from pipeline.storage.postgres import sql
from pipeline.storage.postgres.errors import is_retryable, translate

if TYPE_CHECKING:
    from pipeline.storage.postgres.storage import PostgresStorage


class Rerun(Exception):
    """A conflict PostgreSQL resolves by running the unit of work again (never seen by callers)."""


class PgTx:
    """One unit of work on one connection, inside an open transaction."""

    def __init__(self, conn: psycopg.Connection[Any], storage: PostgresStorage, *, write: bool) -> None:
        self.conn = conn
        self.write = write
        self._storage = storage
        self.channel = storage.channel
        self.rerun: BaseException | None = None
        self.failed: ResourceError | None = None
        self._records: dict[int, PgRecords[Any]] = {}
        self._cursors = itertools.count()
        self._changes = PgChangeLog(self)
        self._children = PgChildren(self)
        self._requests = PgRequests(self)
        self._counters = PgCounters(self)
        self._index_sets = PgIndexSets(self)

    def execute(self, query: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        self._usable()
        try:
            return self.conn.execute(query, params)
        except psycopg.Error as exc:
            raise self._spoil(exc) from exc

    def execute_many(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        """``query`` once per row, pipelined: one network round trip for all of them."""
        if not rows:
            return
        self._usable()
        try:
            with self.conn.cursor() as cur:
                cur.executemany(query, rows)
        except psycopg.Error as exc:
            raise self._spoil(exc) from exc

    def stream(self, query: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows of ``query`` through a server-side cursor, a batch at a time (whole-table reads
        of the admin commands: memory stays bounded). Inside the open transaction only."""
        self._usable()
        try:
            with self.conn.cursor(name=f"stream_{next(self._cursors)}") as cur:
                cur.itersize = 1000
                cur.execute(query, params)
                yield from cur
        except psycopg.Error as exc:
            raise self._spoil(exc) from exc

    def _usable(self) -> None:
        """After an error PostgreSQL refuses every statement: say why, not "transaction aborted"."""
        if self.rerun is not None:
            raise Rerun("this transaction already conflicted") from self.rerun
        if self.failed is not None:
            raise self.failed

    def _spoil(self, exc: psycopg.Error) -> Exception:
        """What to raise for ``exc``: a re-run for a conflict, a library error otherwise."""
        if is_retryable(exc):  # reads too: a standby may cancel one for a conflict with recovery
            self.rerun = exc
            return Rerun(type(exc).__name__)
        self.failed = translate(exc, self._storage.where, self._storage.statement_timeout_s)
        return self.failed

    def one(self, query: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(query, params).fetchone()

    def lock(self, name: bytes) -> None:
        """Hold row ``name`` of ``locks`` until commit: writers that take it run one at a time."""
        self.execute(sql.LOCK_CREATE, (name,))
        self.execute(sql.LOCK_TAKE, (name,))

    @property
    def changes(self) -> PgChangeLog:
        return self._changes

    @property
    def children(self) -> PgChildren:
        return self._children

    @property
    def requests(self) -> PgRequests:
        return self._requests

    @property
    def counters(self) -> PgCounters:
        return self._counters

    @property
    def index_sets(self) -> PgIndexSets:
        return self._index_sets

    def records(self, kind: ResourceKind[M]) -> PgRecords[M]:
        # keyed by the kind itself: one name may be served with more or fewer optional indexes
        found = self._records.get(id(kind))
        if found is None or found.kind is not kind:
            found = self._records[id(kind)] = PgRecords(self, kind)
        return found

    def is_empty(self) -> bool:
        row = self.one("SELECT NOT EXISTS (SELECT 1 FROM records) AND NOT EXISTS (SELECT 1 FROM changes)")
        return bool(row[0])


class PgRecords(Generic[M]):
    """Records of one kind with their index entries, as rows (see the 0001 migration)."""

    def __init__(self, tx: PgTx, kind: ResourceKind[M]) -> None:
        self._tx = tx
        self._kind = kind
        self.kind = kind
        self._name = kind.name
        self._unique = {i.name: i.unique for i in kind.indexes}
        #: Unique entries this unit of work was told are free. READ COMMITTED gives every
        #: statement a fresh snapshot, so one may be taken by a commit before put() claims
        #: it: the caller decided on a stale answer, and the unit must run again.
        self._seen_free: set[tuple[str, bytes]] = set()

    def get(self, record_id: str) -> M | None:
        """In a write transaction the row is locked (FOR UPDATE) until commit, so whatever the
        caller decides from it (versions, transitions, next message sequence) stays true."""
        query = sql.RECORD_GET_FOR_UPDATE if self._tx.write else sql.RECORD_GET
        row = self._tx.one(query, (self._name, record_id))
        return None if row is None else self._parse(row[0])

    def find_unique(self, index: str, values: tuple[str, ...]) -> str | None:
        holder = self._holder(index, values)
        if holder is None:
            self._seen_free.add((index, pack(*values)))
        return holder

    def _holder(self, index: str, values: tuple[str, ...]) -> str | None:
        row = self._tx.one(sql.UNIQUE_GET, (self._name, index, pack(*values)))
        return None if row is None else str(row[0])

    def count(self, index: str | None = None, values: tuple[str, ...] = ()) -> int:
        """count(*) over the index: O(matches), no hot counter row for writers to queue on.
        In a write transaction a lock row per (kind, index, values) is taken first, so two
        quota checks run one after the other and the second sees the first's insert."""
        if self._tx.write:
            self._tx.lock(pack("count", self._name, index or "", *values))
        if index is None:
            row = self._tx.one(sql.RECORD_COUNT, (self._name,))
        else:
            query = sql.UNIQUE_COUNT if self._unique_index(index) else sql.INDEX_COUNT
            row = self._tx.one(query, (self._name, index, pack(*values)))
        return int(row[0])

    def scan_sized(
        self,
        index: str | None = None,
        values: tuple[str, ...] = (),
        *,
        after_id: str | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[M, int]]:
        if index is None:
            base: tuple[Any, ...] = (self._name,)
            first = sql.RECORD_SCAN_FIRST_DESC if reverse else sql.RECORD_SCAN_FIRST
            more = sql.RECORD_SCAN_BEFORE if reverse else sql.RECORD_SCAN_AFTER
        elif self._unique_index(index):
            base = (self._name, index, pack(*values))
            first, more = sql.unique_scan(True, reverse), sql.unique_scan(False, reverse)
        else:
            base = (self._name, index, pack(*values))
            first = sql.INDEX_SCAN_FIRST_DESC if reverse else sql.INDEX_SCAN_FIRST
            more = sql.INDEX_SCAN_BEFORE if reverse else sql.INDEX_SCAN_AFTER
        last = after_id
        limited = index is None or not self._unique_index(index)  # a unique scan has no LIMIT
        for limit in sql.batch_sizes():
            params = base if last is None else (*base, last)
            rows = self._tx.execute(first if last is None else more, (*params, limit) if limited else params)
            batch = rows.fetchall()
            for record_id, data in batch:
                if data is None:
                    raise Internal(f"index {index} of {self._name} points to missing {record_id}")
                yield self._parse(data), len(data)
            if not limited or len(batch) < limit:
                return
            last = batch[-1][0]

    def put(self, record: M, previous: M | None = None, *, changed: frozenset[str] | None = None) -> None:
        record_id: str = record.metadata.id  # type: ignore[attr-defined]
        if not record_id:
            raise Internal(f"refusing to store a {self._name} without an id")
        drop_unique: list[tuple[str, str, bytes, str]] = []
        drop_plain: list[tuple[str, str, bytes, str]] = []
        add_plain: list[tuple[str, str, bytes, str]] = []
        for index, removed, added in index_changes(self._kind, previous, record, changed):
            for values in removed:
                row = (self._name, index.name, pack(*values), record_id)
                (drop_unique if index.unique else drop_plain).append(row)
            for values in added:
                if not index.unique:
                    add_plain.append((self._name, index.name, pack(*values), record_id))
                    continue
                holder = self._holder(index.name, values)
                if holder == record_id:
                    continue
                if holder is not None:
                    shown = "/".join(values)
                    conflict = AlreadyExists(f"{self._name} {holder} already has {index.name} {shown!r}")
                    if (index.name, pack(*values)) in self._seen_free:  # taken since we looked
                        self._tx.rerun = conflict
                        raise Rerun("a unique entry seen free was taken by a concurrent commit") from conflict
                    raise conflict
                # A concurrent holder that has not committed yet makes this wait, then fail
                # with a unique violation: the re-run then finds it above.
                self._tx.execute(sql.UNIQUE_INSERT, (self._name, index.name, pack(*values), record_id))
        self._tx.execute_many(sql.UNIQUE_DELETE, drop_unique)
        self._tx.execute_many(sql.INDEX_DELETE, drop_plain)
        self._tx.execute_many(sql.INDEX_INSERT, add_plain)
        self._tx.execute(sql.RECORD_UPSERT, (self._name, record_id, record.SerializeToString()))

    def delete(self, record: M) -> None:
        record_id: str = record.metadata.id  # type: ignore[attr-defined]
        for index in self._kind.indexes:
            delete = sql.UNIQUE_DELETE if index.unique else sql.INDEX_DELETE
            rows = [
                (self._name, index.name, pack(*values), record_id) for values in set(index.values(record))
            ]
            self._tx.execute_many(delete, rows)
        self._tx.execute(sql.RECORD_DELETE, (self._name, record_id))

    def build_index(self, index: Index) -> int:
        """Streams the records locked FOR SHARE (no writer changes one under the build) and
        inserts the entries in pipelined batches; two records claiming one unique entry stop
        it with AlreadyExists."""
        read = 0
        rows: list[tuple[str, str, bytes, str]] = []
        statement = sql.UNIQUE_INSERT if index.unique else sql.INDEX_INSERT
        query = "SELECT id, data FROM records WHERE kind = %s ORDER BY id FOR SHARE"
        for record_id, data in self._tx.stream(query, (self._name,)):
            record = self._parse(data)
            rows += [
                (self._name, index.name, pack(*values), record_id) for values in set(index.values(record))
            ]
            read += 1
            if len(rows) >= 1000:
                self._tx.execute_many(statement, rows)
                rows.clear()
        self._tx.execute_many(statement, rows)
        return read

    def _unique_index(self, index: str) -> bool:
        try:
            return self._unique[index]
        except KeyError:
            raise Internal(f"{self._name} has no index {index!r}") from None

    def _parse(self, raw: bytes) -> M:
        try:
            return self._kind.message_type.FromString(raw)
        except Exception as exc:  # DecodeError: a corrupt record is our fault, not the caller's
            raise Internal(f"corrupt {self._name} record: {exc}") from exc


def _change(row: tuple[Any, ...]) -> StoredChange:
    revision, kind, resource_id, org, time_ns, data = row
    parts = unpack(bytes(org))
    return StoredChange(
        int(revision), kind, resource_id, parts[0] if parts else "", int(time_ns), bytes(data)
    )


class PgChangeLog:
    """The change log. Revisions come from the one ``change_head`` row, locked by ``append``
    until commit: the next writer gets the next number only after this one committed (gap-free,
    in commit order, a rollback returns its number); the price is one writer at a time
    between a transaction's append and its commit."""

    def __init__(self, tx: PgTx) -> None:
        self._tx = tx

    def append(self, event: Message, *, kind: str, resource_id: str, org: str, time_ns: int) -> int:
        # notified at commit, not on rollback
        revision = int(self._tx.one(sql.HEAD_NEXT_NOTIFY, (self._tx.channel,))[0])
        event.revision = revision  # type: ignore[attr-defined]
        self._insert(StoredChange(revision, kind, resource_id, org, time_ns, event.SerializeToString()))
        return revision

    def restore(self, change: StoredChange) -> None:
        current = int(self._tx.one(sql.HEAD_GET_FOR_UPDATE)[0])
        if change.revision <= current:
            raise Internal(f"revision {change.revision} is not after the current revision {current}")
        self._insert(change)
        self._tx.execute(sql.HEAD_SET_CURRENT, (change.revision,))

    def set_window(self, *, oldest: int, current: int) -> None:
        self._tx.execute(sql.HEAD_SET, (current, max(oldest, 1)))

    def current_revision(self) -> int:
        return int(self._tx.one(sql.HEAD_GET)[0])

    def oldest_revision(self) -> int:
        return max(int(self._tx.one(sql.HEAD_GET)[1]), 1)

    def scan(
        self, *, kind: str, after_revision: int = 0, resource_id: str = "", org: str = ""
    ) -> Iterator[StoredChange]:
        base: tuple[Any, ...]
        if resource_id:
            query, base = sql.CHANGE_SCAN_RESOURCE, (kind, resource_id)
        elif org:
            query, base = sql.CHANGE_SCAN_ORG, (kind, pack(org))
        else:
            query, base = sql.CHANGE_SCAN_KIND, (kind,)
        after = after_revision
        for limit in sql.batch_sizes():
            batch = self._tx.execute(query, (*base, after, limit)).fetchall()
            for row in batch:
                yield _change(row)
            if len(batch) < limit:
                return
            after = int(batch[-1][0])

    def compact(self, *, below_revision: int, older_than_ns: int | None, limit: int) -> int:
        oldest = self.oldest_revision()
        last = None
        for revision, time_ns in self._tx.execute(sql.CHANGE_OLDEST, (oldest, max(limit, 0))).fetchall():
            if revision >= below_revision and (older_than_ns is None or time_ns >= older_than_ns):
                break
            last = int(revision)
        if last is None:
            return 0
        deleted = self._tx.execute(sql.CHANGE_DELETE_UPTO, (oldest, last)).rowcount
        self._tx.execute(sql.HEAD_SET_OLDEST, (last + 1,))
        return deleted

    def _insert(self, c: StoredChange) -> None:
        params = (c.revision, c.kind, c.resource_id, pack(c.org), c.time_ns, c.data)
        self._tx.execute(sql.CHANGE_INSERT, params)


class PgChildren:
    """Child rows keyed by (kind, parent, sequence). The parent is loaded FOR UPDATE first by
    the steps, so sequence numbers are handed out one writer at a time; the primary key
    backs that up (a duplicate is a unique violation, hence a re-run)."""

    def __init__(self, tx: PgTx) -> None:
        self._tx = tx

    def last_sequence(self, kind: str, parent_id: str) -> int:
        row = self._tx.one(sql.CHILD_LAST, (kind, parent_id))
        return 0 if row is None else int(row[0])

    def append(self, kind: str, parent_id: str, sequence: int, data: bytes) -> None:
        self._tx.execute(sql.CHILD_INSERT, (kind, parent_id, sequence, data))

    def scan(
        self, kind: str, parent_id: str, *, after: int = 0, before: int | None = None, reverse: bool = False
    ) -> Iterator[tuple[int, bytes]]:
        low, high = after, (2**63 - 1) if before is None else before
        query = sql.CHILD_SCAN_DESC if reverse else sql.CHILD_SCAN
        for limit in sql.batch_sizes():
            batch = self._tx.execute(query, (kind, parent_id, low, high, limit)).fetchall()
            for seq, data in batch:
                yield int(seq), bytes(data)
            if len(batch) < limit:
                return
            if reverse:
                high = int(batch[-1][0])
            else:
                low = int(batch[-1][0])

    def delete_all(self, kind: str, parent_id: str) -> int:
        return int(self._tx.execute(sql.CHILD_DELETE, (kind, parent_id)).rowcount)

    def delete_after(self, kind: str, parent_id: str, after: int) -> int:
        return int(self._tx.execute(sql.CHILD_DELETE_AFTER, (kind, parent_id, after)).rowcount)

    def parents(self) -> Iterator[tuple[str, str, int]]:
        rows = self._tx.execute(
            "SELECT kind, parent_id, count(*) FROM children GROUP BY kind, parent_id ORDER BY kind, parent_id"
        )
        for kind, parent_id, count in rows.fetchall():
            yield str(kind), str(parent_id), int(count)


class PgRequests:
    """Remembered requests. In a write transaction ``lookup`` first CLAIMS the id (inserts a
    placeholder that counts as absent): a concurrent retry of the same id waits on that
    uncommitted row, then sees the first attempt's response, or takes the claim over if the
    first rolled back. Request ids are the client's strings: stored as bytes (text cannot
    hold NUL)."""

    def __init__(self, tx: PgTx) -> None:
        self._tx = tx

    def lookup(self, kind: str, request_id: str, now_ns: int) -> Remembered | None:
        key = request_id.encode()
        if self._tx.write:
            self._tx.execute(sql.REQUEST_CLAIM, (kind, key))
            # Locked whoever inserted it: an expired entry, or a placeholder some transaction
            # committed without remembering, is ours until commit like a fresh claim.
            row = self._tx.one(sql.REQUEST_GET_FOR_UPDATE, (kind, key))
        else:
            row = self._tx.one(sql.REQUEST_GET, (kind, key))
        if row is None or row[0] <= now_ns:
            return None
        return Remembered(int(row[0]), bytes(row[1]), bytes(row[2]))

    def remember(
        self, kind: str, request_id: str, *, fingerprint: bytes, response: bytes, expires_at_ns: int
    ) -> None:
        self._tx.execute(
            sql.REQUEST_UPSERT, (kind, request_id.encode(), expires_at_ns, fingerprint, response)
        )

    def purge_expired(self, now_ns: int, limit: int) -> int:
        expired = self._tx.execute(sql.REQUEST_EXPIRED, (now_ns, limit)).fetchall()
        for kind, request_id in expired:
            self._tx.execute(sql.REQUEST_DELETE, (kind, request_id))
        return len(expired)


class PgCounters:
    """Named counters: one upsert adds and returns the new value, atomically."""

    def __init__(self, tx: PgTx) -> None:
        self._tx = tx

    def add(self, name: tuple[str, ...], delta: int) -> int:
        return int(self._tx.one(sql.COUNTER_ADD, (pack(*name), delta))[0])


class PgIndexSets:
    """The ``index_sets`` rows. In a write transaction a lock row per kind is taken first,
    so two servers starting at once enable an index one after the other: the second then
    finds it recorded (READ COMMITTED: its next statement sees the first's commit)."""

    def __init__(self, tx: PgTx) -> None:
        self._tx = tx

    def get(self, kind: str) -> tuple[str, ...] | None:
        if self._tx.write:
            self._tx.lock(pack("index_sets", kind))
        row = self._tx.one(sql.INDEX_SET_GET, (kind,))
        return None if row is None else tuple(row[0])

    def put(self, kind: str, names: tuple[str, ...]) -> None:
        self._tx.execute(sql.INDEX_SET_PUT, (kind, list(names)))
