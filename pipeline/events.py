"""The change log: every mutation appends an event in the mutation's own transaction.

Revisions are global, gap-free and strictly increasing because LMDB runs one write
transaction at a time and the counter is read and bumped inside it: an aborted write takes
its revision with it. Layout of the ``events`` table (revisions as 8-byte big-endian, so key
order is revision order):

==========================================  =====================================
``0x00 "current"`` / ``0x00 "oldest"``      latest revision / oldest retained one
``0x01 rev``                                the serialized event
``0x02 pack(kind, resource id) rev``        index: changes of one resource
``0x03 pack(org) rev``                      index: changes in one org
==========================================  =====================================

:class:`EventHub` lets watchers sleep until a commit moves the revision on; they then read
the log itself, so delivery order and exactly-once come from the log, not from the hub.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline.errors import Internal, OutOfRange
from pipeline.keycodec import pack
from pipeline.store import Store, Table, Transaction

_REV = struct.Struct(">Q")
_CURRENT = b"\x00current"
_OLDEST = b"\x00oldest"
_LOG = b"\x01"
_BY_RESOURCE = b"\x02"
_BY_ORG = b"\x03"


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int(_REV.unpack(raw)[0])


def current_revision(txn: Transaction) -> int:
    return _int(txn.get(Table.EVENTS, _CURRENT))


def oldest_revision(txn: Transaction) -> int:
    """The oldest revision still retained (1 until something is compacted)."""
    return max(_int(txn.get(Table.EVENTS, _OLDEST)), 1)


def append(
    txn: Transaction, event: Any, *, kind: str, resource_id: str, org: str, revision: int | None = None
) -> int:
    """Give ``event`` the next revision (sets its ``revision`` field), store it and its index
    entries; returns the revision. ``revision`` places it at a given later position instead
    (restoring an export); the log stays strictly increasing."""
    current = current_revision(txn)
    if revision is None:
        revision = current + 1
    elif revision <= current:
        raise Internal(f"revision {revision} is not after the current revision {current}")
    event.revision = revision
    rev = _REV.pack(revision)
    txn.put(Table.EVENTS, _LOG + rev, event.SerializeToString())
    txn.put(Table.EVENTS, _BY_RESOURCE + pack(kind, resource_id) + rev, b"")
    txn.put(Table.EVENTS, _BY_ORG + pack(org) + rev, b"")
    txn.put(Table.EVENTS, _CURRENT, rev)
    return revision


def set_window(txn: Transaction, *, oldest: int, current: int) -> None:
    """Declare the retained window (after restoring an export whose log was compacted)."""
    txn.put(Table.EVENTS, _OLDEST, _REV.pack(max(oldest, 1)))
    txn.put(Table.EVENTS, _CURRENT, _REV.pack(current))


def check_retained(txn: Transaction, after_revision: int) -> None:
    """OutOfRange when events just after ``after_revision`` were compacted away, or when it
    is past the current revision (no response names such a revision: a client's mistake, or
    a store restored from an older snapshot; waiting for it would skip every change up to
    it). Revision 0 means "from the oldest retained" and is always fine."""
    current = current_revision(txn)
    if after_revision > current:
        raise OutOfRange(
            f"after_revision {after_revision} is past the current revision {current}; re-list, "
            f"then watch from the current revision"
        )
    oldest = oldest_revision(txn)
    if after_revision and after_revision + 1 < oldest:
        raise OutOfRange(
            f"changes after revision {after_revision} have been compacted; the oldest available "
            f"revision is {oldest} (current: {current_revision(txn)}); re-list, then watch from "
            f"the current revision"
        )


def scan(
    txn: Transaction,
    event_type: type[Message],
    *,
    after_revision: int = 0,
    kind: str = "",
    resource_id: str = "",
    org: str = "",
) -> Iterator[Any]:
    """Events after ``after_revision`` in revision order: all, or one resource's (kind +
    resource_id), or one org's, read from the matching index."""
    for event, _ in scan_sized(
        txn, event_type, after_revision=after_revision, kind=kind, resource_id=resource_id, org=org
    ):
        yield event


def scan_sized(
    txn: Transaction,
    event_type: type[Message],
    *,
    after_revision: int = 0,
    kind: str = "",
    resource_id: str = "",
    org: str = "",
) -> Iterator[tuple[Any, int]]:
    """:func:`scan`, each event with the length of its stored bytes (what it serializes to),
    so pages and watch batches can be bounded in bytes at no extra cost."""
    check_retained(txn, after_revision)
    start = _REV.pack(after_revision)
    if resource_id:
        prefix = _BY_RESOURCE + pack(kind, resource_id)
    elif org:
        prefix = _BY_ORG + pack(org)
    else:
        for _, raw in txn.scan(Table.EVENTS, _LOG, after=_LOG + start):
            yield event_type.FromString(raw), len(raw)
        return
    for key, _ in txn.scan(Table.EVENTS, prefix, after=prefix + start):
        stored = txn.get(Table.EVENTS, _LOG + key[-_REV.size :])
        if stored is None:
            raise Internal(f"change index points to missing revision {_REV.unpack(key[-_REV.size :])[0]}")
        yield event_type.FromString(stored), len(stored)


@dataclass(frozen=True)
class CompactionResult:
    deleted: int
    oldest_revision: int


def compact(
    store: Store,
    event_type: type[Message],
    *,
    keep_revisions: int | None = None,
    max_age_ns: int | None = None,
    now_ns: int,
    resource_kind_of: Callable[[Any], tuple[str, str, str]],
    batch: int = 1000,
) -> CompactionResult:
    """Delete events beyond the retention: keep at most ``keep_revisions`` newest, and none
    older than ``max_age_ns``. Works in batches of ``batch`` events, one write transaction
    each, so writers are never held up for long. ``resource_kind_of(event)`` returns the
    (kind, resource id, org) the event was indexed under."""
    deleted = 0
    while True:

        def one_batch(txn: Transaction) -> tuple[int, int]:
            current, oldest = current_revision(txn), oldest_revision(txn)
            cutoff = current - keep_revisions if keep_revisions is not None else 0
            count = 0
            for key, raw in txn.scan(Table.EVENTS, _LOG, after=_LOG + _REV.pack(oldest - 1)):
                revision = _REV.unpack(key[1:])[0]
                event = event_type.FromString(raw)
                too_old = max_age_ns is not None and event.time.ToNanoseconds() < now_ns - max_age_ns  # type: ignore[attr-defined]
                if (revision > cutoff and not too_old) or count >= batch:
                    break
                kind, resource_id, org = resource_kind_of(event)
                rev = _REV.pack(revision)
                txn.delete(Table.EVENTS, key)
                txn.delete(Table.EVENTS, _BY_RESOURCE + pack(kind, resource_id) + rev)
                txn.delete(Table.EVENTS, _BY_ORG + pack(org) + rev)
                oldest = revision + 1
                count += 1
            if count:
                txn.put(Table.EVENTS, _OLDEST, _REV.pack(oldest))
            return count, oldest

        count, oldest = store.write(one_batch)
        deleted += count
        if count < batch:
            return CompactionResult(deleted, oldest)


class EventHub:
    """Where committed revisions are announced, so watchers can sleep until there is news.

    ``publish`` is O(1) and never blocks on watchers: a slow watcher cannot slow a writer.
    """

    def __init__(self, revision: int = 0) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._revision = revision

    @property
    def revision(self) -> int:
        return self._revision

    def publish(self, revision: int) -> None:
        with self._cond:
            self._revision = max(self._revision, revision)
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake every waiter (e.g. to let a cancelled watcher notice)."""
        with self._cond:
            self._cond.notify_all()

    def wait_after(self, revision: int, timeout: float, stop: threading.Event | None = None) -> bool:
        """Sleep until the revision passes ``revision``, ``timeout`` elapses or ``stop`` is
        set; True when there is something new."""
        with self._cond:
            if self._revision <= revision and not (stop and stop.is_set()):
                self._cond.wait(timeout)
            return self._revision > revision


class LogCheck:
    """Checks the change log while ``verify`` reads the ``events`` table item by item:
    every entry parses and carries its own revision, the revisions run gap-free from the
    oldest retained to the ``current`` marker, and every index entry points to a retained
    entry that belongs to it (and each entry has both of its index entries). Keeps only
    small facts per entry, so it works on logs of any length."""

    def __init__(self, event_types: dict[str, type[Message]]) -> None:
        self._types = event_types
        self.problems: list[str] = []
        self.entries = 0
        self._markers: dict[bytes, int] = {}
        self._revisions: set[int] = set()
        self._expected_index: set[bytes] = set()
        self._index: dict[bytes, int] = {}

    def visit(self, key: bytes, value: bytes) -> None:
        if key in (_CURRENT, _OLDEST):
            if len(value) != _REV.size:
                self.problems.append(f"change log: marker {key[1:].decode()} is corrupt ({value!r})")
            else:
                self._markers[key] = _int(value)
        elif key[:1] == _LOG and len(key) == 1 + _REV.size:
            self._visit_entry(_int(key[1:]), value)
        elif key[:1] in (_BY_RESOURCE, _BY_ORG) and len(key) > _REV.size:
            self._index[key] = _int(key[-_REV.size :])
        else:
            self.problems.append(f"change log: unexpected key {key!r}")

    def _visit_entry(self, revision: int, value: bytes) -> None:
        self.entries += 1
        self._revisions.add(revision)
        for kind, event_type in self._types.items():
            try:
                event: Any = event_type.FromString(value)
            except Exception:  # DecodeError: try the next kind's type
                continue
            if event.revision != revision:
                self.problems.append(f"change log: entry {revision} says it is revision {event.revision}")
            rev = _REV.pack(revision)
            self._expected_index.add(_BY_RESOURCE + pack(kind, event.resource_id) + rev)
            self._expected_index.add(_BY_ORG + pack(event.org) + rev)
            return
        self.problems.append(f"change log: entry {revision} cannot be parsed")

    def finish(self) -> list[list[str]]:
        """The problems found, once every item has been visited, grouped by kind of problem
        (one damaged page can cause thousands of one kind: callers may shorten each group)."""
        current = self._markers.get(_CURRENT, 0)
        oldest = max(self._markers.get(_OLDEST, 1), 1)
        chain: list[str] = []
        missing = [r for r in range(oldest, current + 1) if r not in self._revisions]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            chain.append(
                f"change log: {len(missing)} revisions missing between {oldest} and {current}: {shown}"
            )
        outside = sorted(r for r in self._revisions if not oldest <= r <= current)
        if outside:
            chain.append(
                f"change log: {len(outside)} entries outside the window {oldest}..{current} "
                f"(the current marker does not match the last entry {max(self._revisions)})"
            )
        dangling = [
            f"change log: index entry {key!r} points to missing revision {revision}"
            for key, revision in sorted(self._index.items())
            if revision not in self._revisions
        ]
        foreign = [
            f"change log: index entry {key!r} does not match revision {revision}"
            for key, revision in sorted(self._index.items())
            if revision in self._revisions and key not in self._expected_index
        ]
        unindexed = [
            f"change log: revision {_int(key[-_REV.size :])} is missing its index entry {key!r}"
            for key in sorted(self._expected_index - self._index.keys())
        ]
        return [self.problems, chain, dangling, foreign, unindexed]
