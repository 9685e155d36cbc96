"""The watch loop, driven directly (no gRPC): order, exactly-once, bookmarks, lag, stop."""

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import pytest

from pipeline import events
from pipeline.errors import OutOfRange, ResourceExhausted
from pipeline.events import EventHub
from pipeline.storage import Storage, Tx
from pipeline.watch import WatchFilter, WatchItem, watch
from stigmer_sessions.api import SessionChange

T = TypeVar("T")


def write(store: Storage, hub: EventHub, resource_id: str = "a", org: str = "acme", type_: str = "X") -> int:
    def body(txn: Tx) -> int:
        change = SessionChange(type=type_, resource_id=resource_id, org=org)
        return txn.changes.append(
            change, kind="session", resource_id=resource_id, org=org, time_ns=change.time.ToNanoseconds()
        )

    revision = store.write(body)
    hub.publish(revision)
    return revision


def take(items: Iterator[WatchItem], n: int) -> list[WatchItem]:
    return [next(items) for _ in range(n)]


def test_from_revision_then_new_writes_in_order(store: Storage) -> None:
    hub = EventHub()
    for _ in range(3):
        write(store, hub)
    items = watch(store, hub, SessionChange, kind="session", after_revision=1, bookmark_interval_s=60)
    assert [i.revision for i in take(items, 2)] == [2, 3]
    threading.Timer(0.05, lambda: [write(store, hub) for _ in range(3)]).start()
    assert [i.revision for i in take(items, 3)] == [4, 5, 6]


def test_filters_and_bookmarks_carry_the_scanned_revision(store: Storage) -> None:
    hub = EventHub()
    write(store, hub, resource_id="a")
    write(store, hub, resource_id="b")
    write(store, hub, resource_id="a", type_="Y")
    where = WatchFilter(resource_id="a", types=frozenset({"X"}))
    items = watch(store, hub, SessionChange, kind="session", where=where, bookmark_interval_s=0.05)
    first, bookmark = take(items, 2)
    assert (first.revision, first.change is not None) == (1, True)
    assert (bookmark.revision, bookmark.change) == (3, None)  # all of 1..3 considered


def test_resume_from_a_bookmark_loses_and_duplicates_nothing(store: Storage) -> None:
    hub = EventHub()
    write(store, hub)
    items = watch(store, hub, SessionChange, kind="session", bookmark_interval_s=0.05)
    seen = [take(items, 1)[0].revision]
    bookmark = take(items, 1)[0]
    assert bookmark.change is None
    for _ in range(3):
        write(store, hub)
    resumed = watch(store, hub, SessionChange, kind="session", after_revision=bookmark.revision)
    seen += [i.revision for i in take(resumed, 3)]
    assert seen == [1, 2, 3, 4]


def test_from_now_skips_history(store: Storage) -> None:
    hub = EventHub()
    write(store, hub)
    items = watch(store, hub, SessionChange, kind="session", from_now=True, bookmark_interval_s=60)
    threading.Timer(0.05, lambda: write(store, hub)).start()
    assert take(items, 1)[0].revision == 2


def test_a_watcher_too_far_behind_is_exhausted_without_blocking_writers(store: Storage) -> None:
    hub = EventHub()
    write(store, hub)
    items = watch(store, hub, SessionChange, kind="session", max_lag=5, batch=2)
    assert take(items, 1)[0].revision == 1  # then the consumer stalls
    for _ in range(20):
        write(store, hub)  # writers go on regardless
    with pytest.raises(ResourceExhausted, match="resume from revision"):
        take(items, 5)


def test_compacted_start_is_out_of_range(store: Storage) -> None:
    hub = EventHub()
    for _ in range(5):
        write(store, hub)
    events.compact(store, keep_revisions=2, now_ns=0)
    with pytest.raises(OutOfRange):
        next(watch(store, hub, SessionChange, kind="session", after_revision=1))


def test_a_start_past_the_current_revision_is_out_of_range(store: Storage) -> None:
    # It used to wait, then bookmark that future revision: a client resuming from the
    # bookmark would skip every change up to it.
    hub = EventHub()
    for _ in range(3):
        write(store, hub)
    with pytest.raises(OutOfRange, match="past the current revision 3"):
        next(watch(store, hub, SessionChange, kind="session", after_revision=1000, bookmark_interval_s=0))


def test_stop_ends_the_watch(store: Storage) -> None:
    hub = EventHub()
    stop = threading.Event()
    items = watch(store, hub, SessionChange, kind="session", stop=stop, bookmark_interval_s=60)

    def stop_now() -> None:
        stop.set()
        hub.wake()

    threading.Timer(0.05, stop_now).start()
    assert list(items) == []


class RecordingStore:
    """A store that remembers what each read returned (the watch loop's batches)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.results: list[Any] = []

    def read(self, fn: Callable[[Tx], T]) -> T:
        result = self.inner.read(fn)
        self.results.append(result)
        return result

    def write(self, fn: Callable[[Tx], T]) -> T:
        return self.inner.write(fn)

    def close(self) -> None:
        self.inner.close()


def test_batches_are_bounded_in_bytes_and_deliver_everything_once_in_order(store: Storage) -> None:
    hub = EventHub()
    sizes = [3000, 1000, 20_000, 500, 2500, 2500, 2500, 100, 4000, 1000]  # the 3rd alone is over budget
    for i, size in enumerate(sizes):
        write(store, hub, resource_id=f"r{i}", type_="X" * size)
    budget = 8 * 1024
    recording = RecordingStore(store)
    items = watch(
        cast(Storage, recording),  # only read is used
        hub,
        SessionChange,
        kind="session",
        batch_bytes=budget,
        bookmark_interval_s=60,
    )
    assert [i.revision for i in take(items, len(sizes))] == list(range(1, len(sizes) + 1))
    batches = [r[0] for r in recording.results if isinstance(r, tuple) and isinstance(r[0], list)]
    assert len(batches) > 2
    for batch in batches:
        assert sum(c.ByteSize() for c in batch) <= budget or len(batch) == 1
    assert [c.revision for batch in batches for c in batch] == list(range(1, len(sizes) + 1))
