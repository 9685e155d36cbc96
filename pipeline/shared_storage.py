"""One storage instance per store in a process, shared by reference-counted handles.

LMDB must be opened once per process (:class:`~pipeline.storage.lmdb.LmdbStorage` refuses
a second open of a path), and each PostgreSQL instance holds a connection pool and a
listener, so many objects on one store in one process (several controllers, framework
adapter objects) should share one instance. :func:`open_shared` is the sanctioned way:

* the same data directory (its resolved path) or the same store URL (normalised: for
  PostgreSQL, the parsed connection parameters, password included, so two roles on one
  database are two stores) gives every opener a :class:`SharedStorage` handle on one
  instance; the instance is closed when its last handle closes, and an open after that
  opens anew;
* the backend options (``durable``, ``map_size``, ``pool_size``, ...; defaults filled in)
  of a second open must equal the first's: a different value is FailedPrecondition naming
  the option, never silently ignored;
* the handles of one instance share one :class:`~pipeline.events.EventHub` (fed by the
  backend's ``follow`` once), so a watcher through one handle hears writes made through
  another, and a :attr:`SharedStorage.lock` for openers that must agree on how the store
  is served (the optional indexes, see ``SessionController``);
* a closed handle refuses every call (FailedPrecondition), whatever the other handles do.

Keys hold the password but are never logged: messages name the store by its
``description``. Thread-safe: concurrent opens of one store get one instance (opens of
different stores do not wait for each other).
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipeline.errors import FailedPrecondition, InvalidArgument
from pipeline.events import EventHub
from pipeline.resource import ResourceKind
from pipeline.storage import CheckReport, Storage, Tx
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage_url import POSTGRES_SCHEMES, lmdb_path, open_storage, unknown_store

T = TypeVar("T")


@dataclass(eq=False)
class _Instance:
    """One open store and what its handles share."""

    key: str
    storage: Storage
    options: dict[str, Any]
    hub: EventHub
    stop_following: Callable[[], None]
    lock: threading.RLock = field(default_factory=threading.RLock)
    handles: int = 0
    serving: int = 0  # handles that serve the store with kinds fixed at open


_registry_lock = threading.Lock()
_instances: dict[str, _Instance] = {}
#: One lock per store key ever opened (a few bytes each), serialising that store's opens and
#: last close; never removed, so two threads can never hold different locks for one key.
_key_locks: dict[str, threading.Lock] = {}


class SharedStorage:
    """A handle on a store instance shared in this process: a :class:`~pipeline.storage.Storage`
    whose :meth:`close` releases this handle only (the instance closes with its last one).
    Other attributes of the backend (``path``, ``stat``, ...) are reachable through it."""

    def __init__(self, instance: _Instance) -> None:
        self._instance = instance
        self._closed = False
        self._serving = False
        self._close_lock = threading.Lock()
        self._followers: list[Callable[[], None]] = []

    @property
    def instance(self) -> Storage:
        """The shared backend instance (the same object for every handle on this store)."""
        return self._live().storage

    @property
    def hub(self) -> EventHub:
        """The wake-up hub every handle on this store shares (fed by the backend's follow)."""
        return self._live().hub

    @property
    def lock(self) -> threading.RLock:
        """Held by openers deciding together how the store is served (re-entrant)."""
        return self._instance.lock

    @property
    def peers(self) -> int:
        """How many other handles on this store are open."""
        return self._instance.handles - (0 if self._closed else 1)

    @property
    def closed(self) -> bool:
        return self._closed

    def begin_serving(self) -> None:
        """Mark this handle's opener as serving the store with kinds (optional indexes) fixed
        now, until the handle closes: later openers must not change what the store keeps
        (hold :attr:`lock` while deciding, and call this before releasing it)."""
        with self._instance.lock:
            self._live()
            if not self._serving:
                self._serving = True
                self._instance.serving += 1

    @property
    def serving_peers(self) -> int:
        """How many other open handles serve the store (see :meth:`begin_serving`)."""
        with self._instance.lock:
            return self._instance.serving - (1 if self._serving else 0)

    def _live(self) -> _Instance:
        if self._closed:
            where = self._instance.storage.description
            raise FailedPrecondition(f"this handle on the store {where} is closed")
        return self._instance

    def read(self, fn: Callable[[Tx], T]) -> T:
        return self._live().storage.read(fn)

    def write(self, fn: Callable[[Tx], T]) -> T:
        return self._live().storage.write(fn)

    def check(
        self,
        kinds: Iterable[ResourceKind[Any]],
        progress: Callable[[int], None] | None = None,
        **options: Any,
    ) -> CheckReport:
        """The backend's check (``options``: what only it takes, e.g. LMDB's ``avoid``)."""
        return self._live().storage.check(kinds, progress, **options)

    def reindex(
        self, kinds: Iterable[ResourceKind[Any]], progress: Callable[[int], None] | None = None
    ) -> int:
        return self._live().storage.reindex(kinds, progress)

    def follow(self, on_revision: Callable[[int], None]) -> Callable[[], None]:
        """The backend's follow, stopped at the latest when this handle closes."""
        stop = self._live().storage.follow(on_revision)
        self._followers.append(stop)
        return stop

    @property
    def poll_s(self) -> float | None:
        return self._instance.storage.poll_s

    @property
    def shared(self) -> bool:
        return self._instance.storage.shared

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return self._live().storage.snapshot()

    @property
    def description(self) -> str:
        return self._instance.storage.description

    def __getattr__(self, name: str) -> Any:
        # only reached for what this class does not define: the backend's own attributes
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._live().storage, name)

    def close(self) -> None:
        """Release this handle (idempotent); the last one closes the instance."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        with self._instance.lock:
            if self._serving:
                self._instance.serving -= 1
        for stop in self._followers:
            stop()
        _release(self._instance)

    def __enter__(self) -> SharedStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SharedStorage {self._instance.storage.description} ({state})>"


def unwrap(storage: Storage) -> Storage:
    """The backend instance behind ``storage`` (itself unless it is a :class:`SharedStorage`)."""
    return storage.instance if isinstance(storage, SharedStorage) else storage


def open_shared(url: str, *, durable: bool = True, **options: Any) -> SharedStorage:
    """A handle on the store ``url`` names (``lmdb:///path`` or ``postgresql://...``, as
    :func:`pipeline.storage_url.open_storage` takes), opening it unless this process has it
    open already. ``durable`` applies to LMDB; ``options`` go to the backend's constructor
    and must equal those it was opened with (FailedPrecondition otherwise)."""
    if url.startswith("lmdb://"):
        return open_shared_dir(lmdb_path(url), durable=durable, **options)
    if url.startswith(POSTGRES_SCHEMES):
        wanted = _bound("PostgresStorage", _pg_class(), options)
        return _acquire(_pg_key(url), wanted, lambda: open_storage(url, **options))
    raise unknown_store(url)


def open_shared_dir(path: str | os.PathLike[str], *, durable: bool = True, **options: Any) -> SharedStorage:
    """A handle on the LMDB store in directory ``path`` (see :func:`open_shared`)."""
    resolved = os.path.realpath(os.fspath(path))
    wanted = _bound("LmdbStorage", LmdbStorage, {"durable": durable, **options})
    return _acquire(f"lmdb:{resolved}", wanted, lambda: LmdbStorage(resolved, durable=durable, **options))


def _pg_class() -> type:
    try:
        from pipeline.storage.postgres import PostgresStorage  # noqa: PLC0415 - lazily, for psycopg
    except ImportError as exc:
        raise InvalidArgument(f"the PostgreSQL backend is not available: {exc}") from exc
    return PostgresStorage


def _pg_key(url: str) -> str:
    """The parsed connection parameters (password included), so spellings of one database
    (``postgres://`` or ``postgresql://``, parameter order, the default port) are one key."""
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - lazily, for psycopg

    try:
        info = {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except Exception:  # malformed: the backend's open says so clearly
        return f"postgresql:{url}"
    if info.get("host"):
        info.setdefault("port", "5432")
    return "postgresql:" + repr(sorted(info.items()))


def _bound(backend: str, cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the constructor's defaults filled in (so an option left out equals
    one given at its default); InvalidArgument for an option the backend does not take."""
    parameters = dict(inspect.signature(cls).parameters)
    first = next(iter(parameters))
    unknown = sorted(set(options) - set(parameters) - {first})
    if unknown:
        raise InvalidArgument(f"{backend} takes no option {', '.join(map(repr, unknown))}")
    return {
        name: options.get(name, p.default)
        for name, p in parameters.items()
        if name != first and p.default is not inspect.Parameter.empty
    }


def _acquire(key: str, options: dict[str, Any], opener: Callable[[], Storage]) -> SharedStorage:
    with _registry_lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        instance = _instances.get(key)
        if instance is None:
            storage = opener()
            try:
                hub = EventHub(storage.read(lambda tx: tx.changes.current_revision()))
                stop_following = storage.follow(hub.publish)
            except BaseException:
                storage.close()
                raise
            instance = _Instance(key, storage, options, hub, stop_following)
            with _registry_lock:
                _instances[key] = instance
        else:
            _refuse_conflicts(instance, options)
        instance.handles += 1
        return SharedStorage(instance)


def _refuse_conflicts(instance: _Instance, options: dict[str, Any]) -> None:
    for name, value in options.items():
        if instance.options.get(name) != value:
            raise FailedPrecondition(
                f"the store {instance.storage.description} is already open in this process with "
                f"{name}={instance.options.get(name)!r}, not {name}={value!r}: open it with the same "
                f"options to share it, or close it first"
            )


def _release(instance: _Instance) -> None:
    with _registry_lock:
        key_lock = _key_locks[instance.key]
    with key_lock:
        instance.handles -= 1
        if instance.handles:
            return
        with _registry_lock:
            del _instances[instance.key]
        try:
            instance.stop_following()
        finally:
            instance.storage.close()
