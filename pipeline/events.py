"""The change log, generically: retention, typed reads, compaction, and the hub watchers sleep on.

Every mutation appends a change in the mutation's own transaction through the backend's
:class:`~pipeline.storage.ChangeLog`, which keeps revisions global, gap-free and in commit
order, and files each change under its kind: every read here is of one kind, so kinds that
share a store never see each other's changes. This module turns stored changes back into
the kind's change type, refuses reads of compacted or future revisions, and compacts in
batches.

:class:`EventHub` lets watchers sleep until a commit moves the revision on; they then read
the log itself, so delivery order and exactly-once come from the log, not from the hub.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline.errors import Internal, OutOfRange
from pipeline.ids import new_id
from pipeline.resource import ResourceKind, reference
from pipeline.storage import ChangeLog, Storage, StoredChange, Tx


def record(
    tx: Tx,
    kind: ResourceKind[Any],
    resource: Any,
    verb: str,
    *,
    actor: str,
    now_ns: int,
    request_id: str = "",
    caused_by: str = "",
    reason: str = "",
    impersonated_by: str = "",
    children: Sequence[Message] = (),
    detail: Message | None = None,
) -> Any:
    """Append one ``kind.event_type`` change of type ``<Kind><verb>`` carrying ``resource`` at
    the next revision, in ``tx``, and return it (with its revision). ``caused_by`` defaults to
    the request id; ``impersonated_by`` is the principal that acted for ``actor``, if any.
    With ``children`` (a change about child records the write stored, e.g. messages
    appended) the change carries them in ``kind.event_child_field`` (a repeated field) and
    only a :func:`reference` to the resource: a small change, where a copy of a large
    resource would dominate the write. ``detail`` (a message of the change's own type) is
    merged in last: what only this kind of change says (e.g. which messages a removal
    removed). Internal when the kind records no changes (or cannot record an impersonation
    or children)."""
    event_type = kind.event_type
    if event_type is None:
        raise Internal(f"{kind.name} has no change type; its changes cannot be recorded")
    event: Any = event_type(
        id=new_id("chg", now_ns),
        type=f"{kind.kind}{verb}",
        resource_kind=kind.name,
        resource_id=resource.metadata.id,
        org=resource.metadata.org,
        actor_id=actor,
        request_id=request_id,
        caused_by=caused_by or request_id,
        reason=reason,
    )
    if impersonated_by:  # someone acted for the actor: a kind's change type must say who
        if "impersonated_by" not in event.DESCRIPTOR.fields_by_name:
            raise Internal(f"{kind.name}'s change type cannot record who impersonated its actor")
        event.impersonated_by = impersonated_by
    event.time.FromNanoseconds(now_ns)
    if not children:
        getattr(event, kind.event_resource_field).CopyFrom(resource)
    else:
        if not kind.event_child_field:
            raise Internal(f"{kind.name}'s change type has no field for child records")
        getattr(event, kind.event_resource_field).CopyFrom(reference(resource))
        getattr(event, kind.event_child_field).extend(children)
    if detail is not None:
        event.MergeFrom(detail)
    tx.changes.append(
        event, kind=kind.name, resource_id=resource.metadata.id, org=resource.metadata.org, time_ns=now_ns
    )
    return event


def check_retained(changes: ChangeLog, after_revision: int) -> None:
    """OutOfRange when changes just after ``after_revision`` were compacted away, or when it
    is past the current revision (no response names such a revision: a client's mistake, or
    a store restored from an older snapshot; waiting for it would skip every change up to
    it). Revision 0 means "from the oldest retained" and is always fine."""
    current = changes.current_revision()
    if after_revision > current:
        raise OutOfRange(
            f"after_revision {after_revision} is past the current revision {current}; re-list, "
            f"then watch from the current revision"
        )
    oldest = changes.oldest_revision()
    if after_revision and after_revision + 1 < oldest:
        raise OutOfRange(
            f"changes after revision {after_revision} have been compacted; the oldest available "
            f"revision is {oldest} (current: {current}); re-list, then watch from "
            f"the current revision"
        )


def parse(event_type: type[Message], stored: StoredChange) -> Any:
    """The kind's change message of a stored change (Internal if its bytes do not parse)."""
    try:
        return event_type.FromString(stored.data)
    except Exception as exc:  # DecodeError: a corrupt entry is our fault, not the caller's
        raise Internal(f"{stored.kind} change {stored.revision} is corrupt") from exc


def scan(
    tx: Tx,
    event_type: type[Message],
    *,
    kind: str,
    after_revision: int = 0,
    resource_id: str = "",
    org: str = "",
) -> Iterator[Any]:
    """Changes of ``kind`` after ``after_revision`` in revision order: all, one resource's
    or one org's, as ``event_type`` messages."""
    for event, _ in scan_sized(
        tx, event_type, kind=kind, after_revision=after_revision, resource_id=resource_id, org=org
    ):
        yield event


def scan_sized(
    tx: Tx,
    event_type: type[Message],
    *,
    kind: str,
    after_revision: int = 0,
    resource_id: str = "",
    org: str = "",
) -> Iterator[tuple[Any, int]]:
    """:func:`scan`, each change with the length of its stored bytes (what it serializes
    to), so pages and watch batches can be bounded in bytes at no extra cost. Checks
    retention first (:func:`check_retained`)."""
    changes = tx.changes
    check_retained(changes, after_revision)
    for stored in changes.scan(kind=kind, after_revision=after_revision, resource_id=resource_id, org=org):
        yield parse(event_type, stored), len(stored.data)


def scan_visible(
    tx: Tx,
    event_type: type[Message],
    *,
    kind: str,
    orgs: frozenset[str] | None,
    after_revision: int = 0,
    resource_id: str = "",
    org: str = "",
) -> Iterator[tuple[Any, int]]:
    """:func:`scan_sized` restricted to the changes of ``orgs`` (None: no restriction), for
    a caller who may read only those: one resource's changes are filtered by their org; the
    whole feed is read org by org from the per-org index and merged in revision order, so
    no other org's change is even read. ``org``, when given, must already be authorized, and
    is a filter of its own: with ``resource_id`` too, only that resource's changes in ``org``
    (a resource of another org has none there)."""
    if orgs is None or org:
        found = scan_sized(
            tx, event_type, kind=kind, after_revision=after_revision, resource_id=resource_id, org=org
        )
        if org and resource_id:  # read from the resource's index, which knows no org: filter
            return ((event, size) for event, size in found if event.org == org)
        return found
    if resource_id:
        scan = scan_sized(tx, event_type, kind=kind, after_revision=after_revision, resource_id=resource_id)
        return ((event, size) for event, size in scan if event.org in orgs)
    check_retained(tx.changes, after_revision)
    return heapq.merge(
        *(
            scan_sized(tx, event_type, kind=kind, after_revision=after_revision, org=one)
            for one in sorted(orgs)
        ),
        key=lambda entry: int(entry[0].revision),
    )


@dataclass(frozen=True)
class CompactionResult:
    deleted: int
    oldest_revision: int


def compact(
    storage: Storage,
    *,
    keep_revisions: int | None = None,
    max_age_ns: int | None = None,
    now_ns: int,
    batch: int = 1000,
) -> CompactionResult:
    """Delete changes (of every kind: the log is shared) beyond the retention: keep at most
    ``keep_revisions`` newest, and none older than ``max_age_ns``. Works in batches of
    ``batch`` changes, one write transaction each, so writers are never held up for long."""
    older_than_ns = None if max_age_ns is None else now_ns - max_age_ns
    deleted = 0
    while True:

        def one_batch(tx: Tx) -> tuple[int, int]:
            changes = tx.changes
            below = changes.current_revision() - keep_revisions + 1 if keep_revisions is not None else 1
            count = changes.compact(below_revision=below, older_than_ns=older_than_ns, limit=batch)
            return count, changes.oldest_revision()

        count, oldest = storage.write(one_batch)
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
