"""The storage seam: what a backend offers the pipeline, in the library's own terms.

Only protocols live here. A backend (``pipeline.storage.lmdb``, ``pipeline.storage.postgres``)
implements them natively: records with their indexes and uniqueness, the change log shared by
every resource kind, ordered child records (a session's messages), remembered requests for
idempotent retries, and named counters. Steps see these typed stores through the unit of work
(:class:`Tx`) a pipeline runs in, never keys, tables, SQL or engine transactions.

Two promises every backend keeps, checked by one contract suite (``tests/pipeline/storage``):

* :meth:`Storage.write` runs its callback in ONE transaction: everything it wrote lands, or
  nothing does. The callback may be run again (after a full LMDB map, a serialization failure
  or a deadlock in PostgreSQL), so it must have no effect outside the transaction; whoever
  needs one after commit registers it (``RequestContext.after_commit``).
* Check-then-write is atomic: what a write transaction read stays true until it commits, as
  far as the API's promises go (one winner of a same-name create, versioned updates never
  lose an update, quotas, transitions, gap-free message sequences). LMDB gets this from its
  single writer; PostgreSQL from row locks and constraints plus re-runs.

Engine exceptions never cross this seam: a backend raises :mod:`pipeline.errors` only
(Unavailable for a lost database, ResourceExhausted for a full disk, Internal otherwise,
with the engine's text in the log and not in the message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from google.protobuf.message import Message

from pipeline.resource import Index, M, ResourceKind

T = TypeVar("T")
E = TypeVar("E", bound=Message)


@dataclass(frozen=True)
class Remembered:
    """A remembered request: when it expires, the fingerprint of the request, its response."""

    expires_at_ns: int
    fingerprint: bytes
    response: bytes


@dataclass(frozen=True)
class StoredChange:
    """One change-log entry as the log keeps it: where it belongs, and the change's bytes."""

    revision: int
    kind: str
    resource_id: str
    org: str
    time_ns: int
    data: bytes


@dataclass
class CheckReport:
    """What a store check found: counts, and one line per problem (empty: healthy)."""

    records: int = 0
    index_entries: int = 0
    children: int = 0
    changes: int = 0
    requests: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class RecordStore(Protocol[M]):
    """The records of one kind, with every index the kind declares kept in step."""

    def get(self, record_id: str) -> M | None:
        """The record, or None. In a write transaction the record stays as read until
        commit (PostgreSQL locks the row): a read-check-write on it is atomic."""
        ...

    def find_unique(self, index: str, values: tuple[str, ...]) -> str | None:
        """The id holding ``values`` in unique ``index``, if any."""
        ...

    def count(self, index: str | None = None, values: tuple[str, ...] = ()) -> int:
        """How many records there are (``index`` None) or have entry ``values`` in ``index``."""
        ...

    def scan_sized(
        self,
        index: str | None = None,
        values: tuple[str, ...] = (),
        *,
        after_id: str | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[M, int]]:
        """(record, stored size in bytes) in id (= creation) order, all records or those
        under ``values`` in ``index``, strictly after ``after_id`` in scan direction."""
        ...

    def put(self, record: M, previous: M | None = None, *, changed: frozenset[str] | None = None) -> None:
        """Store ``record`` (replacing ``previous``, the version stored now, if any) and bring
        its index entries in line (only of the indexes reading a field in ``changed``, when
        the caller knows which fields it changed: see ``pipeline.resource.index_changes``).
        AlreadyExists when a unique entry belongs to another."""
        ...

    def delete(self, record: M) -> None:
        """Remove ``record`` (as stored now) and its index entries."""
        ...

    def build_index(self, index: Index) -> int:
        """Add the entries of ``index``, which the store does not hold yet, for every record
        (an optional index being enabled); returns how many records were read."""
        ...


class ChangeLog(Protocol):
    """The change log every kind shares. Revisions are global, start at 1, and are gap-free
    and in commit order: once revision R is visible, so is every revision below it (a reader
    following "revision > R" never misses one). Every read is filtered by kind."""

    def append(self, event: Message, *, kind: str, resource_id: str, org: str, time_ns: int) -> int:
        """Give ``event`` the next revision (sets its ``revision`` field), store it; returns it."""
        ...

    def restore(self, change: StoredChange) -> None:
        """Put an exported change back at its revision (import into an empty store); the log
        stays strictly increasing (Internal otherwise)."""
        ...

    def set_window(self, *, oldest: int, current: int) -> None:
        """Declare the retained window (after an import whose log was compacted)."""
        ...

    def current_revision(self) -> int: ...

    def oldest_revision(self) -> int:
        """The oldest revision still retained (1 until something is compacted)."""
        ...

    def scan(
        self, *, kind: str, after_revision: int = 0, resource_id: str = "", org: str = ""
    ) -> Iterator[StoredChange]:
        """Changes of ``kind`` after ``after_revision`` in revision order, all or one
        resource's or one org's. Does not check retention: see ``pipeline.events``."""
        ...

    def compact(self, *, below_revision: int, older_than_ns: int | None, limit: int) -> int:
        """Delete up to ``limit`` of the oldest changes, oldest first, stopping at the first
        one that is at or above ``below_revision`` and (when ``older_than_ns`` is given) not
        older than it; moves the oldest revision on; returns how many were deleted."""
        ...


class ChildStore(Protocol):
    """Ordered child records of a resource (a session's messages), numbered 1, 2, 3, ..."""

    def last_sequence(self, kind: str, parent_id: str) -> int: ...

    def append(self, kind: str, parent_id: str, sequence: int, data: bytes) -> None: ...

    def scan(
        self, kind: str, parent_id: str, *, after: int = 0, before: int | None = None, reverse: bool = False
    ) -> Iterator[tuple[int, bytes]]:
        """(sequence, data) strictly between ``after`` and ``before``, in order or reversed."""
        ...

    def delete_all(self, kind: str, parent_id: str) -> int: ...

    def delete_after(self, kind: str, parent_id: str, after: int) -> int:
        """Delete the children with a sequence above ``after`` (a tail of the range: one
        range walk, or one statement); returns how many were deleted."""
        ...

    def parents(self) -> Iterator[tuple[str, str, int]]:
        """(kind, parent id, how many) of every parent that has children (store checks)."""
        ...


class RequestStore(Protocol):
    """Remembered requests, so a retried write returns its first response."""

    def lookup(self, kind: str, request_id: str, now_ns: int) -> Remembered | None:
        """The unexpired entry for ``request_id``, if any."""
        ...

    def remember(
        self, kind: str, request_id: str, *, fingerprint: bytes, response: bytes, expires_at_ns: int
    ) -> None: ...

    def purge_expired(self, now_ns: int, limit: int) -> int:
        """Delete up to ``limit`` expired entries, oldest first; returns how many."""
        ...


class CounterStore(Protocol):
    """Named counters that are not derived from records (e.g. generated names per day)."""

    def add(self, name: tuple[str, ...], delta: int) -> int:
        """Add ``delta``; returns the new value. Concurrent adds never lose one."""
        ...


class IndexSets(Protocol):
    """Which indexes the store holds for each kind, as the last writer of its set left it:
    what a server enabling an optional index compares with, and maintenance reads by."""

    def get(self, kind: str) -> tuple[str, ...] | None:
        """The index names held for ``kind`` (None: never recorded, a store from before).
        In a write transaction concurrent writers of one kind's set run one at a time."""
        ...

    def put(self, kind: str, names: tuple[str, ...]) -> None: ...


class Tx(Protocol):
    """One unit of work: everything a pipeline run may touch, in one transaction."""

    @property
    def changes(self) -> ChangeLog: ...

    @property
    def children(self) -> ChildStore: ...

    @property
    def requests(self) -> RequestStore: ...

    @property
    def counters(self) -> CounterStore: ...

    @property
    def index_sets(self) -> IndexSets: ...

    def records(self, kind: ResourceKind[M]) -> RecordStore[M]: ...

    def is_empty(self) -> bool:
        """No record and no change at all (import needs that)."""
        ...


class Storage(Protocol):
    """A backend: runs units of work, and tells watchers about commits made elsewhere."""

    def read(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in one read-only transaction (a consistent snapshot)."""
        ...

    def write(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in one write transaction, re-running it when the engine asks (see the
        module docstring); commit when it returns, roll back when it raises."""
        ...

    def check(
        self, kinds: Iterable[ResourceKind[Any]], progress: Callable[[int], None] | None = None
    ) -> CheckReport:
        """Read everything the store holds and report what is inconsistent or unreadable.
        ``progress(n)``: n more records or child records read (the calls add up to
        ``records + children`` of the report)."""
        ...

    def reindex(
        self, kinds: Iterable[ResourceKind[Any]], progress: Callable[[int], None] | None = None
    ) -> int:
        """Rebuild every index of ``kinds`` from the records, in one transaction.
        ``progress(n)``: n more records rebuilt (the calls add up to the count returned)."""
        ...

    def follow(self, on_revision: Callable[[int], None]) -> Callable[[], None]:
        """Call ``on_revision`` when another process commits a change (as a wake-up hint:
        watchers then read the log); returns a function that stops it. A backend that cannot
        hear other processes returns a no-op and sets ``poll_s``."""
        ...

    @property
    def poll_s(self) -> float | None:
        """How often watchers should re-read the log on their own (None: wake-ups suffice)."""
        ...

    @property
    def shared(self) -> bool:
        """Whether servers started with other settings may write this store at the same time
        (PostgreSQL replicas, rolled out one by one): every writer then keeps every optional
        index, since one that did not would leave a replica that needs it counting wrong
        (``pipeline.indexes``). An LMDB store has one server (its directory lock), whose
        worker processes share its settings."""
        ...

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every stored row or entry, by table (for tests: "nothing was written" is an equal
        snapshot before and after; and for diagnostics)."""
        ...

    @property
    def description(self) -> str:
        """What this store is, for logs and messages: never a password."""
        ...

    def close(self) -> None: ...
