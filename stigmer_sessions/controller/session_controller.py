"""SessionController: the in-process API, the same operations as the gRPC services.

The operations a client serves too live in :class:`stigmer_sessions.methods.SessionMethods`
(add new RPC methods there: they then exist on the controller and both clients); this module
adds what only a process holding the store can do (recover, check, reindex, export, ...).

Every method runs one pipeline in one store transaction and returns the resulting message
or raises a typed :class:`pipeline.errors.ResourceError`. Pipelines and the validator are
built once per controller; the controller is thread-safe (the storage backend makes every
write transaction atomic and reads run concurrently).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any, TypeVar

import protovalidate
from google.protobuf.message import Message

from pipeline import events, indexes, maintenance, watch
from pipeline.authorization import DEFAULT_AUTHORIZER, Authorizer
from pipeline.controller import KindController
from pipeline.errors import FailedPrecondition
from pipeline.events import CompactionResult, EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.operations import Settings
from pipeline.pipeline import Pipeline
from pipeline.resource import ResourceKind
from pipeline.service import Resources
from pipeline.shared_storage import SharedStorage, open_shared, open_shared_dir
from pipeline.storage import CheckReport, Storage, Tx
from pipeline.validation import shared_validator
from stigmer_sessions.agent_instance import agent_instance_service
from stigmer_sessions.api import (
    Session,
    SessionChangeList,
    WatchSessionChangesResponse,
)
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.controller.agent_instance_controller import AgentInstanceController
from stigmer_sessions.methods import SESSION_TYPES, MessageInput, SessionMethods, message_input, role_of
from stigmer_sessions.resource import AGENT_INSTANCE, PHASE_INDEX, SESSION
from stigmer_sessions.session import session_kind, session_service

R = TypeVar("R", bound=Message)
#: Re-exported from their old home here (they moved to :mod:`stigmer_sessions.methods`).
__all__ = ["TYPES", "MessageInput", "SessionController", "message_input", "role_of"]
#: Every kind a controller serves, for the maintenance commands (check, export, ...).
TYPES = SESSION_TYPES


def _no_op() -> None:
    pass


class SessionController(
    SessionMethods, KindController[Session, SessionChangeList, WatchSessionChangesResponse]
):
    """Session operations on a store; :attr:`agent_instances` serves agent instances on it.

    ``SessionController("./data")`` opens (and owns) an LMDB store in that directory;
    ``SessionController(store="postgresql://...")`` (or ``"lmdb:///path"``) opens and owns
    the store that URL names (``store_options`` go to the backend, e.g. ``{"pool_size": 16,
    "migrate": False}`` for PostgreSQL); ``SessionController(store=storage)`` uses a
    :class:`~pipeline.storage.Storage` you manage (and close). Use it as a context manager,
    or call :meth:`close`, to release an owned store.

    Controllers opened on one directory or URL in one process share one store instance
    (:mod:`pipeline.shared_storage`): each reads the others' writes and its watchers hear
    them; each closes independently (a closed one refuses calls), the store closing with the
    last. Their durability and ``store_options`` must agree (FailedPrecondition otherwise).

    The store keeps the optional indexes ``config`` needs (built at open when missing: see
    :mod:`pipeline.indexes`); ``as_stored=True`` (maintenance: check, export, reindex) opens
    it with the indexes it holds and builds none. Beside other live controllers on a shared
    instance, a controller serves what the store keeps, and one whose ``config`` needs an
    optional index the store lacks is FailedPrecondition (the others would not maintain it).

    Calls are trusted unless they pass ``principal=`` (every method takes it): then the
    principal's roles apply exactly as over gRPC, judged by ``authorizer`` (a
    :class:`pipeline.authorization.Authorizer`; default: the role rules of
    docs/security.md), which the gRPC server serving this controller uses too.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = "./data",
        *,
        store: Storage | str | None = None,
        store_options: Mapping[str, Any] | None = None,
        durable: bool = True,
        validator: protovalidate.Validator | None = None,
        request_id_ttl_s: float = DEFAULT_TTL_NS / 1e9,
        bookmark_interval_s: float = watch.DEFAULT_BOOKMARK_INTERVAL_S,
        config: SessionConfig | None = None,
        watch_poll_s: float | None = None,
        authorizer: Authorizer = DEFAULT_AUTHORIZER,
        as_stored: bool = False,
    ) -> None:
        #: The handle on the store this controller opened (shared in this process), if any.
        self._handle: SharedStorage | None
        self.store: Storage
        if store is None or isinstance(store, str):
            if store is None:
                self._handle = open_shared_dir(data_dir, durable=durable)
            else:
                self._handle = open_shared(store, durable=durable, **(store_options or {}))
            self.store = self._handle
        else:
            self._handle, self.store = None, store
        self._stop_following: Callable[[], None] = _no_op
        try:
            if self._handle is not None:
                hub = self._handle.hub  # shared: watchers hear the other controllers' writes
            else:
                hub = EventHub(self.store.read(lambda tx: tx.changes.current_revision()))
                self._stop_following = self.store.follow(hub.publish)
            v = validator or shared_validator()
            #: Lifecycle, quotas, generated names, message size limit, response byte budget.
            self.config = cfg = config or SessionConfig()
            ttl = int(request_id_ttl_s * 1e9)
            settings = Settings(
                validator=v, request_ttl_ns=ttl, hub=hub, max_response_bytes=cfg.max_response_bytes
            )
            wanted: list[ResourceKind[Any]] = [session_kind(cfg), AGENT_INSTANCE]
            served = self._serve(wanted, as_stored=as_stored)
        except BaseException:
            self._stop_following()
            if self._handle is not None:
                self._handle.close()
            raise
        #: The kinds as served, with the optional indexes the store holds (and ``config`` needs).
        self.kinds: tuple[ResourceKind[Any], ...] = tuple(served)
        sessions = served[0]
        kinds = [session_service(cfg, settings, sessions), agent_instance_service(cfg, settings, sessions)]
        #: Every kind this controller serves, run on its store; the gRPC server serves the same.
        self.resources = Resources(
            self.store,
            kinds,
            hub=hub,
            validator=v,
            bookmark_interval_s=bookmark_interval_s,
            # With several processes on one store, watches also poll the log this often (by
            # default as often as the backend asks: never for one that hears other processes).
            watch_poll_s=self.store.poll_s if watch_poll_s is None else watch_poll_s,
            batch_bytes=cfg.max_response_bytes,
            authorizer=authorizer,
        )
        super().__init__(self.resources, SESSION.name, TYPES)
        #: The agent instances on the same store (create, getByAgent, watch, ...).
        self.agent_instances = AgentInstanceController(self.resources)

    def _serve(self, wanted: list[ResourceKind[Any]], *, as_stored: bool) -> list[ResourceKind[Any]]:
        """``wanted`` with the optional indexes to serve them with (see :mod:`pipeline.indexes`).
        On a store shared with other live controllers of this process, under its lock: the
        first builds what it needs; a later one serves what the store holds (the union the
        live ones keep) and is refused if it needs an optional index the store lacks."""
        if self._handle is None:
            return indexes.held(self.store, wanted) if as_stored else indexes.enable(self.store, wanted)
        with self._handle.lock:
            if as_stored:
                served = indexes.held(self.store, wanted)
            else:
                served = indexes.enable(self.store, wanted, frozen=self._handle.serving_peers > 0)
            self._handle.begin_serving()
            return served

    @property
    def watch_poll_s(self) -> float | None:
        return self.resources.watch_poll_s

    @property
    def hub(self) -> EventHub:
        """Wakes watchers after each committed change (ours, and others' the backend hears of)."""
        return self.resources.hub

    @property
    def pipelines(self) -> dict[str, Pipeline[Any]]:
        """The session operations by name (the gRPC method names)."""
        return self.resources.kinds[SESSION.name].pipelines

    def recover(self, *, actor: str = "recovery") -> list[str]:
        """Move every session in a live phase of the lifecycle to its recovery phase, each
        with a SessionPhaseChanged change caused by "restart-recovery"; returns their ids.
        Does nothing when the lifecycle has no recovery phase. Uses the phase index."""
        lifecycle = self.config.lifecycle
        if not lifecycle.recovery_phase:
            return []
        live = [p for p in lifecycle.phases if p in lifecycle.live and p != lifecycle.recovery_phase]

        def find(tx: Tx) -> list[str]:
            records = tx.records(self.kinds[0])
            return [s.metadata.id for phase in live for s, _ in records.scan_sized(PHASE_INDEX, (phase,))]

        moved = self.store.read(find)
        for session_id in moved:
            self.transition(session_id, lifecycle.recovery_phase, actor=actor, caused_by="restart-recovery")
        return moved

    def check(
        self,
        *,
        progress: maintenance.Progress | None = None,
        avoid: Mapping[str, bytes | None] | None = None,
        journal: maintenance.Journal | None = None,
    ) -> CheckReport:
        """Read everything in the store and check it (see ``pipeline.maintenance.verify``).
        ``progress(n)``: n more items checked (see :mod:`pipeline.maintenance`)."""
        return maintenance.verify(self.store, self.kinds, progress=progress, avoid=avoid, journal=journal)

    def reindex(
        self, *, progress: maintenance.Progress | None = None, optional_indexes: Iterable[str] | None = None
    ) -> int:
        """Rebuild every secondary index and counter from the records. With
        ``optional_indexes``, the sessions keep exactly those optional indexes (e.g. ``()``:
        drop the per-owner and phase indexes no feature of the deployment uses); open a new
        controller afterwards to serve the new set."""
        kinds = list(self.kinds)
        if optional_indexes is not None:
            if self._handle is not None and self._handle.serving_peers:
                raise FailedPrecondition(
                    f"other controllers in this process serve the store {self.store.description}: "
                    "close them before changing the optional indexes it keeps"
                )
            kinds[0] = kinds[0].with_optional(optional_indexes)
        return maintenance.reindex(self.store, kinds, progress=progress)

    def export(self, out: IO[str], *, progress: maintenance.Progress | None = None) -> dict[str, int]:
        """A consistent JSONL snapshot: sessions, their messages, agent instances, the change log."""
        return maintenance.export(self.store, self.kinds, out, progress=progress)

    def import_(
        self, lines: Iterable[str], *, progress: maintenance.Progress | None = None
    ) -> dict[str, int]:
        """Restore an export into this (empty) store. ``lines`` must be iterable again from
        the start (a list, or a file): the store re-runs the write if the map must grow."""
        counts = maintenance.import_(self.store, self.kinds, lines, progress=progress)
        self.hub.publish(self.store.read(lambda tx: tx.changes.current_revision()))
        return counts

    def sizes(self) -> maintenance.Sizes:
        """How many records (sessions and agent instances), messages and retained changes
        there are (progress totals)."""
        return maintenance.sizes(self.store, self.kinds)

    def compact_changes(
        self, *, keep_revisions: int | None = None, max_age_s: float | None = None, now_ns: int | None = None
    ) -> CompactionResult:
        """Drop changes beyond the newest ``keep_revisions`` and older than ``max_age_s``."""
        return events.compact(
            self.store,
            keep_revisions=keep_revisions,
            max_age_ns=None if max_age_s is None else int(max_age_s * 1e9),
            now_ns=time.time_ns() if now_ns is None else now_ns,
        )

    def close(self) -> None:
        """Stop following the store, and close it if this controller opened it: its handle,
        that is; the store itself closes with the last controller on it in this process."""
        self._stop_following()
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> SessionController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
