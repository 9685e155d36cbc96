"""The authorization matrix over gRPC: every RPC of every kind x every caller x every target.

Callers: no credentials, a viewer, an editor and an admin of ``acme-org``, an admin of
``beta-org`` only, and ``"*"`` (admin everywhere). Targets: a resource (or, for the calls
that name an org, the org) of ``acme-org`` ("own"), of ``beta-org`` ("other"), one that does
not exist ("nonexistent": an unknown id, or an org with nothing in it), and, for the calls
that may name no org, "every" (no org). Each cell seeds fresh records in both orgs (as the
trusted library), makes its call and checks the code the rules of docs/security.md give:

- no credentials: UNAUTHENTICATED;
- a resource in an org the caller cannot read, or none at all: NOT_FOUND (same answer);
- a resource it can read but may not act on with the call's role: PERMISSION_DENIED;
- a create/apply into, or a list/feed/watch of, an org where it lacks the role:
  PERMISSION_DENIED, whether or not the org has anything in it.

Every answer a caller gets is checked for the org names it may not read: over the whole
matrix (lists without an org, listByAgent, getByAgent, listChanges and watch included) no
response carries anything of such an org.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.message import Message

from pipeline.auth import EVERY_ORG, Principal, Role
from pipeline.errors import Unauthenticated
from stigmer_sessions import SessionController
from stigmer_sessions.agent_instance import SERVICES as AGENT_INSTANCE_SERVICES
from stigmer_sessions.api import (
    AgentInstanceId,
    ApiResourceReference,
    AppendSessionMessageRequest,
    AppendSessionMessagesRequest,
    ClearSessionMessagesRequest,
    GetAgentInstancesByAgentRequest,
    ListAgentInstanceChangesRequest,
    ListSessionChangesRequest,
    ListSessionMessagesRequest,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    PopSessionMessagesRequest,
    ResumeSessionRequest,
    SessionId,
    SessionMessageInput,
    TransitionSessionRequest,
    WatchAgentInstanceChangesRequest,
    WatchSessionChangesRequest,
)
from stigmer_sessions.grpc_server import RunningServer, start_server
from stigmer_sessions.session import SERVICES as SESSION_SERVICES
from tests.conftest import make_agent_instance, make_session

OWN, OTHER, GHOST = "acme-org", "beta-org", "ghost-org"
SHARED_INSTANCE, SHARED_AGENT = "ain-shared", "agt-shared"
MISSING = {"session": "ses-01jmissing0000000000000000", "agent_instance": "ain-01jmissing0000000000000000"}

#: authorization header value -> who it is (the test authenticator's table).
PRINCIPALS = {
    "viewer": Principal("vera", {OWN: Role.VIEWER}),
    "editor": Principal("eddie", {OWN: Role.EDITOR}),
    "admin": Principal("ada", {OWN: Role.ADMIN}),
    "other-admin": Principal("otto", {OTHER: Role.ADMIN}),
    "star": Principal("root", {EVERY_ORG: Role.ADMIN}),
}
CALLERS = ["none", *PRINCIPALS]


def authenticate(context: grpc.ServicerContext) -> Principal:
    """``authorization: Bearer <name>`` for a name of PRINCIPALS; else UNAUTHENTICATED."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and str(value).startswith("Bearer "):
            found = PRINCIPALS.get(str(value).removeprefix("Bearer "))
            if found is not None:
                return found
    raise Unauthenticated("missing or invalid credentials")


# --- the calls --------------------------------------------------------------------------------

#: (kind, operation) -> the role it needs (docs/security.md).
READS = {"get", "getByReference", "list", "listByAgent", "getByAgent", "listMessages", "resume"}
READS |= {"listChanges", "watch"}
DELETES = {"delete"}
#: Calls that name an org in the request (create, apply, the lists and feeds).
ORG_CALLS = {"create", "apply", "list", "listByAgent", "getByAgent", "listChanges", "watch"}
#: Of those, the ones that may name none ("every" column).
ANY_ORG_CALLS = {"list", "listByAgent", "getByAgent", "listChanges", "watch"}


def role_of(operation: str) -> Role:
    if operation in READS:
        return Role.VIEWER
    return Role.ADMIN if operation in DELETES else Role.EDITOR


@dataclass
class Seeded:
    """What a cell seeded: a session and an agent instance in each org, by org."""

    sessions: dict[str, Any]
    instances: dict[str, Any]
    revision: int


_names = itertools.count()


def seed(controller: SessionController) -> Seeded:
    revision = controller.store.read(lambda tx: tx.changes.current_revision())
    sessions, instances = {}, {}
    for org in (OWN, OTHER):
        n = next(_names)
        instances[org] = controller.agent_instances.create(
            make_agent_instance(f"bot {n}", org=org, agent=SHARED_AGENT)
        )
        session = controller.create(make_session(f"chat {n}", org=org, agent=SHARED_INSTANCE))
        controller.append_message(session.metadata.id, "user", f"private words of {org}")
        sessions[org] = controller.get(session.metadata.id)
    return Seeded(sessions, instances, revision)


def _target_id(kind: str, seeded: Seeded, target: str) -> str:
    if target == "nonexistent":
        return MISSING[kind]
    org = OWN if target == "own" else OTHER
    record = seeded.sessions[org] if kind == "session" else seeded.instances[org]
    return str(record.metadata.id)


def _target_org(target: str) -> str:
    return {"own": OWN, "other": OTHER, "nonexistent": GHOST, "every": ""}[target]


def request_for(kind: str, operation: str, seeded: Seeded, target: str) -> Message:
    """The request of one cell: valid, and effective when the caller may make it."""
    rid = _target_id(kind, seeded, target) if operation not in ORG_CALLS else ""
    org = _target_org(target)
    n = next(_names)
    if kind == "session":
        builders: dict[str, Callable[[], Message]] = {
            "create": lambda: make_session(f"new {n}", org=org),
            "apply": lambda: make_session(f"applied {n}", org=org),
            "update": lambda: _updated(seeded, target, kind),
            "delete": lambda: SessionId(value=rid),
            "pin": lambda: SessionId(value=rid),
            "unpin": lambda: SessionId(value=rid),
            "transition": lambda: TransitionSessionRequest(session_id=rid, phase="paused"),
            "appendMessage": lambda: AppendSessionMessageRequest(
                session_id=rid, role="role_user", content="hello"
            ),
            "appendMessages": lambda: AppendSessionMessagesRequest(
                session_id=rid, messages=[SessionMessageInput(role="role_user", content="hello")]
            ),
            "popMessages": lambda: PopSessionMessagesRequest(session_id=rid),
            "clearMessages": lambda: ClearSessionMessagesRequest(session_id=rid),
            "listMessages": lambda: ListSessionMessagesRequest(session_id=rid),
            "resume": lambda: ResumeSessionRequest(session_id=rid),
            "get": lambda: SessionId(value=rid),
            "getByReference": lambda: _reference(seeded.sessions, target),
            "list": lambda: ListSessionsRequest(org=org),
            "listByAgent": lambda: ListSessionsByAgentRequest(agent_id=SHARED_INSTANCE, org=org),
            "listChanges": lambda: ListSessionChangesRequest(org=org, after_revision=seeded.revision),
            "watch": lambda: WatchSessionChangesRequest(org=org, after_revision=seeded.revision),
        }
    else:
        builders = {
            "create": lambda: make_agent_instance(f"new bot {n}", org=org),
            "apply": lambda: make_agent_instance(f"applied bot {n}", org=org),
            "update": lambda: _updated(seeded, target, kind),
            "delete": lambda: AgentInstanceId(value=rid),
            "get": lambda: AgentInstanceId(value=rid),
            "getByReference": lambda: _reference(seeded.instances, target),
            "getByAgent": lambda: GetAgentInstancesByAgentRequest(agent_id=SHARED_AGENT, org=org),
            "listChanges": lambda: ListAgentInstanceChangesRequest(org=org, after_revision=seeded.revision),
            "watch": lambda: WatchAgentInstanceChangesRequest(org=org, after_revision=seeded.revision),
        }
    return builders[operation]()


def _updated(seeded: Seeded, target: str, kind: str) -> Message:
    if target == "nonexistent":
        record = (
            make_session("ghost", org=OWN) if kind == "session" else make_agent_instance("ghost", org=OWN)
        )
        record.metadata.id = MISSING[kind]
        return record
    org = OWN if target == "own" else OTHER
    record = seeded.sessions[org] if kind == "session" else seeded.instances[org]
    changed: Message = type(record)()
    changed.CopyFrom(record)
    changed.metadata.labels["edited"] = "yes"  # type: ignore[attr-defined]
    return changed


def _reference(records: dict[str, Any], target: str) -> ApiResourceReference:
    if target == "nonexistent":
        return ApiResourceReference(org=GHOST, slug="nothing-here")
    record = records[OWN if target == "own" else OTHER]
    return ApiResourceReference(org=record.metadata.org, slug=record.metadata.slug)


def expected(caller: str, operation: str, target: str) -> grpc.StatusCode:
    """The code the rules give (independent of how the server implements them)."""
    if caller == "none":
        return grpc.StatusCode.UNAUTHENTICATED
    principal = PRINCIPALS[caller]
    role = role_of(operation)
    if target == "every":
        return grpc.StatusCode.OK
    org = _target_org(target)
    if operation in ORG_CALLS:
        return grpc.StatusCode.OK if principal.may(role, org) else grpc.StatusCode.PERMISSION_DENIED
    if target == "nonexistent" or not principal.may(Role.VIEWER, org):
        return grpc.StatusCode.NOT_FOUND
    return grpc.StatusCode.OK if principal.may(role, org) else grpc.StatusCode.PERMISSION_DENIED


def unreadable(caller: str) -> list[str]:
    """The org names the caller may read nothing of (every org, without credentials)."""
    if caller == "none":
        return [OWN, OTHER]
    return [org for org in (OWN, OTHER) if not PRINCIPALS[caller].may(Role.VIEWER, org)]


# --- the server -------------------------------------------------------------------------------


@dataclass
class Served:
    controller: SessionController
    server: RunningServer
    channel: grpc.Channel
    methods: dict[tuple[str, str], tuple[str, type[Message], type[Message], bool]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    where: Path = tmp_path_factory.mktemp("authz")
    with SessionController(where / "db", durable=False, bookmark_interval_s=0.05) as controller:
        server = start_server(controller, "127.0.0.1:0", authenticator=authenticate)
        channel = grpc.insecure_channel(server.address)
        methods = {}
        for kind, services in (("session", SESSION_SERVICES), ("agent_instance", AGENT_INSTANCE_SERVICES)):
            for service in services:
                for m in service.methods:
                    methods[kind, m.name] = (
                        f"/{service.full_name}/{m.name}",
                        message_factory.GetMessageClass(m.input_type),
                        message_factory.GetMessageClass(m.output_type),
                        m.server_streaming,
                    )
        try:
            yield Served(controller, server, channel, methods)
        finally:
            channel.close()
            server.stop(grace=None)


def call(
    served: Served, kind: str, operation: str, request: Message, caller: str
) -> tuple[grpc.StatusCode, list[Message]]:
    """Make the call as ``caller``; its code and what it answered (a watch: every item until
    its first bookmark, which says it has caught up)."""
    path, request_type, response_type, streaming = served.methods[kind, operation]
    metadata = () if caller == "none" else (("authorization", f"Bearer {caller}"),)
    try:
        if not streaming:
            stub = served.channel.unary_unary(
                path,
                request_serializer=request_type.SerializeToString,
                response_deserializer=response_type.FromString,
            )
            return grpc.StatusCode.OK, [stub(request, metadata=metadata, timeout=30)]
        stream = served.channel.unary_stream(
            path,
            request_serializer=request_type.SerializeToString,
            response_deserializer=response_type.FromString,
        )
        responses = stream(request, metadata=metadata, timeout=30)
        items: list[Message] = []
        try:
            for item in responses:
                items.append(item)
                if item.HasField("bookmark"):
                    break
        finally:
            responses.cancel()
        return grpc.StatusCode.OK, items
    except grpc.RpcError as error:
        return error.code(), []


CELLS = [
    pytest.param(kind, op, caller, target, id=f"{kind}-{op}-{caller}-{target}")
    for kind, ops in (
        ("session", [m.name for s in SESSION_SERVICES for m in s.methods]),
        ("agent_instance", [m.name for s in AGENT_INSTANCE_SERVICES for m in s.methods]),
    )
    for op in ops
    for caller in CALLERS
    for target in ("own", "other", "nonexistent", *(("every",) if op in ANY_ORG_CALLS else ()))
]


@pytest.mark.parametrize(("kind", "operation", "caller", "target"), CELLS)
def test_matrix(served: Served, kind: str, operation: str, caller: str, target: str) -> None:
    seeded = seed(served.controller)
    request = request_for(kind, operation, seeded, target)
    code, answers = call(served, kind, operation, request, caller)
    want = expected(caller, operation, target)
    assert code == want, f"expected {want.name}, got {code.name}"
    hidden = unreadable(caller)
    for answer in answers:
        body = answer.SerializeToString()
        leaked = [org for org in hidden if org.encode() in body]
        assert not leaked, f"the answer carries {leaked} to {caller}"
    if code == grpc.StatusCode.OK and operation in READS:
        # What the caller may read is there (so the check above is not vacuous): the
        # target, or, without an org, every org it may read, seeded by this very cell.
        shown = [_target_org(target)] if target in ("own", "other") else []
        if target == "every":
            shown = [org for org in (OWN, OTHER) if org not in hidden]
        for org in shown:
            assert any(org.encode() in a.SerializeToString() for a in answers), f"{org} not shown"


def test_every_rpc_is_in_the_matrix() -> None:
    """Every method of every kind's services has its cells (a new RPC cannot be forgotten)."""
    covered = {(p.values[0], p.values[1]) for p in CELLS}
    served = {("session", m.name) for s in SESSION_SERVICES for m in s.methods}
    served |= {("agent_instance", m.name) for s in AGENT_INSTANCE_SERVICES for m in s.methods}
    assert covered == served
    assert len(CELLS) >= len(served) * len(CALLERS) * 3
