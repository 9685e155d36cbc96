"""The Session kind's service: the standard operations plus what only sessions do.

Create, update, apply, delete, get, getByReference, list and listChanges come from
:mod:`pipeline.operations` with the session's rules (size limits, generated names, quotas,
initial phase, messages deleted with the session); pin, unpin, transition, the message
history (one message or a batch), resume and listByAgent are defined here. Every
operation's step list is in ``docs/operations.md``.
"""

from __future__ import annotations

from typing import Any

from pipeline import operations as ops
from pipeline.auth import Role
from pipeline.keys import CHILD, CHILDREN
from pipeline.operations import Rules, Settings, operation
from pipeline.pipeline import Pipeline
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
    SessionChangeList,
    SessionList,
    SessionMessage,
    SessionMessageList,
    WatchSessionChangesResponse,
)
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.resource import AGENT_INSTANCE_INDEX, ORG_AGENT_INSTANCE_INDEX, SESSION
from stigmer_sessions.steps import (
    AppendMessage,
    AppendMessages,
    ApplyTransition,
    EnforceBatchLimits,
    ListMessages,
    RequireAgentInstance,
    ResumeConversation,
    SetPinned,
)
from stigmer_sessions.steps.keys import APPENDED

SERVICES = (
    command_pb2.DESCRIPTOR.services_by_name["SessionCommandController"],
    query_pb2.DESCRIPTOR.services_by_name["SessionQueryController"],
    message_pb2.DESCRIPTOR.services_by_name["SessionMessageController"],
    change_pb2.DESCRIPTOR.services_by_name["SessionChangeController"],
)


def session_service(config: SessionConfig, s: Settings) -> KindService:
    """Every Session operation, shaped by the deployment's ``config``; with
    ``require_agent_instance`` a session about to be stored must name an existing agent
    instance of its org."""
    rules = Rules(
        size_limits=EnforceSizeLimits(config.session_size_limits(), "Session"),
        naming=GenerateName(config.name_pattern),
        quota=EnforceQuota(config.max_sessions_per_org, config.max_sessions_per_owner),
        initial_phase=SetInitialPhase(config.lifecycle),
        checks=(RequireAgentInstance(),) if config.require_agent_instance else (),
        children=True,
    )
    return KindService(
        SESSION,
        [
            ops.create(SESSION, s, rules),
            ops.update(SESSION, s, rules),
            ops.apply(SESSION, s, rules),
            ops.delete(SESSION, s, rules),
            pinning(s, pinned=True),
            pinning(s, pinned=False),
            transition(s, config),
            append_message(s, config),
            append_messages(s, config),
            list_messages(s),
            resume(s),
            ops.get(SESSION, s),
            ops.get_by_reference(SESSION, s),
            ops.list_(SESSION, s, SessionList),
            list_by_agent(s),
            ops.list_changes(SESSION, s, SessionChangeList, "session_id"),
        ],
        services=SERVICES,
        feed=ChangeFeed(WatchSessionChangesResponse, "session_id"),
    )


def pinning(s: Settings, *, pinned: bool) -> Pipeline[Any]:
    verb = "pin" if pinned else "unpin"
    return operation(
        SESSION,
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


def transition(s: Settings, config: SessionConfig) -> Pipeline[Any]:
    return operation(
        SESSION,
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


def append_message(s: Settings, config: SessionConfig) -> Pipeline[Any]:
    return operation(
        SESSION,
        "appendMessage",
        [
            Authorize(Role.EDITOR),
            ValidateProto(s.validator),
            EnforceSizeLimits((SizeLimit("metadata", config.max_message_metadata_bytes),), "message"),
            CheckIdempotency(SessionMessage),
            ExtractResourceId("session_id"),
            LoadExistingForDelete(),
            RequirePhase(config.lifecycle.accepts_messages, "accept messages"),
            AppendMessage(config.max_message_bytes),
            Persist(),
            AppendEvent("MessageAppended", s.hub, carry=CHILD),
            Respond(CHILD),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc="Append a message to a session's history: the message, the session's message_count "
        "and last_activity_at, and a SessionMessageAppended change are one write.",
    )


def append_messages(s: Settings, config: SessionConfig) -> Pipeline[Any]:
    return operation(
        SESSION,
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
            RequirePhase(config.lifecycle.accepts_messages, "accept messages"),
            AppendMessages(),
            Persist(),
            AppendEvent("MessageAppended", s.hub, carry_each=CHILDREN),
            Respond(APPENDED),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc="Append a batch of messages, all or none: the messages (consecutive sequence numbers), "
        "the session's message_count and last_activity_at (one rewrite), and one "
        "SessionMessageAppended change per message are one write.",
    )


def list_messages(s: Settings) -> Pipeline[Any]:
    return operation(
        SESSION,
        "listMessages",
        [Authorize(Role.VIEWER), ValidateProto(s.validator), ListMessages(max_bytes=s.max_response_bytes)],
        write=False,
        doc="One page of a session's messages, oldest first (or newest first).",
    )


def resume(s: Settings) -> Pipeline[Any]:
    return operation(
        SESSION,
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


def list_by_agent(s: Settings) -> Pipeline[Any]:
    return operation(
        SESSION,
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
