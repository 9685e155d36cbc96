"""SessionController: the in-process API, the same operations as the gRPC services.

Every method runs one pipeline in one store transaction and returns the resulting message
or raises a typed :class:`pipeline.errors.ResourceError`. Pipelines and the validator are
built once per controller; the controller is thread-safe (the storage backend makes every
write transaction atomic and reads run concurrently).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import IO, Any, TypeVar

import protovalidate
from google.protobuf.message import Message

from pipeline import events, indexes, maintenance, watch
from pipeline.auth import Principal
from pipeline.authorization import DEFAULT_AUTHORIZER, Authorizer
from pipeline.controller import KindController, KindTypes
from pipeline.events import CompactionResult, EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.operations import Settings
from pipeline.pipeline import Pipeline
from pipeline.resource import ResourceKind
from pipeline.service import Resources
from pipeline.storage import CheckReport, Storage, Tx
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage_url import open_storage
from pipeline.validation import shared_validator
from stigmer_sessions.agent_instance import agent_instance_service
from stigmer_sessions.api import (
    AppendSessionMessageRequest,
    AppendSessionMessagesRequest,
    ClearSessionMessagesRequest,
    ListSessionMessagesRequest,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    PopSessionMessagesRequest,
    ResumeSessionRequest,
    ResumeSessionResponse,
    Session,
    SessionChangeList,
    SessionId,
    SessionList,
    SessionMessage,
    SessionMessageInput,
    SessionMessageList,
    SessionMessageRole,
    TransitionSessionRequest,
    WatchSessionChangesResponse,
)
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.controller.agent_instance_controller import AgentInstanceController
from stigmer_sessions.resource import AGENT_INSTANCE, PHASE_INDEX, SESSION
from stigmer_sessions.session import SERVICES, session_kind, session_service

R = TypeVar("R", bound=Message)
#: Every kind a controller serves, for the maintenance commands (check, export, ...).
TYPES = KindTypes.served_by(SERVICES)
#: A message of a batch: a SessionMessageInput, or (role, content) or (role, content, metadata).
MessageInput = (
    SessionMessageInput
    | tuple[SessionMessageRole | str, str]
    | tuple[SessionMessageRole | str, str, Mapping[str, str]]
)


def role_of(role: SessionMessageRole | str) -> str:
    """A role's enum name from a SessionMessageRole or "user", "role_user", ..."""
    name = role if isinstance(role, str) else SessionMessageRole.Name(role)
    return name if name.startswith("role_") else f"role_{name}"


def message_input(message: MessageInput) -> SessionMessageInput:
    if isinstance(message, SessionMessageInput):
        return message
    role, content, *rest = message
    return SessionMessageInput(role=role_of(role), content=content, metadata=rest[0] if rest else None)


class SessionController(KindController[Session, SessionChangeList, WatchSessionChangesResponse]):
    """Session operations on a store; :attr:`agent_instances` serves agent instances on it.

    ``SessionController("./data")`` opens (and owns) an LMDB store in that directory;
    ``SessionController(store="postgresql://...")`` (or ``"lmdb:///path"``) opens and owns
    the store that URL names (see :func:`pipeline.storage_url.open_storage`; ``store_options``
    go to the backend, e.g. ``{"pool_size": 16, "migrate": False}`` for PostgreSQL);
    ``SessionController(store=storage)`` uses a :class:`~pipeline.storage.Storage` you
    manage (and close). Use it as a context manager, or call :meth:`close`, to release an
    owned store.

    The store keeps the optional indexes ``config`` needs (built at open when missing: see
    :mod:`pipeline.indexes`); ``as_stored=True`` (maintenance: check, export, reindex) opens
    it with the indexes it holds and builds none.

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
        self._owns_store = store is None or isinstance(store, str)
        self.store: Storage
        if store is None:
            self.store = LmdbStorage(data_dir, durable=durable)
        elif isinstance(store, str):
            self.store = open_storage(store, durable=durable, **(store_options or {}))
        else:
            self.store = store
        v = validator or shared_validator()
        hub = EventHub(self.store.read(lambda tx: tx.changes.current_revision()))
        self._stop_following = self.store.follow(hub.publish)
        #: Lifecycle, quotas, generated names, message size limit, response byte budget.
        self.config = cfg = config or SessionConfig()
        ttl = int(request_id_ttl_s * 1e9)
        settings = Settings(
            validator=v, request_ttl_ns=ttl, hub=hub, max_response_bytes=cfg.max_response_bytes
        )
        wanted: list[ResourceKind[Any]] = [session_kind(cfg), AGENT_INSTANCE]
        try:
            served = indexes.held(self.store, wanted) if as_stored else indexes.enable(self.store, wanted)
        except BaseException:
            if self._owns_store:
                self.store.close()
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

    def pin(
        self,
        session_id: str | SessionId,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> Session:
        """Pin (idempotent: a pinned session is returned unchanged, with no change recorded);
        only if at ``expected_version`` when given (ABORTED otherwise)."""
        options = {"request_id": request_id, "expected_version": expected_version, "dry_run": dry_run}
        return self.call("pin", self.id_of(session_id), Session, actor=actor, principal=principal, **options)

    def unpin(
        self,
        session_id: str | SessionId,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> Session:
        """Unpin (idempotent and conditional like :meth:`pin`)."""
        options = {"request_id": request_id, "expected_version": expected_version, "dry_run": dry_run}
        return self.call(
            "unpin", self.id_of(session_id), Session, actor=actor, principal=principal, **options
        )

    def transition(
        self,
        session_id: str,
        phase: str,
        *,
        reason: str = "",
        expected_version: str = "",
        actor: str = "",
        request_id: str = "",
        dry_run: bool = False,
        caused_by: str = "",
        principal: Principal | None = None,
    ) -> Session:
        """Move to ``phase``; FAILED_PRECONDITION (nothing changed) if the lifecycle forbids it."""
        request = TransitionSessionRequest(
            session_id=session_id, phase=phase, reason=reason, expected_version=expected_version
        )
        options = {"request_id": request_id, "dry_run": dry_run, "caused_by": caused_by}
        return self.call("transition", request, Session, actor=actor, principal=principal, **options)

    def append_message(
        self,
        session_id: str,
        role: SessionMessageRole | str,
        content: str,
        *,
        metadata: dict[str, str] | None = None,
        payload: bytes = b"",
        media_type: str = "",
        expected_version: str = "",
        actor: str = "",
        request_id: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> SessionMessage:
        """Append to the history; ``role`` is a SessionMessageRole or "user", "assistant",
        "system", "tool"; ``payload`` is stored byte-exact beside ``content``. NOT_FOUND,
        FAILED_PRECONDITION (phase), INVALID_ARGUMENT (size), ABORTED (the session is not at
        ``expected_version``)."""
        request = AppendSessionMessageRequest(
            session_id=session_id,
            role=role_of(role),
            content=content,
            metadata=metadata,
            payload=payload,
            media_type=media_type,
            expected_version=expected_version,
        )
        options = {"request_id": request_id, "dry_run": dry_run, "principal": principal}
        return self.call("appendMessage", request, SessionMessage, actor=actor, **options)

    def append_messages(
        self,
        session_id: str,
        messages: Iterable[MessageInput],
        *,
        expected_version: str = "",
        actor: str = "",
        request_id: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> list[SessionMessage]:
        """Append a batch in one write, all or none: ``messages`` are SessionMessageInput or
        ``(role, content)`` / ``(role, content, metadata)`` tuples (roles as in
        :meth:`append_message`). Returns the stored messages, with consecutive sequence
        numbers. INVALID_ARGUMENT naming the item (``messages[3].content``) when any breaks
        a limit, then nothing is written; NOT_FOUND, FAILED_PRECONDITION, ABORTED
        (``expected_version``) as appendMessage."""
        request = AppendSessionMessagesRequest(
            session_id=session_id,
            messages=[message_input(m) for m in messages],
            expected_version=expected_version,
        )
        options = {"request_id": request_id, "dry_run": dry_run, "principal": principal}
        appended = self.call("appendMessages", request, SessionMessageList, actor=actor, **options)
        return list(appended.messages)

    def pop_messages(
        self,
        session_id: str,
        count: int = 1,
        *,
        expected_version: str = "",
        actor: str = "",
        request_id: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> list[SessionMessage]:
        """Remove the latest ``count`` messages in one write and return them in sequence
        order (the last is the latest; empty when there was none; fewer when returning them
        would pass the response budget). Their sequence numbers are never reused. NOT_FOUND,
        FAILED_PRECONDITION (phase), ABORTED (``expected_version``) as appendMessage."""
        request = PopSessionMessagesRequest(
            session_id=session_id, count=count, expected_version=expected_version
        )
        options = {"request_id": request_id, "dry_run": dry_run, "principal": principal}
        removed = self.call("popMessages", request, SessionMessageList, actor=actor, **options)
        return list(removed.messages)

    def clear_messages(
        self,
        session_id: str,
        *,
        expected_version: str = "",
        actor: str = "",
        request_id: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> Session:
        """Remove every message, keeping the session, in one write; returns the session
        (message_count 0). Errors as :meth:`pop_messages`."""
        request = ClearSessionMessagesRequest(session_id=session_id, expected_version=expected_version)
        options = {"request_id": request_id, "dry_run": dry_run, "principal": principal}
        return self.call("clearMessages", request, Session, actor=actor, **options)

    def list_messages(
        self,
        request: ListSessionMessagesRequest | None = None,
        *,
        principal: Principal | None = None,
        **fields: Any,
    ) -> SessionMessageList:
        """One page of a session's history (``session_id=``, ``after_sequence=``,
        ``newest_first=``, ``page_size=``, ``page_token=``, ``created_after=``)."""
        request = request or ListSessionMessagesRequest(**fields)
        return self.call("listMessages", request, SessionMessageList, principal=principal)

    def resume(
        self, session_id: str, *, page_size: int = 0, principal: Principal | None = None
    ) -> ResumeSessionResponse:
        """The session and its latest ``page_size`` (default 100) messages, in one read."""
        request = ResumeSessionRequest(session_id=session_id, page_size=page_size)
        return self.call("resume", request, ResumeSessionResponse, principal=principal)

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

    def list(
        self, request: ListSessionsRequest | None = None, *, principal: Principal | None = None, **fields: Any
    ) -> SessionList:
        """One page, newest first: ``list(org="acme", tags=["x"], page_size=20, page_token=...)``."""
        return self.call("list", request or ListSessionsRequest(**fields), SessionList, principal=principal)

    def list_by_agent(
        self,
        request: ListSessionsByAgentRequest | None = None,
        *,
        principal: Principal | None = None,
        **fields: Any,
    ) -> SessionList:
        """One page of the sessions whose ``spec.agent_instance_id`` is ``agent_id``."""
        request = request or ListSessionsByAgentRequest(**fields)
        return self.call("listByAgent", request, SessionList, principal=principal)

    def close(self) -> None:
        """Stop following the store, and close it if this controller opened it."""
        self._stop_following()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> SessionController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
