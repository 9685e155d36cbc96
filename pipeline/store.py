"""The store: a transactional, ordered key/value space, and its embedded LMDB implementation.

Pipelines never see LMDB. They get a :class:`Transaction` with get/put/delete/scan over a
few fixed tables, opened by :meth:`Store.read` or :meth:`Store.write`, which run a callback
inside one transaction: committed when the callback returns, aborted when it raises. That
callback shape is what lets the store retry a write after growing a full map, transparently.

LMDB facts this module relies on (see the py-lmdb docs):

* one environment per process and path; threads share it (``MDB_NOTLS`` is always set by
  py-lmdb, so a read transaction is not tied to its thread);
* one write transaction at a time: LMDB serialises writers, which makes every command
  pipeline's check-then-write atomic;
* ``set_mapsize`` is only legal while this process has no open transaction, hence the gate.
"""

from __future__ import annotations

import enum
import logging
import os
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

import lmdb

from pipeline.errors import FailedPrecondition, Internal

T = TypeVar("T")
_log = logging.getLogger(__name__)
_COUNTER = struct.Struct("<q")


class Table(enum.Enum):
    """The named sub-databases of a store."""

    RECORDS = "records"  # pack(kind, id) -> serialized message
    INDEX = "index"  # pack(kind, index, *values, id) -> id
    UNIQUE = "unique"  # pack(kind, index, *values) -> id
    COUNTERS = "counters"  # pack(kind[, index, *values]) -> int64
    REQUESTS = "requests"  # remembered requests for idempotent retries, plus their expiry index
    EVENTS = "events"  # the change log and its indexes (pipeline.events)
    CHILDREN = "children"  # ordered child records of a resource, e.g. messages (pipeline.children)


class Transaction(Protocol):
    """What a pipeline may do inside one store transaction."""

    def get(self, table: Table, key: bytes) -> bytes | None: ...

    def put(self, table: Table, key: bytes, value: bytes) -> None: ...

    def delete(self, table: Table, key: bytes) -> bool: ...

    def scan(
        self, table: Table, prefix: bytes, *, after: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with ``prefix``, in key order (or reversed), strictly after
        ``after`` in that order when given."""
        ...

    def add(self, table: Table, key: bytes, delta: int) -> int:
        """Add ``delta`` to the int64 counter at ``key``; returns the new value (0 deletes it)."""
        ...

    def counter(self, table: Table, key: bytes) -> int: ...


class Store(Protocol):
    """A transactional store. ``write`` callbacks may be re-run, so they must not have side
    effects outside the transaction."""

    def read(self, fn: Callable[[Transaction], T]) -> T: ...

    def write(self, fn: Callable[[Transaction], T]) -> T: ...

    def close(self) -> None: ...


class _LmdbTransaction:
    __slots__ = ("_dbs", "_txn")

    def __init__(self, txn: lmdb.Transaction, dbs: dict[Table, lmdb._Database]) -> None:
        self._txn = txn
        self._dbs = dbs

    def get(self, table: Table, key: bytes) -> bytes | None:
        return self._txn.get(key, db=self._dbs[table])  # type: ignore[return-value]  # bytes: buffers=False

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        self._txn.put(key, value, db=self._dbs[table])

    def delete(self, table: Table, key: bytes) -> bool:
        return bool(self._txn.delete(key, db=self._dbs[table]))

    def add(self, table: Table, key: bytes, delta: int) -> int:
        value = self.counter(table, key) + delta
        if value:
            self._txn.put(key, _COUNTER.pack(value), db=self._dbs[table])
        else:
            self._txn.delete(key, db=self._dbs[table])
        return value

    def counter(self, table: Table, key: bytes) -> int:
        raw = self._txn.get(key, db=self._dbs[table])
        return 0 if raw is None else int(_COUNTER.unpack(raw)[0])

    def scan(
        self, table: Table, prefix: bytes, *, after: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        cursor = self._txn.cursor(db=self._dbs[table])
        if reverse:
            start = after if after is not None else _successor(prefix)
            if start is None:
                found = cursor.last()
            elif cursor.set_range(start):
                found = cursor.prev()  # the first key below start
            else:
                found = cursor.last()  # every key is below start
            step = cursor.prev
        else:
            found = cursor.set_range(prefix if after is None else after)
            if found and after is not None and cursor.key() == after:
                found = cursor.next()
            step = cursor.next
        while found:
            key: bytes = cursor.key()  # type: ignore[assignment]  # bytes: buffers=False
            if not key.startswith(prefix):
                return
            yield key, cursor.value()  # type: ignore[misc]
            found = step()


def _successor(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no such key)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class _ResizeGate:
    """Counts this process's open transactions so the map can be resized when none is open."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._active = 0
        self._resizing = False

    def enter(self) -> None:
        with self._cond:
            while self._resizing:
                self._cond.wait()
            self._active += 1

    def leave(self) -> None:
        with self._cond:
            self._active -= 1
            if self._active == 0 and self._resizing:
                self._cond.notify_all()

    def exclusive(self, fn: Callable[[], None]) -> None:
        with self._cond:
            if self._resizing:  # someone else is resizing; theirs serves us too, then we retry
                while self._resizing:
                    self._cond.wait()
                return
            self._resizing = True
            try:
                while self._active:
                    self._cond.wait()
                fn()
            finally:
                self._resizing = False
                self._cond.notify_all()


@contextmanager
def _lmdb_errors(what: str) -> Iterator[None]:
    """Turn LMDB's exceptions into ours, for the calls outside a read/write callback."""
    try:
        yield
    except lmdb.Error as exc:
        raise Internal(f"{what} failed: {exc}") from exc


_open_paths: set[str] = set()
_open_paths_lock = threading.Lock()


class LmdbStore:
    """An embedded LMDB environment holding every table of the store.

    ``durable=True`` (default) syncs on every commit, so an acknowledged write survives a
    machine crash; ``durable=False`` leaves flushing to the OS (a process crash loses
    nothing, a machine crash may lose the last writes, never corrupts). The map starts at
    ``map_size`` bytes and doubles whenever a write finds it full.
    """

    DEFAULT_MAP_SIZE = 256 * 1024 * 1024
    MAX_MAP_SIZE = 1 << 40

    def __init__(
        self,
        path: str | os.PathLike[str] = "./data",
        *,
        durable: bool = True,
        map_size: int = DEFAULT_MAP_SIZE,
        max_readers: int = 512,
    ) -> None:
        self.path = Path(path).resolve()
        key = str(self.path)
        with _open_paths_lock:
            if key in _open_paths:
                raise FailedPrecondition(
                    f"the store at {key} is already open in this process; share that instance"
                )
            _open_paths.add(key)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._env = lmdb.open(
                key,
                map_size=map_size,
                max_dbs=len(Table),
                max_readers=max_readers,
                sync=durable,
                metasync=durable,
                readahead=False,
                lock=True,
            )
            with self._env.begin(write=True) as txn:
                self._dbs = {t: self._env.open_db(t.value.encode(), txn=txn) for t in Table}
        except (lmdb.Error, OSError) as exc:
            with _open_paths_lock:
                _open_paths.discard(key)
            raise Internal(f"cannot open the store at {key}: {exc}") from exc
        self._key = key
        self._gate = _ResizeGate()
        self._closed = False

    @property
    def map_size(self) -> int:
        with _lmdb_errors("reading the map size"):
            return int(self._env.info()["map_size"])

    def read(self, fn: Callable[[Transaction], T]) -> T:
        return self._transact(fn, write=False)

    def write(self, fn: Callable[[Transaction], T]) -> T:
        return self._transact(fn, write=True)

    def _transact(self, fn: Callable[[Transaction], T], *, write: bool) -> T:
        """Run ``fn`` in one transaction: commit on return, abort on raise. When the map is
        full (or another process grew it) resize while no transaction is open and re-run
        ``fn`` from scratch."""
        self._check_open()
        while True:
            self._gate.enter()
            try:
                with self._env.begin(write=write, buffers=False) as txn:
                    return fn(_LmdbTransaction(txn, self._dbs))
            except lmdb.MapFullError:
                resize = self._grow
            except lmdb.MapResizedError:
                resize = self._adopt_map_size
            except lmdb.Error as exc:
                raise Internal(f"store {'write' if write else 'read'} failed: {exc}") from exc
            finally:
                self._gate.leave()
            with _lmdb_errors("resizing the store map"):
                self._gate.exclusive(resize)

    def _grow(self) -> None:
        new_size = min(self.map_size * 2, self.MAX_MAP_SIZE)
        if new_size <= self.map_size:
            raise Internal(f"the store at {self._key} is full at {self.map_size} bytes")
        _log.info("growing LMDB map of %s to %d bytes", self._key, new_size)
        self._env.set_mapsize(new_size)

    def _adopt_map_size(self) -> None:
        """Another process grew the map: take its size (LMDB reads it with size 0)."""
        self._env.set_mapsize(0)

    def sync(self) -> None:
        """Flush to disk now (useful in relaxed mode)."""
        self._check_open()
        with _lmdb_errors("store sync"):
            self._env.sync(True)

    def stat(self) -> dict[str, int]:
        """Entry counts per table, for tests and diagnostics."""
        return self.read(lambda txn: {t.value: sum(1 for _ in txn.scan(t, b"")) for t in Table})

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _lmdb_errors("closing the store"):
            self._gate.exclusive(self._env.close)
        with _open_paths_lock:
            _open_paths.discard(self._key)

    def _check_open(self) -> None:
        if self._closed:
            raise FailedPrecondition(f"the store at {self._key} is closed")

    def __enter__(self) -> LmdbStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
