"""The Session kind's service: the standard operations plus what only sessions do.

Create, update, apply, delete, get, getByReference, list and listChanges come from
:mod:`pipeline.operations` with the session's rules (size limits, generated names, quotas,
initial phase, messages deleted with the session); pin, unpin, transition, the message
history (append one message or a batch, pop the latest, clear), resume and listByAgent
are defined here. Every
operation's step list is in ``docs/operations.md``.
"""

from __future__ import annotations

from typing import Any

from pipeline import operations as ops
from pipeline.auth import Role
from pipeline.keys import CHILD, CHILDREN
from pipeline.operations import Rules, Settings, operation
from pipeline.pipeline import Pipeline
from pipeline.resource import ORG_OWNER_INDEX, ResourceKind
from pipeline.service import ChangeFeed, KindService
from pipeline.steps import (
    AppendEvent,
    Authorize,
    BuildListResponse,
    CheckIdempotency,
    CheckVersion,
    EnforceQuota,
    EnforceSizeLimits,
    ExtractResourceId,
    GenerateName,
    ListPage,
    LoadExistingForDelete,
    LoadTarget,
    Persist,
    RememberRequest,
    RequirePhase,
    Respond,
    ScopeToIndex,
    SetInitialPhase,
    SizeLimit,
    ValidateProto,
    ValidateTransition,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2,
    command_pb2,
    message_pb2,
    query_pb2,
)
from stigmer_sessions.api import (
    Session,
    SessionChangeList,
    SessionList,
    SessionMessage,
    SessionMessageList,
    WatchSessionChangesResponse,
)
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.resource import AGENT_INSTANCE_INDEX, ORG_AGENT_INSTANCE_INDEX, PHASE_INDEX, SESSION
from stigmer_sessions.steps import (
    AppendMessage,
    AppendMessages,
    ApplyTransition,
    ClearMessages,
    EnforceBatchLimits,
    ListMessages,
    PopMessages,
    RequireAgentInstance,
    ResumeConversation,
    SetPinned,
)
from stigmer_sessions.steps.keys import APPENDED, REMOVAL, REMOVED

SERVICES = (
    command_pb2.DESCRIPTOR.services_by_name["SessionCommandController"],
    query_pb2.DESCRIPTOR.services_by_name["SessionQueryController"],
    message_pb2.DESCRIPTOR.services_by_name["SessionMessageController"],
    change_pb2.DESCRIPTOR.services_by_name["SessionChangeController"],
)


def session_kind(config: SessionConfig) -> ResourceKind[Session]:
    """The Session kind keeping the optional indexes ``config`` needs: the per-owner index
    for a per-owner quota, the phase index for a lifecycle with a recovery phase. A store
    may hold more (``pipeline.indexes``)."""
    optional: set[str] = set()
    if config.max_sessions_per_owner:
        optional.add(ORG_OWNER_INDEX)
    if config.lifecycle.recovery_phase:
        optional.add(PHASE_INDEX)
    return SESSION.with_optional(optional)


def session_service(
    config: SessionConfig, s: Settings, kind: ResourceKind[Session] | None = None
) -> KindService:
    """Every Session operation, shaped by the deployment's ``config``, on ``kind`` (the
    Session kind as served, with its optional indexes: :func:`session_kind` when None);
    with ``require_agent_instance`` a session about to be stored must name an existing
    agent instance of its org."""
    kind = kind or session_kind(config)
    rules = Rules(
        size_limits=EnforceSizeLimits(config.session_size_limits(), "Session"),
        naming=GenerateName(config.name_pattern),
        quota=EnforceQuota(config.max_sessions_per_org, config.max_sessions_per_owner),
        initial_phase=SetInitialPhase(config.lifecycle),
        checks=(RequireAgentInstance(),) if config.require_agent_instance else (),
        children=True,
    )
    return KindService(
        kind,
        [
            ops.create(kind, s, rules),
            ops.update(kind, s, rules),
            ops.apply(kind, s, rules),
            ops.delete(kind, s, rules),
            pinning(kind, s, pinned=True),
            pinning(kind, s, pinned=False),
            transition(kind, s, config),
            append_message(kind, s, config),
            append_messages(kind, s, config),
            pop_messages(kind, s, config),
            clear_messages(kind, s, config),
            list_messages(kind, s),
            resume(kind, s),
            ops.get(kind, s),
            ops.get_by_reference(kind, s),
            ops.list_(kind, s, SessionList),
            list_by_agent(kind, s),
            ops.list_changes(kind, s, SessionChangeList, "session_id"),
        ],
        services=SERVICES,
        feed=ChangeFeed(WatchSessionChangesResponse, "session_id"),
    )


def pinning(kind: ResourceKind[Session], s: Settings, *, pinned: bool) -> Pipeline[Any]:
    verb = "pin" if pinned else "unpin"
    return operation(
        kind,
        verb,
        [
            Authorize(Role.EDITOR),
            ValidateProto(s.validator),
            CheckIdempotency(),
            ExtractResourceId(),
            LoadExistingForDelete(),
            CheckVersion(),
            SetPinned(pinned),
            Persist(),
            AppendEvent("Pinned" if pinned else "Unpinned", s.hub),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc=f"{verb.capitalize()} a session (state.pinned); already {verb}ned: returned unchanged, "
        "no change recorded.",
    )


def transition(kind: ResourceKind[Session], s: Settings, config: SessionConfig) -> Pipeline[Any]:
    return operation(
        kind,
        "transition",
        [
            Authorize(Role.EDITOR),
            ValidateProto(s.validator),
            CheckIdempotency(),
            ExtractResourceId("session_id"),
            LoadExistingForDelete(),
            CheckVersion(),
            ValidateTransition(config.lifecycle),
            ApplyTransition(),
            Persist(),
            AppendEvent("PhaseChanged", s.hub),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc="Move a session to another lifecycle phase; an illegal move is FAILED_PRECONDITION, "
        "a move to the current phase a no-op.",
    )


def append_message(kind: ResourceKind[Session], s: Settings, config: SessionConfig) -> Pipeline[Any]:
    return operation(
        kind,
        "appendMessage",
        [
            Authorize(Role.EDITOR),
            ValidateProto(s.validator),
            EnforceSizeLimits((SizeLimit("metadata", config.max_message_metadata_bytes),), "message"),
            CheckIdempotency(SessionMessage),
            ExtractResourceId("session_id"),
            LoadExistingForDelete(),
            CheckVersion(),
            RequirePhase(config.lifecycle.accepts_messages, "accept messages"),
            AppendMessage(config.max_message_bytes),
            Persist(),
            AppendEvent("MessageAppended", s.hub, carry=CHILD),
            Respond(CHILD),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc="Append a message to a session's history: the message, the session's message_count "
        "and last_activity_at, and a SessionMessageAppended change are one write; with "
        "expected_version (or x-if-match) only to that version of the session (ABORTED otherwise).",
    )


def append_messages(kind: ResourceKind[Session], s: Settings, config: SessionConfig) -> Pipeline[Any]:
    return operation(
        kind,
        "appendMessages",
        [
            Authorize(Role.EDITOR),
            ValidateProto(s.validator),
            EnforceBatchLimits(
                config.max_message_bytes,
                config.max_message_metadata_bytes,
                config.max_batch_messages,
                config.max_batch_bytes,
            ),
            CheckIdempotency(SessionMessageList),
            ExtractResourceId("session_id"),
            LoadExistingForDelete(),
            CheckVersion(),
            RequirePhase(config.lifecycle.accepts_messages, "accept messages"),
            AppendMessages(),
            Persist(),
            AppendEvent("MessageAppended", s.hub, carry_all=CHILDREN),
            Respond(APPENDED),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc="Append a batch of messages, all or none: the messages (consecutive sequence numbers), "
        "the session's message_count and last_activity_at (one rewrite), and one "
        "SessionMessageAppended change carrying them are one write; with expected_version (or "
        "x-if-match) only to that version of the session (ABORTED otherwise).",
    )


def pop_messages(kind: ResourceKind[Session], s: Settings, config: SessionConfig) -> Pipeline[Any]:
    return operation(
        kind,
        "popMessages",
        [
            Authorize(Role.EDITOR),
            ValidateProto(s.validator),
            CheckIdempotency(SessionMessageList),
            ExtractResourceId("session_id"),
            LoadExistingForDelete(),
            CheckVersion(),
            RequirePhase(config.lifecycle.accepts_messages, "accept messages"),
            PopMessages(max_bytes=s.max_response_bytes),
            Persist(),
            AppendEvent("MessagesRemoved", s.hub, detail=REMOVAL),
            Respond(REMOVED),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc="Remove the latest messages (default one): the removal, the session's message_count "
        "and a SessionMessagesRemoved change naming them are one write; the removed messages are "
        "returned in sequence order, and their sequence numbers are never given out again. No "
        "message: nothing is written.",
    )


def clear_messages(kind: ResourceKind[Session], s: Settings, config: SessionConfig) -> Pipeline[Any]:
    return operation(
        kind,
        "clearMessages",
        [
            Authorize(Role.EDITOR),
            ValidateProto(s.validator),
            CheckIdempotency(),
            ExtractResourceId("session_id"),
            LoadExistingForDelete(),
            CheckVersion(),
            RequirePhase(config.lifecycle.accepts_messages, "accept messages"),
            ClearMessages(),
            Persist(),
            AppendEvent("MessagesCleared", s.hub, detail=REMOVAL),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc="Remove every message, keeping the session: the removal, message_count 0 and a "
        "SessionMessagesCleared change are one write (O(messages)). No message: nothing is written.",
    )


def list_messages(kind: ResourceKind[Session], s: Settings) -> Pipeline[Any]:
    return operation(
        kind,
        "listMessages",
        [Authorize(Role.VIEWER), ValidateProto(s.validator), ListMessages(max_bytes=s.max_response_bytes)],
        write=False,
        doc="One page of a session's messages, oldest first (or newest first).",
    )


def resume(kind: ResourceKind[Session], s: Settings) -> Pipeline[Any]:
    return operation(
        kind,
        "resume",
        [
            Authorize(Role.VIEWER),
            ValidateProto(s.validator),
            ExtractResourceId("session_id"),
            LoadTarget(),
            ResumeConversation(max_bytes=s.max_response_bytes),
        ],
        write=False,
        doc="A session and its latest messages, read in one transaction.",
    )


def list_by_agent(kind: ResourceKind[Session], s: Settings) -> Pipeline[Any]:
    return operation(
        kind,
        "listByAgent",
        [
            Authorize(Role.VIEWER, "org"),
            ValidateProto(s.validator),
            # agent_id is matched against spec.agent_instance_id, as Stigmer does.
            ScopeToIndex("agent_id", AGENT_INSTANCE_INDEX, ORG_AGENT_INSTANCE_INDEX),
            ListPage(max_bytes=s.max_response_bytes),
            BuildListResponse(SessionList),
        ],
        write=False,
        doc="One page of the sessions of one agent instance (spec.agent_instance_id), newest first.",
    )
