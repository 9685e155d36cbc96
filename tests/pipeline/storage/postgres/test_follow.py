"""Watchers of one replica hear commits made through another (LISTEN/NOTIFY), and keep hearing
them after the database dropped their listening connection."""

from __future__ import annotations

import contextlib
import queue
import threading

from pipeline.storage.postgres import PostgresStorage
from pipeline.storage.postgres.stores import PgTx
from stigmer_sessions.api import SessionChange
from tests.pipeline.storage.postgres.conftest import (
    StorageFactory,
    create_schema,
    drop_schema,
    terminate_backends,
)

WAIT_S = 30.0  # a bound against hanging, not a latency claim


def append(tx: PgTx) -> int:
    return tx.changes.append(SessionChange(), kind="session", resource_id="ses-1", org="acme", time_ns=1)


def next_at_least(heard: queue.Queue[int], revision: int) -> int:
    while True:
        got = heard.get(timeout=WAIT_S)
        if got >= revision:
            return got


def until_connected(storage: PostgresStorage, heard: queue.Queue[int]) -> None:
    """Write until the follower (which connects in the background) hears a commit; bounded:
    50 writes of 0.2 s each."""
    for _ in range(50):
        storage.write(append)
        try:
            heard.get(timeout=0.2)
            return
        except queue.Empty:
            continue


def test_a_commit_on_one_replica_wakes_a_follower_on_another(open_storage: StorageFactory) -> None:
    a: PostgresStorage = open_storage()
    b: PostgresStorage = open_storage(migrate=False)
    heard: queue.Queue[int] = queue.Queue()
    stop = b.follow(heard.put)
    try:
        assert b.poll_s == 1.0  # notifications only wake: watchers poll the log as well
        for _ in range(50):  # the listener connects in the background: until it hears one
            revision = a.write(append)
            try:
                assert heard.get(timeout=0.2) >= 1
                break
            except queue.Empty:
                continue
        revision = a.write(append)
        assert next_at_least(heard, revision) == revision
    finally:
        stop()


def test_a_rolled_back_write_notifies_nobody(open_storage: StorageFactory) -> None:
    a = open_storage()
    heard: queue.Queue[int] = queue.Queue()
    stop = a.follow(heard.put)
    try:
        until_connected(a, heard)
        while not heard.empty():
            heard.get()

        def append_then_fail(tx: PgTx) -> None:
            append(tx)
            raise RuntimeError("abort")

        with contextlib.suppress(RuntimeError):
            a.write(append_then_fail)
        committed = a.write(append)
        assert heard.get(timeout=WAIT_S) == committed  # nothing announced the rolled-back one
    finally:
        stop()


def test_the_follower_reconnects_and_announces_the_current_revision(
    pg_schema: tuple[str, str], open_storage: StorageFactory
) -> None:
    a = open_storage()
    heard: queue.Queue[int] = queue.Queue()
    stop = a.follow(heard.put)
    try:
        until_connected(a, heard)
        assert terminate_backends(pg_schema[0]) >= 1  # the pool's and the listener's
        missed = a.write(append)  # may commit while the listener is away: announced on return
        assert next_at_least(heard, missed) >= missed
        later = a.write(append)
        assert next_at_least(heard, later) == later
    finally:
        stop()


def test_a_failing_callback_does_not_stop_the_follower(open_storage: StorageFactory) -> None:
    a = open_storage()
    heard: queue.Queue[int] = queue.Queue()
    calls = 0

    def flaky(revision: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a watcher's bug")
        heard.put(revision)

    stop = a.follow(flaky)
    try:
        until_connected(a, heard)
        assert calls >= 2
        later = a.write(append)
        assert next_at_least(heard, later) == later
    finally:
        stop()


def test_stores_in_other_schemas_of_the_database_do_not_wake_this_one(open_storage: StorageFactory) -> None:
    mine = open_storage()
    name, dsn = create_schema()
    try:
        theirs = open_storage(dsn=dsn)
        assert theirs.channel != mine.channel
        heard: queue.Queue[int] = queue.Queue()
        stop = mine.follow(heard.put)
        try:
            until_connected(mine, heard)
            while not heard.empty():
                heard.get()
            for _ in range(5):
                theirs.write(append)
            own = mine.write(append)
            assert heard.get(timeout=WAIT_S) == own  # the first thing heard is our own commit
        finally:
            stop()
    finally:
        drop_schema(name)


def test_closing_the_storage_stops_its_followers(open_storage: StorageFactory) -> None:
    # A controller that is never closed leaves its follower running; closing the storage
    # must still end it, or its listener reconnects on a connection of its own forever
    # (and a process that opens many storages runs the database out of connections).
    a = open_storage()
    before = set(threading.enumerate())
    a.follow(lambda revision: None)
    (listener,) = [t for t in set(threading.enumerate()) - before if t.name == "stigmer-pg-follow"]
    a.close()
    assert not listener.is_alive()
