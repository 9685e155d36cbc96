"""Following the change log: every later change exactly once, in order, with bookmarks.

A watcher reads the log itself (in a read transaction, a batch at a time) and sleeps on the
:class:`~pipeline.events.EventHub` between commits. Order and exactly-once therefore come
from the log. Memory per watcher is one batch: at most ``batch`` changes and, beyond its
first change, ``batch_bytes`` bytes of them. Writers never wait for watchers. A watcher is
held to a bound instead: if it falls more than ``max_lag`` revisions behind the head (its
consumer stopped reading), it is ended with ResourceExhausted and can resume from the last
revision it received. A watcher whose position was compacted away gets OutOfRange.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline import events
from pipeline.errors import ResourceExhausted
from pipeline.events import EventHub
from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES, fill_page
from pipeline.storage import Storage, Tx

DEFAULT_BOOKMARK_INTERVAL_S = 5.0
DEFAULT_MAX_LAG = 10_000
DEFAULT_BATCH = 256
#: A batch (what one read transaction loads, and a watcher holds) stops before this many
#: bytes of changes, so a watcher's memory is bounded however large the changes are.
DEFAULT_BATCH_BYTES = DEFAULT_MAX_RESPONSE_BYTES


@dataclass(frozen=True)
class WatchItem:
    """A change, or (``change`` None) a bookmark: everything up to ``revision`` considered."""

    revision: int
    change: Any | None = None


@dataclass(frozen=True)
class WatchFilter:
    resource_id: str = ""
    org: str = ""
    types: frozenset[str] = frozenset()
    #: Only changes of these orgs (None: every org): what the watcher may read.
    orgs: frozenset[str] | None = None


def watch(
    storage: Storage,
    hub: EventHub,
    event_type: type[Message],
    *,
    kind: str,
    after_revision: int = 0,
    from_now: bool = False,
    where: WatchFilter = WatchFilter(),
    bookmark_interval_s: float = DEFAULT_BOOKMARK_INTERVAL_S,
    max_lag: int = DEFAULT_MAX_LAG,
    batch: int = DEFAULT_BATCH,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    poll_s: float | None = None,
) -> Iterator[WatchItem]:
    """Yield changes after ``after_revision`` (or after the head, ``from_now``) that match
    ``where``, then keep following, until ``stop`` is set or the consumer stops iterating.
    Raises OutOfRange (before yielding anything) for a compacted start. ``poll_s`` also
    re-reads the log at least that often: for commits by other processes, which the
    in-process hub does not hear about."""
    if from_now:
        last = storage.read(lambda tx: tx.changes.current_revision())
    else:
        last = after_revision
        storage.read(lambda tx: events.check_retained(tx.changes, after_revision))
    quiet_since = clock()

    def read_batch(tx: Tx) -> tuple[list[Any], bool, int]:
        scan = events.scan_visible(
            tx,
            event_type,
            kind=kind,
            orgs=where.orgs,
            after_revision=last,
            resource_id=where.resource_id,
            org=where.org,
        )
        found, more = fill_page(scan, page_size=batch, max_bytes=batch_bytes)
        return found, more, tx.changes.current_revision()

    while not (stop and stop.is_set()):
        found, more, head = storage.read(read_batch)
        for at, change in enumerate(found):
            last = change.revision
            if where.types and change.type not in where.types:
                continue
            yield WatchItem(change.revision, change)
            quiet_since = clock()
            # How far behind: what this watcher still has to take. Within a batch that reached
            # the head, exactly the rest of the batch (other orgs' changes, which a filtered
            # watcher never sees, do not count); past a full batch, at most the head's lead.
            behind = hub.revision - last if more else len(found) - at - 1
            if behind > max_lag:
                raise ResourceExhausted(
                    f"watcher fell more than {max_lag} changes behind; resume from revision {last}"
                )
        if more:
            continue  # more already waiting
        last = max(last, head)  # the scan covered every change up to the head it saw
        wait = bookmark_interval_s - (clock() - quiet_since)
        if wait <= 0:
            yield WatchItem(last)
            quiet_since = clock()
            continue
        hub.wait_after(last, wait if poll_s is None else min(wait, poll_s), stop)
