"""The LMDB engine under :class:`~pipeline.storage.lmdb.LmdbStorage`: environment, map
growth, the resize gate, group commit, relaxed flushing and the engine's faults.

Above this module the backend speaks the resource-level protocols of :mod:`pipeline.storage`;
here it is an ordered key/value space of bytes over a few fixed tables (:class:`Table`),
reached through :class:`RawTx` inside :meth:`LmdbEngine.read_raw` / :meth:`LmdbEngine.write_raw`,
which run a callback inside one transaction: committed when the callback returns, aborted
when it raises. That callback shape is what lets the store retry a write after growing a
full map, transparently.

LMDB facts this module relies on (see the py-lmdb docs):

* one environment per process and path; threads share it (``MDB_NOTLS`` is always set by
  py-lmdb, so a read transaction is not tied to its thread);
* one write transaction at a time: LMDB serialises writers, which makes every command
  pipeline's check-then-write atomic;
* ``set_mapsize`` is only legal while this process has no open transaction, hence the gate;
* a failed commit writes nothing LMDB will read back (the meta page is written last), but a
  failure while writing the meta page flags the environment fatal: every later transaction
  then fails with ``MDB_PANIC`` until it is closed and opened again, which :meth:`_reopen` does.

Engine exceptions never leave this package: each becomes one of ours with a message safe to
show a client (no engine text), while the engine's detail and the store's path are logged.
A full volume is :class:`OutOfSpace` (RESOURCE_EXHAUSTED), every other engine fault Internal.
"""

from __future__ import annotations

import enum
import errno
import logging
import os
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import lmdb

from pipeline.errors import FailedPrecondition, Internal, OutOfSpace, ResourceError, ResourceExhausted

T = TypeVar("T")
_log = logging.getLogger(__name__)
_COUNTER = struct.Struct("<q")
#: Engine errors that mean "retry after the store adjusted itself": they pass through the
#: transaction wrapper untranslated, to the retry loops of read and write.
_RETRYABLE = (lmdb.MapFullError, lmdb.MapResizedError, lmdb.PanicError)
_CORRUPTION = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.BadChecksumError)
_NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class Table(enum.Enum):
    """The named sub-databases of a store."""

    # Members are singletons: identity hashing is correct, and C-fast where Enum's default
    # (a Python-level hash of the name) showed up in write profiles.
    __hash__ = object.__hash__

    RECORDS = "records"  # pack(kind, id) -> serialized message
    INDEX = "index"  # pack(kind, index, *values, id) -> empty
    UNIQUE = "unique"  # pack(kind, index, *values) -> id
    COUNTERS = "counters"  # pack(kind[, index, *values]) -> int64
    REQUESTS = "requests"  # remembered requests for idempotent retries, plus their expiry index
    EVENTS = "events"  # the change log and its indexes (pipeline.events)
    CHILDREN = "children"  # ordered child records of a resource, e.g. messages (pipeline.children)
    SCHEMA = "schema"  # pack("indexes", kind) -> pack(*index names): the indexes held per kind


class RawTx:
    """Key/value access to the tables inside one LMDB transaction. Engine errors are
    translated at each call, so a callback that catches ours (``check`` reporting a corrupt
    page and going on) never sees LMDB's; only the retryable ones pass through to the
    engine's loops."""

    __slots__ = ("_dbs", "_store", "_txn")

    def __init__(self, txn: lmdb.Transaction, dbs: dict[Table, lmdb._Database], store: LmdbEngine) -> None:
        self._txn = txn
        self._dbs = dbs
        self._store = store

    def get(self, table: Table, key: bytes) -> bytes | None:
        try:
            return self._txn.get(key, db=self._dbs[table])  # type: ignore[return-value]  # bytes: buffers=False
        except _RETRYABLE:
            raise
        except lmdb.Error as exc:
            raise self._store._engine_error("read", exc) from exc

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        try:
            self._txn.put(key, value, db=self._dbs[table])
        except _RETRYABLE:
            raise
        except lmdb.Error as exc:
            raise self._store._engine_error("write", exc) from exc

    def delete(self, table: Table, key: bytes) -> bool:
        try:
            return bool(self._txn.delete(key, db=self._dbs[table]))
        except _RETRYABLE:
            raise
        except lmdb.Error as exc:
            raise self._store._engine_error("write", exc) from exc

    def add(self, table: Table, key: bytes, delta: int) -> int:
        value = self.counter(table, key) + delta
        if value:
            self.put(table, key, _COUNTER.pack(value))
        else:
            self.delete(table, key)
        return value

    def counter(self, table: Table, key: bytes) -> int:
        raw = self.get(table, key)
        if raw is None:
            return 0
        if len(raw) != _COUNTER.size:
            raise Internal(f"corrupt counter in {table.value}: {len(raw)} bytes, not {_COUNTER.size}")
        return int(_COUNTER.unpack(raw)[0])

    def scan(
        self, table: Table, prefix: bytes, *, after: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        try:
            yield from self._scan(table, prefix, after, reverse)
        except _RETRYABLE:
            raise
        except lmdb.Error as exc:
            raise self._store._engine_error("read", exc) from exc

    def _scan(
        self, table: Table, prefix: bytes, after: bytes | None, reverse: bool
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


class _Pending:
    """One write waiting for (or done by) a group-commit batch."""

    __slots__ = ("done", "error", "fn", "result")

    def __init__(self, fn: Callable[[RawTx], Any]) -> None:
        self.fn = fn
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        """The callback's result, or its error raised again in the caller's thread."""
        if self.error is not None:
            raise self.error
        return self.result


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for item in batch:
        item.error = error


class _GroupCommit:
    """Leader/follower group commit: concurrent writes share one transaction and one fsync.

    A writer queues its callback. If no batch is being written it becomes the leader: it
    takes everything queued (its own write included), runs each callback in its own nested
    transaction inside one batch transaction, commits once, and marks them all done. Writes
    that arrive meanwhile wait and form the next batch, led by one of them. A lone writer
    leads its own batch of one at once, with no timer or handoff: no batching delay. One
    callback's error aborts only its nested transaction; the others still commit.
    """

    def __init__(self, store: LmdbEngine) -> None:
        self._store = store
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Pending] = []
        self._leading = False
        self.batches = 0
        self.writes = 0
        self.largest_batch = 0

    def submit(self, fn: Callable[[RawTx], T]) -> T:
        item = _Pending(fn)
        with self._cond:
            self._queue.append(item)
            while self._leading and not item.done:
                self._cond.wait()
            batch: list[_Pending] = []
            if not item.done:
                self._leading = True
                batch, self._queue = self._queue, []
        if batch:
            try:
                self._store._write_batch(batch)
            finally:
                with self._cond:
                    self._leading = False
                    self.batches += 1
                    self.writes += len(batch)
                    self.largest_batch = max(self.largest_batch, len(batch))
                    self._cond.notify_all()
        return item.outcome()  # type: ignore[no-any-return]


_open_paths: set[str] = set()
_open_paths_lock = threading.Lock()


class LmdbEngine:
    """An embedded LMDB environment holding every table of the store.

    ``durable=True`` (default) syncs on every commit, so an acknowledged write survives a
    machine crash, and concurrent writes share commits (``group_commit``, on by default when
    durable). ``durable=False`` skips the per-commit fsync and flushes every
    ``flush_interval_s`` in the background instead: a process crash loses nothing, a machine
    crash may lose that window, and the store is never corrupted. The map starts at
    ``map_size`` bytes and doubles whenever a write finds it full.

    A write that finds the volume full fails with :class:`OutOfSpace` and leaves nothing
    behind; reads go on, and writes succeed again once space is freed.
    """

    DEFAULT_MAP_SIZE = 256 * 1024 * 1024
    MAX_MAP_SIZE = 1 << 40
    #: LMDB reports a short write (the volume filled up mid-write) as EIO, not ENOSPC: an EIO
    #: while the volume has less than this available is taken for "out of space". Larger
    #: than LMDB's biggest single write of ordinary pages (64 pages) with a wide margin, and
    #: small enough that a real I/O fault on a roomy volume is still reported as one.
    LOW_SPACE_BYTES = 16 * 1024 * 1024

    def __init__(
        self,
        path: str | os.PathLike[str] = "./data",
        *,
        durable: bool = True,
        map_size: int = DEFAULT_MAP_SIZE,
        max_readers: int = 512,
        group_commit: bool | None = None,
        flush_interval_s: float = 0.1,
    ) -> None:
        self.path = Path(path).resolve()
        key = str(self.path)
        with _open_paths_lock:
            if key in _open_paths:
                raise FailedPrecondition(
                    f"the store at {key} is already open in this process; share that instance "
                    "(pipeline.shared_storage.open_shared_dir gives every opener a handle on it)"
                )
            _open_paths.add(key)
        self._key = key
        self._options: dict[str, Any] = {
            "max_dbs": len(Table),
            "max_readers": max_readers,
            "sync": durable,
            "metasync": durable,
            "readahead": False,
            "lock": True,
        }
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._env, self._dbs = self._open_env(map_size)
        except (lmdb.Error, OSError) as exc:
            with _open_paths_lock:
                _open_paths.discard(key)
            # for the operator starting the server, not a client: the engine's reason helps
            raise Internal(f"cannot open the store at {key}: {exc}") from exc
        self._gate = _ResizeGate()
        self._closed = False
        #: The environment was closed to be reopened, and reopening has not succeeded yet.
        self._needs_reopen = False
        self._reopen_map_size = map_size
        #: Durable stores batch concurrent writes into one fsync (see _GroupCommit).
        self.group_commit = (
            _GroupCommit(self) if (durable if group_commit is None else group_commit) else None
        )
        #: Relaxed stores flush in the background every ``flush_interval_s``.
        self.flushes = 0
        self._stop_flushing = threading.Event()
        self._flusher: threading.Thread | None = None
        if not durable and flush_interval_s > 0:
            self._flusher = threading.Thread(
                target=self._flush_loop, args=(flush_interval_s,), name="lmdb-flush", daemon=True
            )
            self._flusher.start()

    def _open_env(self, map_size: int) -> tuple[lmdb.Environment, dict[Table, lmdb._Database]]:
        env = lmdb.open(self._key, map_size=map_size, **self._options)
        try:
            with env.begin(write=True) as txn:
                dbs = {t: env.open_db(t.value.encode(), txn=txn) for t in Table}
        except BaseException:
            env.close()
            raise
        return env, dbs

    @property
    def map_size(self) -> int:
        with self._engine_errors("map size read"):
            return int(self._env.info()["map_size"])

    def read_raw(self, fn: Callable[[RawTx], T]) -> T:
        """Run ``fn`` in one read transaction; if another process grew the map, adopt its
        size and run ``fn`` again (after a fatal engine error: reopen, once)."""
        self._check_open()
        reopened = False
        while True:
            self._gate.enter()
            try:
                with self._env.begin(buffers=False) as txn:
                    return fn(RawTx(txn, self._dbs, self))
            except lmdb.MapResizedError:
                recover = self._adopt_map_size
            except lmdb.Error as exc:
                if reopened or not (isinstance(exc, lmdb.PanicError) or self._needs_reopen):
                    raise self._engine_error("read", exc) from exc
                recover, reopened = self._reopen, True
            finally:
                self._gate.leave()
            self._exclusive(recover)

    def write_raw(self, fn: Callable[[RawTx], T]) -> T:
        """Run ``fn`` in one write transaction: commit on return, abort on raise. A full map
        is grown and ``fn`` re-run. Without group commit a write is a batch of one, the path
        a lone writer takes with it."""
        self._check_open()
        if self.group_commit is not None:
            return self.group_commit.submit(fn)
        item = _Pending(fn)
        self._write_batch([item])
        return item.outcome()  # type: ignore[no-any-return]

    def _write_batch(self, batch: list[_Pending]) -> None:
        """Run ``batch`` in one write transaction, each callback in its own nested one (a
        batch of one runs directly), and commit once; sets every item's result or error.
        A full map is grown (a fatal engine error: the store reopened, once) and the whole
        batch re-run: callbacks are re-runnable. If that recovery fails, every item fails."""
        reopened = False
        try:
            while (recover := self._try_batch(batch, may_reopen=not reopened)) is not None:
                reopened = reopened or recover == self._reopen
                self._exclusive(recover)
        except ResourceError as exc:  # the map could not grow or the store not reopen
            _fail(batch, exc)
        except BaseException as exc:  # unexpected: still, no item may go without an outcome
            _log.error("write batch of %s failed", self._key, exc_info=exc)
            _fail(batch, Internal("store write failed"))
        finally:
            for item in batch:
                item.done = True

    def _try_batch(self, batch: list[_Pending], *, may_reopen: bool) -> Callable[[], None] | None:
        """One attempt at ``batch``; returns what to do before retrying (grow or adopt the
        map, reopen the store), or None when every item has its result or error."""
        for item in batch:
            item.result, item.error = None, None
        self._gate.enter()
        try:
            with self._env.begin(write=True) as txn:
                self._run_batch(txn, batch)
        except lmdb.MapFullError:
            return self._grow
        except lmdb.MapResizedError:
            return self._adopt_map_size
        except lmdb.Error as exc:  # the batch itself failed (e.g. on commit): nothing landed
            if may_reopen and (isinstance(exc, lmdb.PanicError) or self._needs_reopen):
                return self._reopen  # LMDB wrote nothing: re-running after a reopen is safe
            _fail(batch, self._engine_error("write", exc))
        except BaseException as exc:  # nothing of the batch landed
            # A batch of one gets its own error back; in a larger batch _run_nested keeps
            # callback errors in their items, so this is unexpected (or a full volume, which
            # fails the batch on purpose) and fails them all.
            if len(batch) == 1 or isinstance(exc, OutOfSpace):
                _fail(batch, exc)
            else:
                _log.error("write batch of %s aborted", self._key, exc_info=exc)
                _fail(batch, Internal("write batch aborted"))
        finally:
            self._gate.leave()
        return None

    def _run_batch(self, txn: lmdb.Transaction, batch: list[_Pending]) -> None:
        if len(batch) == 1:
            batch[0].result = batch[0].fn(RawTx(txn, self._dbs, self))
        else:
            for item in batch:
                self._run_nested(txn, item)

    def _run_nested(self, txn: lmdb.Transaction, item: _Pending) -> None:
        child = self._env.begin(write=True, parent=txn)
        try:
            item.result = item.fn(RawTx(child, self._dbs, self))
        except (*_RETRYABLE, OutOfSpace):
            child.abort()
            raise  # the whole batch is re-run after resizing, or fails: the disk is full
        except BaseException as exc:
            child.abort()
            item.error = exc
        else:
            child.commit()

    def _exclusive(self, fn: Callable[[], None]) -> None:
        """Run a map resize or a reopen with no transaction of this process open."""
        with self._engine_errors("recovery"):
            self._gate.exclusive(fn)

    @contextmanager
    def _engine_errors(self, operation: str) -> Iterator[None]:
        """Turn LMDB's exceptions into ours, for the calls outside a read/write callback."""
        try:
            yield
        except lmdb.Error as exc:
            raise self._engine_error(operation, exc) from exc

    def _engine_error(self, operation: str, exc: lmdb.Error) -> ResourceError:
        """Our error for an engine failure: a message safe for any client, while the
        engine's own text goes to the log, with the store's path."""
        error: ResourceError
        if self._out_of_space(exc):
            _log.error("the store at %s is out of disk space (%s failed: %s)", self._key, operation, exc)
            error = OutOfSpace(
                "the store is out of disk space: writes are refused until space is freed (reads still work)"
            )
        elif isinstance(exc, _CORRUPTION):
            _log.error("the store at %s is corrupted (%s failed: %s)", self._key, operation, exc)
            error = Internal(f"store {operation} failed: the store is corrupted")
        else:
            _log.error("store %s failed at %s: %s", operation, self._key, exc)
            error = Internal(f"store {operation} failed")
        error.__cause__ = exc
        return error

    def _out_of_space(self, exc: lmdb.Error) -> bool:
        """ENOSPC/EDQUOT, or EIO (LMDB's word for a short write) on a nearly full volume.
        The C extension sets ``code`` on the errors it raises; be lenient if it is absent."""
        code = getattr(exc, "code", 0)
        if isinstance(exc, lmdb.DiskError) or code in _NO_SPACE_ERRNOS:
            return True
        if code != errno.EIO:
            return False
        try:
            fs = os.statvfs(self._key)
        except OSError:
            return False
        return fs.f_bavail * fs.f_frsize < self.LOW_SPACE_BYTES

    def _reopen(self) -> None:
        """Close and reopen the environment after a fatal engine error (MDB_PANIC), which
        LMDB requires. Safe: a failed commit leaves the last committed state on disk, and
        no transaction of this process is open (we run under the gate)."""
        _log.error("reopening the store at %s after a fatal engine error", self._key)
        if not self._needs_reopen:
            with suppress(lmdb.Error):  # else keep the last size known
                self._reopen_map_size = int(self._env.info()["map_size"])
            self._env.close()
            self._needs_reopen = True  # until it opens again: later calls retry the reopen
        self._env, self._dbs = self._open_env(self._reopen_map_size)
        self._needs_reopen = False

    def _flush_loop(self, interval_s: float) -> None:
        while not self._stop_flushing.wait(interval_s):
            try:
                self.sync()
                self.flushes += 1
            except FailedPrecondition:  # closed between the wait and the sync: nothing to flush
                return
            except ResourceError:  # logged where the engine error was translated
                pass

    def _grow(self) -> None:
        new_size = min(self.map_size * 2, self.MAX_MAP_SIZE)
        if new_size <= self.map_size:
            _log.error("the store at %s reached its maximum map size of %d bytes", self._key, new_size)
            raise ResourceExhausted(f"the store is full: it reached its maximum size of {new_size} bytes")
        _log.info("growing LMDB map of %s to %d bytes", self._key, new_size)
        self._env.set_mapsize(new_size)

    def _adopt_map_size(self) -> None:
        """Another process grew the map: take its size (LMDB reads it with size 0)."""
        self._env.set_mapsize(0)

    def sync(self) -> None:
        """Flush to disk now (useful in relaxed mode)."""
        self._check_open()
        with self._engine_errors("sync"):
            self._env.sync(True)

    def stat(self) -> dict[str, int]:
        """Entry counts per table, for tests and diagnostics."""
        return self.read_raw(lambda txn: {t.value: sum(1 for _ in txn.scan(t, b"")) for t in Table})

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            self._stop_flushing.set()
            self._flusher.join()
        with self._engine_errors("close"):
            self._gate.exclusive(self._env.close)
        with _open_paths_lock:
            _open_paths.discard(self._key)

    def _check_open(self) -> None:
        if self._closed:
            raise FailedPrecondition(f"the store at {self._key} is closed")
