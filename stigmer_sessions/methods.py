"""The typed session and agent instance operations, written once for every transport.

:class:`SessionMethods` is what :class:`~stigmer_sessions.SessionController` (in-process) and
:class:`~stigmer_sessions.client.SessionClient` (gRPC) share: each method builds its request
and returns ``self.call(...)`` (post-processing through ``self.call_then``), so an operation
added here is on the controller and on both clients at once. Only light modules are imported
(the generated messages, :mod:`pipeline.methods`): clients load no store and no validator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.auth import Principal
from pipeline.methods import KindMethods, KindTypes
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceChangeList,
    AgentInstanceList,
    AppendSessionMessageRequest,
    AppendSessionMessagesRequest,
    ClearSessionMessagesRequest,
    GetAgentInstancesByAgentRequest,
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
    WatchAgentInstanceChangesResponse,
    WatchSessionChangesResponse,
)
from stigmer_sessions.protos import AGENT_INSTANCE_SERVICES, SESSION_SERVICES

#: The messages of each kind's standard operations, read from its services.
SESSION_TYPES = KindTypes.served_by([service for service, _ in SESSION_SERVICES])
AGENT_INSTANCE_TYPES = KindTypes.served_by([service for service, _ in AGENT_INSTANCE_SERVICES])
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


def _messages(page: SessionMessageList) -> list[SessionMessage]:
    return list(page.messages)


class SessionMethods(KindMethods[Session, SessionChangeList, WatchSessionChangesResponse]):
    """The session operations every transport serves (the standard ones from
    :class:`~pipeline.methods.KindMethods`, and the session's own)."""

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
        return self.call_then(
            "appendMessages", request, SessionMessageList, _messages, actor=actor, **options
        )

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
        return self.call_then("popMessages", request, SessionMessageList, _messages, actor=actor, **options)

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


class AgentInstanceMethods(
    KindMethods[AgentInstance, AgentInstanceChangeList, WatchAgentInstanceChangesResponse]
):
    """The agent instance operations every transport serves."""

    def get_by_agent(
        self,
        request: GetAgentInstancesByAgentRequest | None = None,
        *,
        principal: Principal | None = None,
        **fields: Any,
    ) -> AgentInstanceList:
        """One page of the instances of ``agent_id``: ``get_by_agent(agent_id="agt-1",
        page_info=PageInfo(num=2, size=20))``, or ``page_token=``; ``org=`` narrows."""
        request = request or GetAgentInstancesByAgentRequest(**fields)
        return self.call("getByAgent", request, AgentInstanceList, principal=principal)
