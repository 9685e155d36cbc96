"""The table: one :class:`Case` per (kind, operation), saying how to exercise it.

A case says how to set up an operation's preconditions and build a valid, effective
request (``prepare``), what that request must do (``effect``), and which cross-cutting
promises apply: an invalid request only proto validation refuses, whether it is
versioned, whether a quota caps it, its no-op request, more scenarios and refusals. The
checks (``checks.py``) are written once against these fields; adding a kind is adding
rows (and a factory in ``target.py``). This module holds the table's types, the helpers
every kind's rows use, and the Session rows; ``agent_instance_cases.py`` the AgentInstance
rows, ``integrity_cases.py`` the rows run with ``--require-agent-instance``, and
``table.py`` all of them.

Every request is built fresh by its ``prepare`` (after the setup it needs, through the
target's pristine pipelines), so checks can run it more than once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from pipeline.steps.resolve_slug import slug_from_name
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceSpec,
    ApiResourceKind,
    ApiResourceMetadata,
    ApiResourceOwnerScope,
    ApiResourceReference,
    AppendSessionMessageRequest,
    AppendSessionMessagesRequest,
    ClearSessionMessagesRequest,
    ListSessionChangesRequest,
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
    SessionSpec,
    TransitionSessionRequest,
)
from tests.stigmer_sessions.promises.target import SMALL_BATCH, SMALL_BYTES, Target

#: Who runs the operation under test (setup runs as someone else).
ACTOR = "alice"
ORG = "acme"
#: Longer than any id, org or agent id the protos accept.
TOO_LONG = "x" * 200

M = TypeVar("M", bound=Message)
Prepare = Callable[[Target], Message]
#: (target, request, response, the record acted on as it was before, or None) -> None
Effect = Callable[[Target, Any, Any, Any], None]


@dataclass(frozen=True)
class Scenario:
    """A valid request (after its setup) and what it must do."""

    name: str
    prepare: Prepare
    effect: Effect
    #: The one change a write records (e.g. "SessionCreated"); None for a read.
    change_type: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A request the operation must refuse with ``code`` (message containing ``says``),
    writing nothing."""

    name: str
    prepare: Prepare
    code: grpc.StatusCode
    says: str = ""


@dataclass(frozen=True)
class Case:
    kind: str
    operation: str
    write: bool
    #: Sets up the preconditions and returns a valid request that has an effect.
    prepare: Prepare
    effect: Effect
    #: A request only proto validation (ValidateProto) refuses: every other step accepts it.
    invalid: Prepare
    #: The id of the record a request acts on (read before and after it runs); None when
    #: it names none yet (a create) or acts on many (a list).
    subject: Callable[[Target, Any], str | None]
    #: Writes: the change the main scenario records.
    change_type: str | None = None
    #: The same operation and request id with another payload (writes).
    vary: Callable[[Any], Message] | None = None
    #: A request that changes nothing (update to identical content, pin a pinned one, ...).
    noop: Prepare | None = None
    #: Whether ``expected_version`` (x-if-match) makes the write conditional.
    versioned: bool = False
    #: A request that would create one more record (quota applies); with ``seed``.
    quota: Prepare | None = None
    #: Stores one valid record (org, name) through the pristine pipelines (quota filling).
    seed: Callable[[Target, str, str], Any] | None = None
    more: tuple[Scenario, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    #: Every run of the operation under test asks for the cascade (x-cascade: true), so
    #: each promise is checked for the cascading delete too.
    cascade: bool = False

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.operation}" + ("+cascade" if self.cascade else "")

    def run(self, target: Target, request: Message, **options: Any) -> Any:
        """Run the operation under test on ``target`` (with the case's own options)."""
        if self.cascade:
            options["cascade"] = True
        return target.run(self.operation, request, **options)

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        """The main scenario (``prepare`` / ``effect``) and the ``more`` ones."""
        return (Scenario("main", self.prepare, self.effect, self.change_type), *self.more)


# --- Building requests and seeding, of either kind -------------------------------------------


def new_instance(
    name: str = "Support Bot", *, org: str = ORG, agent: str = "agt-1", description: str = "", **meta: Any
) -> AgentInstance:
    """A valid agent instance create request."""
    return AgentInstance(
        metadata=ApiResourceMetadata(
            name=name, org=org, owner_scope=ApiResourceOwnerScope.organization, **meta
        ),
        spec=AgentInstanceSpec(agent_id=agent, description=description),
    )


def seed_instance(
    target: Target,
    name: str = "Support Bot",
    *,
    org: str = ORG,
    agent: str = "agt-1",
    sessions: int = 0,
    messages: int = 0,
) -> AgentInstance:
    """A stored agent instance (named by ``sessions`` sessions of its org, each with
    ``messages`` messages), as stored now, on a target of any kind."""
    created = target.seed(
        "create", new_instance(name, org=org, agent=agent), kind="agent_instance", actor=f"setup: {name}"
    )
    for i in range(sessions):
        seed_session(
            target, f"{name} session {i}", org=org, instance_id=created.metadata.id, messages=messages
        )
    stored: AgentInstance = target.record(created.metadata.id, kind="agent_instance")
    return stored


# --- Session: building requests and seeding ---------------------------------------------------


def agent_instance_id(target: Target, label: str = "ain-1", *, org: str = ORG) -> str:
    """The agent instance id a session of ``org`` names for ``label``: the label itself
    (Stigmer checks nothing), or, where sessions must name an existing instance of their
    org, the id of the instance named ``label`` in ``org``, created when missing."""
    if not target.config.require_agent_instance:
        return label
    found = target.find(org, slug_from_name(label), kind="agent_instance")
    if found is None:
        found = target.seed("create", new_instance(label, org=org), kind="agent_instance", actor="setup")
    return str(found.metadata.id)


def new_session(
    target: Target,
    name: str = "Daily Standup",
    *,
    org: str = ORG,
    agent: str = "ain-1",
    instance_id: str = "",
    subject: str = "",
    **meta: Any,
) -> Session:
    """A valid create request, naming ``instance_id``, else the agent instance ``agent``
    stands for in ``org`` (see :func:`agent_instance_id`)."""
    return Session(
        metadata=ApiResourceMetadata(
            name=name, org=org, owner_scope=ApiResourceOwnerScope.organization, **meta
        ),
        spec=SessionSpec(
            agent_instance_id=instance_id or agent_instance_id(target, agent, org=org), subject=subject
        ),
    )


def seed_session(
    target: Target,
    name: str = "Daily Standup",
    *,
    org: str = ORG,
    agent: str = "ain-1",
    instance_id: str = "",
    messages: int = 0,
    phase: str = "",
    pinned: bool = False,
    creator: str = "",
) -> Session:
    """A stored session (with ``messages`` messages, in ``phase``, pinned), as stored now,
    on a target of any kind (a session target, or an agent instance's, for its dependents).

    Created by ``creator``, by default one of its own ("setup: <name>"), so seeding never
    runs into the per-creator quota."""
    creator = creator or f"setup: {name}"
    request = new_session(target, name, org=org, agent=agent, instance_id=instance_id)
    created = target.seed("create", request, kind="session", actor=creator)
    session_id = created.metadata.id
    for i in range(messages):
        message = AppendSessionMessageRequest(
            session_id=session_id, role=SessionMessageRole.role_user, content=f"message {i + 1}"
        )
        target.seed("appendMessage", message, kind="session", actor="setup")
    if pinned:
        target.seed("pin", SessionId(value=session_id), kind="session", actor="setup")
    if phase:
        target.seed(
            "transition", TransitionSessionRequest(session_id=session_id, phase=phase), kind="session"
        )
    stored: Session = target.record(session_id, kind="session")
    return stored


def seed_one_session(target: Target, org: str, name: str) -> Any:
    return seed_session(target, name, org=org)


def fill_org(target: Target, org: str) -> None:
    """Seed sessions until ``org`` holds as many as the target's quota allows."""
    assert target.quota is not None, "the target has no quota"
    have = sum(1 for r in target.records() if r.metadata.org == org)
    for i in range(have, target.quota):
        seed_session(target, f"filler {i}", org=org)


def _owner_full(request: Callable[[Target], Session]) -> Prepare:
    """The request, once its creator (:data:`ACTOR`) has as many sessions in its org as the
    per-creator quota allows (and the org itself still has room)."""

    def prepare(target: Target) -> Message:
        assert target.owner_quota is not None, "the target has no per-creator quota"
        for i in range(target.owner_quota):
            seed_session(target, f"mine {i}", creator=ACTOR)
        return request(target)

    return prepare


def session_subject(target: Target, request: Any) -> str | None:
    """The session a request acts on: by id, by (org, slug from name) for a resource
    request without one, by ``session_id`` for the conversation and lifecycle requests."""
    if isinstance(request, Session):
        if request.metadata.id:
            return request.metadata.id
        slug = request.metadata.slug or slug_from_name(request.metadata.name)
        found = target.find(request.metadata.org, slug) if slug else None
        return None if found is None else found.metadata.id
    if isinstance(request, SessionId):
        return request.value
    return getattr(request, "session_id", None) or None


def copy_of(message: M) -> M:
    duplicate = type(message)()
    duplicate.CopyFrom(message)
    return duplicate


def vary_labels(request: Session) -> Session:
    other = copy_of(request)
    other.metadata.labels["variant"] = "other"
    return other


def vary_id(request: Any) -> Message:
    return SessionId(value=request.value + "x")


def with_(message: Any, **fields: Any) -> Any:
    other = copy_of(message)
    for name, value in fields.items():
        setattr(other, name, value)
    return other


def oversized(session: Any) -> Any:
    """``session`` with annotations over the target's limit (only EnforceSizeLimits refuses)."""
    big = copy_of(session)
    big.metadata.annotations["notes"] = "n" * (SMALL_BYTES + 1)
    return big


def bad_label(session: Any) -> Any:
    """``session`` with a label key the label grammar (a protovalidate rule) refuses."""
    bad = copy_of(session)
    bad.metadata.labels["not a key!"] = "v"
    return bad


def assert_moved_on(stored: Any, before: Any) -> None:
    """The stored record's version follows the one it replaced."""
    assert stored.metadata.version.id, "no version"
    assert stored.metadata.version.id != before.metadata.version.id, "the version did not move on"
    assert stored.metadata.version.previous_version_id == before.metadata.version.id


def assert_new_session(target: Target, request: Any, response: Any) -> None:
    """What a create (or an apply that creates) stores."""
    assert re.fullmatch(r"ses-[0-9a-z]{26}", response.metadata.id), response.metadata.id
    stored = target.record(response.metadata.id)
    assert stored == response, "the response is not what was stored"
    assert stored.metadata.name == request.metadata.name
    assert stored.metadata.slug == slug_from_name(request.metadata.name)
    assert stored.spec == request.spec
    assert (stored.api_version, stored.kind) == ("agentic.stigmer.ai/v1", "Session")
    assert target.lifecycle is not None
    assert stored.state.phase == target.lifecycle.initial, f"phase {stored.state.phase!r}, not the initial"
    assert stored.status.audit.spec_audit.created_by.id == ACTOR
    assert stored.metadata.version.id and not stored.metadata.version.previous_version_id


# --- Session: create ------------------------------------------------------------------------


def _create_unnamed(target: Target) -> Message:
    return new_session(target, "")


def _create_unnamed_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    name = response.metadata.name
    assert re.fullmatch(r"session-\d{4}-\d{2}-\d{2}-001", name), name
    assert response.metadata.slug == slug_from_name(name)
    assert target.record(response.metadata.id) == response


def _duplicate(target: Target) -> Message:
    seed_session(target, "Daily Standup")
    return new_session(target, "Daily Standup")


def _duplicate_in_full_org(target: Target) -> Message:
    seed_session(target, "Daily Standup")
    fill_org(target, ORG)
    return new_session(target, "Daily Standup")


def _client_id(target: Target) -> Message:
    request = new_session(target)
    request.metadata.id = "ses-01jchosenbytheclient000000"
    return request


def _platform_scoped(target: Target) -> Message:
    """A session in platform scope: only the protos' CEL rule (org or identity) refuses it."""
    request = new_session(target)
    request.metadata.owner_scope = ApiResourceOwnerScope.platform
    return request


CREATE = Case(
    "session",
    "create",
    write=True,
    prepare=lambda t: new_session(t, subject="Standup"),
    effect=lambda t, request, response, before: assert_new_session(t, request, response),
    change_type="SessionCreated",
    invalid=_platform_scoped,
    subject=session_subject,
    vary=vary_labels,
    quota=lambda t: new_session(t, "One Too Many"),
    seed=seed_one_session,
    more=(Scenario("unnamed", _create_unnamed, _create_unnamed_effect, "SessionCreated"),),
    refusals=(
        Refusal("duplicate", _duplicate, grpc.StatusCode.ALREADY_EXISTS, "'daily-standup'"),
        # The name is taken: saying so beats "delete one to create another".
        Refusal("duplicate-in-full-org", _duplicate_in_full_org, grpc.StatusCode.ALREADY_EXISTS, "slug"),
        Refusal(
            "creator-full",
            _owner_full(lambda t: new_session(t, "One Too Many")),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            repr(ACTOR),
        ),
        Refusal("client-id", _client_id, grpc.StatusCode.INVALID_ARGUMENT, "metadata.id"),
        Refusal(
            "oversized", lambda t: oversized(new_session(t)), grpc.StatusCode.INVALID_ARGUMENT, "annotations"
        ),
        Refusal(
            "invalid-slug",
            lambda t: new_session(t, slug="Not A Slug"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "metadata.slug",
        ),
    ),
)


# --- Session: update ------------------------------------------------------------------------


def _update_request(target: Target) -> Message:
    request = copy_of(seed_session(target))
    request.spec.subject = "Retro"
    request.metadata.labels["team"] = "core"
    return request


def _update_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    stored = target.record(request.metadata.id)
    assert stored == response, "the response is not what was stored"
    assert stored.spec.subject == "Retro" and dict(stored.metadata.labels) == {"team": "core"}
    assert_moved_on(stored, before)
    assert stored.metadata.slug == before.metadata.slug
    assert stored.status.audit.spec_audit.created_at == before.status.audit.spec_audit.created_at
    assert stored.status.audit.spec_audit.updated_by.id == ACTOR
    assert stored.state == before.state, "an update touched the server-managed state"


def _unknown_id(target: Target) -> Message:
    request = new_session(target)
    request.metadata.id = "ses-01jnosuchsession0000000000"
    return request


UPDATE = Case(
    "session",
    "update",
    write=True,
    prepare=_update_request,
    effect=_update_effect,
    change_type="SessionUpdated",
    invalid=lambda t: bad_label(_update_request(t)),
    subject=session_subject,
    vary=vary_labels,
    noop=lambda t: copy_of(seed_session(t)),
    versioned=True,
    refusals=(
        Refusal("unknown-id", _unknown_id, grpc.StatusCode.NOT_FOUND, "ses-01jnosuchsession"),
        Refusal("no-id", new_session, grpc.StatusCode.INVALID_ARGUMENT, "metadata.id"),
        Refusal("oversized", lambda t: oversized(_update_request(t)), grpc.StatusCode.INVALID_ARGUMENT),
    ),
)


# --- Session: apply -------------------------------------------------------------------------


def _apply_update(target: Target) -> Message:
    seed_session(target, "Plan")
    return new_session(target, "Plan", subject="Second draft")


def _apply_update_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    stored = target.find(ORG, "plan")
    assert stored == response, "the response is not what was stored"
    assert stored.metadata.id == before.metadata.id, "apply created instead of updating"
    assert stored.spec.subject == "Second draft"
    assert_moved_on(stored, before)
    assert stored.state == before.state


def _apply_update_in_full_org(target: Target) -> Message:
    request = _apply_update(target)
    fill_org(target, ORG)
    return request


def _apply_noop(target: Target) -> Message:
    seed_session(target, "Plan")
    return new_session(target, "Plan")


def _apply_version_of_nothing(target: Target) -> Message:
    request = new_session(target, "Nothing Here")
    request.metadata.version.id = "01jversionofnothing0000000"
    return request


APPLY = Case(
    "session",
    "apply",
    write=True,
    prepare=_apply_update,
    effect=_apply_update_effect,
    change_type="SessionUpdated",
    invalid=lambda t: bad_label(_apply_update(t)),
    subject=session_subject,
    vary=vary_labels,
    noop=_apply_noop,
    versioned=True,
    quota=lambda t: new_session(t, "One Too Many"),
    seed=seed_one_session,
    more=(
        Scenario(
            "creates",
            lambda t: new_session(t, "Fresh Plan", subject="First draft"),
            lambda t, request, response, before: assert_new_session(t, request, response),
            "SessionCreated",
        ),
        # The quota caps creates: an org at its limit can still update what it has.
        Scenario("updates-in-full-org", _apply_update_in_full_org, _apply_update_effect, "SessionUpdated"),
    ),
    refusals=(
        Refusal("unknown-id", _unknown_id, grpc.StatusCode.NOT_FOUND, "ses-01jnosuchsession"),
        Refusal("version-of-nothing", _apply_version_of_nothing, grpc.StatusCode.ABORTED),
        Refusal(
            "creator-full",
            _owner_full(lambda t: new_session(t, "One Too Many")),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            repr(ACTOR),
        ),
        Refusal("oversized", lambda t: oversized(_apply_update(t)), grpc.StatusCode.INVALID_ARGUMENT),
    ),
)


# --- Session: delete ------------------------------------------------------------------------


def _delete_request(target: Target) -> Message:
    seed_session(target, "Bystander", messages=1)
    return SessionId(value=seed_session(target, messages=2).metadata.id)


def _delete_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert response == before, "delete does not return what it deleted"
    assert target.record(request.value) is None, "still stored"
    assert target.find(ORG, "daily-standup") is None, "its slug is still taken"
    assert target.children(request.value) == [], "its messages are still stored"
    bystander = target.find(ORG, "bystander")
    assert bystander is not None and len(target.children(bystander.metadata.id)) == 1


def _missing(target: Target) -> Message:
    return SessionId(value="ses-01jnosuchsession0000000000")


def _by_id(**seeded: Any) -> Prepare:
    return lambda t: SessionId(value=seed_session(t, **seeded).metadata.id)


def _too_long_id(target: Target) -> Message:
    seed_session(target)
    return SessionId(value="ses-" + TOO_LONG)


DELETE = Case(
    "session",
    "delete",
    write=True,
    prepare=_delete_request,
    effect=_delete_effect,
    change_type="SessionDeleted",
    invalid=_too_long_id,
    subject=session_subject,
    vary=vary_id,
    versioned=True,
    refusals=(Refusal("missing", _missing, grpc.StatusCode.NOT_FOUND, "ses-01jnosuchsession"),),
)


# --- Session: pin, unpin --------------------------------------------------------------------


def _pin_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    stored = target.record(request.value)
    assert stored == response, "the response is not what was stored"
    assert stored.state.pinned and stored.state.pinned_by == ACTOR and stored.state.HasField("pinned_at")
    assert_moved_on(stored, before)
    assert stored.spec == before.spec and stored.metadata.name == before.metadata.name


def _unpin_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    stored = target.record(request.value)
    assert stored == response, "the response is not what was stored"
    assert not stored.state.pinned and not stored.state.pinned_by
    assert not stored.state.HasField("pinned_at")
    assert_moved_on(stored, before)


PIN = Case(
    "session",
    "pin",
    write=True,
    prepare=_by_id(),
    effect=_pin_effect,
    change_type="SessionPinned",
    invalid=_too_long_id,
    subject=session_subject,
    vary=vary_id,
    noop=_by_id(pinned=True),
    versioned=True,
    refusals=(Refusal("missing", _missing, grpc.StatusCode.NOT_FOUND, "ses-01jnosuchsession"),),
)

UNPIN = Case(
    "session",
    "unpin",
    write=True,
    prepare=_by_id(pinned=True),
    effect=_unpin_effect,
    change_type="SessionUnpinned",
    invalid=_too_long_id,
    subject=session_subject,
    vary=vary_id,
    noop=_by_id(),
    versioned=True,
    refusals=(Refusal("missing", _missing, grpc.StatusCode.NOT_FOUND, "ses-01jnosuchsession"),),
)


# --- Session: transition --------------------------------------------------------------------


def _transition(to: str, *, reason: str = "lunch", **seeded: Any) -> Prepare:
    def prepare(target: Target) -> Message:
        session = seed_session(target, **seeded)
        return TransitionSessionRequest(session_id=session.metadata.id, phase=to, reason=reason)

    return prepare


def _transition_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    stored = target.record(request.session_id)
    assert stored == response, "the response is not what was stored"
    assert (before.state.phase, stored.state.phase) == ("active", "paused")
    assert stored.state.HasField("phase_changed_at")
    assert_moved_on(stored, before)
    assert target.changes()[-1].reason == "lunch", "the change does not carry the reason"


TRANSITION = Case(
    "session",
    "transition",
    write=True,
    prepare=_transition("paused"),
    effect=_transition_effect,
    change_type="SessionPhaseChanged",
    invalid=_transition("paused", reason="r" * 1025),
    subject=session_subject,
    vary=lambda request: with_(request, reason="another reason"),
    noop=_transition("active"),
    versioned=True,
    refusals=(
        Refusal(
            "illegal-move", _transition("active", phase="completed"), grpc.StatusCode.FAILED_PRECONDITION
        ),
        Refusal("unknown-phase", _transition("nope"), grpc.StatusCode.INVALID_ARGUMENT, "nope"),
        Refusal(
            "missing",
            lambda t: TransitionSessionRequest(session_id="ses-01jnosuchsession0000000000", phase="paused"),
            grpc.StatusCode.NOT_FOUND,
        ),
    ),
)


# --- Session: appendMessage ----------------------------------------------------------------


def _append(
    content: str = "hello",
    metadata: dict[str, str] | None = None,
    *,
    request: dict[str, Any] | None = None,
    **seeded: Any,
) -> Prepare:
    def prepare(target: Target) -> Message:
        session = seed_session(target, messages=1, **seeded)
        return AppendSessionMessageRequest(
            session_id=session.metadata.id,
            role=SessionMessageRole.role_user,
            content=content,
            metadata=metadata if metadata is not None else {"lang": "en"},
            **(request or {}),
        )

    return prepare


#: Not UTF-8 (and a NUL): a payload is bytes, stored and returned exactly.
RAW_PAYLOAD = b'\xff\xfe\x00{"n": 1}\x80'


def _append_payload_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    _append_effect(target, request, response, before)
    assert (response.payload, response.media_type) == (RAW_PAYLOAD, "application/octet-stream")
    stored = target.children(request.session_id)[-1]
    assert (stored.payload, stored.media_type) == (RAW_PAYLOAD, "application/octet-stream")
    assert target.changes()[-1].messages[0].payload == RAW_PAYLOAD, "the change lost the payload"


def _append_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, SessionMessage), f"answered with a {type(response).__name__}"
    assert (response.session_id, response.sequence) == (request.session_id, 2)
    assert (response.role, response.content) == (request.role, request.content)
    assert dict(response.metadata) == dict(request.metadata) and response.actor_id == ACTOR
    assert target.children(request.session_id)[-1] == response, "the message is not stored"
    stored = target.record(request.session_id)
    assert stored.state.message_count == before.state.message_count + 1 == 2
    assert stored.state.HasField("last_activity_at")
    assert_moved_on(stored, before)


APPEND_MESSAGE = Case(
    "session",
    "appendMessage",
    write=True,
    prepare=_append(),
    effect=_append_effect,
    change_type="SessionMessageAppended",
    invalid=lambda t: with_(_append()(t), role=SessionMessageRole.role_unspecified),
    subject=session_subject,
    vary=lambda request: with_(request, content="something else"),
    versioned=True,
    more=(
        Scenario(
            "payload",
            _append(request={"payload": RAW_PAYLOAD, "media_type": "application/octet-stream"}),
            _append_payload_effect,
            "SessionMessageAppended",
        ),
    ),
    refusals=(
        Refusal("paused", _append(phase="paused"), grpc.StatusCode.FAILED_PRECONDITION, "paused"),
        Refusal(
            "stale-expected-version",
            _append(request={"expected_version": "v-stale"}),
            grpc.StatusCode.ABORTED,
            "v-stale",
        ),
        Refusal(
            "content-plus-payload-over-the-limit",
            _append(content="c" * (2 * SMALL_BYTES), request={"payload": b"p" * (2 * SMALL_BYTES + 1)}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "content and payload",
        ),
        Refusal(
            "oversized-metadata",
            _append(metadata={"k": "v" * (SMALL_BYTES + 1)}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "metadata",
        ),
        Refusal(
            "oversized-content",
            _append(content="c" * (4 * SMALL_BYTES + 1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "content",
        ),
        Refusal(
            "missing",
            lambda t: AppendSessionMessageRequest(
                session_id="ses-01jnosuchsession0000000000", role=SessionMessageRole.role_user, content="hi"
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
    ),
)


# --- Session: appendMessages ---------------------------------------------------------------

#: The main batch: three messages, one with metadata.
BATCH: tuple[tuple[str, dict[str, str]], ...] = (
    ("question", {}),
    ("answer", {"lang": "en"}),
    ("follow-up", {}),
)


def _append_batch(
    *items: tuple[str, dict[str, str]], expected_version: str = "", payload: bytes = b"", **seeded: Any
) -> Prepare:
    """A batch of ``items`` (content, metadata), all role_user (default: :data:`BATCH`), to
    a session that holds one message already; each item with ``payload`` (as JSON)."""

    def prepare(target: Target) -> Message:
        session = seed_session(target, messages=1, **seeded)
        return AppendSessionMessagesRequest(
            session_id=session.metadata.id,
            messages=[
                SessionMessageInput(
                    role=SessionMessageRole.role_user,
                    content=content,
                    metadata=metadata,
                    payload=payload,
                    media_type="application/json" if payload else "",
                )
                for content, metadata in items or BATCH
            ],
            expected_version=expected_version,
        )

    return prepare


def _append_batch_payload_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    _append_batch_effect(target, request, response, before)
    for message in (*response.messages, *target.children(request.session_id)[1:]):
        assert (message.payload, message.media_type) == (RAW_PAYLOAD, "application/json")


def _append_batch_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, SessionMessageList), f"answered with a {type(response).__name__}"
    sent = [(m.role, m.content, dict(m.metadata)) for m in request.messages]
    assert [(m.role, m.content, dict(m.metadata)) for m in response.messages] == sent
    assert [m.sequence for m in response.messages] == [2, 3, 4], "not numbered on from the last message"
    assert all(m.session_id == request.session_id and m.actor_id == ACTOR for m in response.messages)
    assert target.children(request.session_id)[1:] == list(response.messages), "the batch is not stored"
    assert (response.total_size, response.next_page_token) == (4, "")
    stored = target.record(request.session_id)
    assert stored.state.message_count == before.state.message_count + 3 == 4
    assert stored.state.last_activity_at == response.messages[-1].created_at
    assert_moved_on(stored, before)


def _with_item(request: Any, index: int, **fields: Any) -> Any:
    other = copy_of(request)
    for name, value in fields.items():
        setattr(other.messages[index], name, value)
    return other


def _oversized_item_metadata(target: Target) -> Message:
    request = _append_batch()(target)
    assert isinstance(request, AppendSessionMessagesRequest)
    request.messages[1].metadata["k"] = "v" * (SMALL_BYTES + 1)
    return request


APPEND_MESSAGES = Case(
    "session",
    "appendMessages",
    write=True,
    prepare=_append_batch(),
    effect=_append_batch_effect,
    change_type="SessionMessageAppended",
    invalid=lambda t: _with_item(_append_batch()(t), 1, role=SessionMessageRole.role_unspecified),
    subject=session_subject,
    vary=lambda request: _with_item(request, 2, content="something else"),
    versioned=True,
    more=(
        Scenario(
            "payload",
            _append_batch(payload=RAW_PAYLOAD),
            _append_batch_payload_effect,
            "SessionMessageAppended",
        ),
    ),
    refusals=(
        Refusal("paused", _append_batch(phase="paused"), grpc.StatusCode.FAILED_PRECONDITION, "paused"),
        Refusal(
            "stale-expected-version",
            _append_batch(expected_version="v-stale"),
            grpc.StatusCode.ABORTED,
            "v-stale",
        ),
        Refusal(
            "item-content-plus-payload-over-the-limit",
            _append_batch(("fine", {}), ("c" * (2 * SMALL_BYTES), {}), payload=b"p" * (2 * SMALL_BYTES + 1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "messages[1].content",
        ),
        Refusal(
            "oversized-item-content",
            _append_batch(("fine", {}), ("c" * (4 * SMALL_BYTES + 1), {}), ("fine", {})),
            grpc.StatusCode.INVALID_ARGUMENT,
            "messages[1].content",
        ),
        Refusal(
            "oversized-item-metadata",
            _oversized_item_metadata,
            grpc.StatusCode.INVALID_ARGUMENT,
            "messages[1].metadata",
        ),
        Refusal(
            "over-the-batch-budget",
            _append_batch(*[("c" * (4 * SMALL_BYTES), {})] * 3),
            grpc.StatusCode.INVALID_ARGUMENT,
            "in total",
        ),
        Refusal(
            "too-many-messages",
            _append_batch(*[("hi", {})] * (SMALL_BATCH + 1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the limit is {SMALL_BATCH}",
        ),
        Refusal(
            "missing",
            lambda t: AppendSessionMessagesRequest(
                session_id="ses-01jnosuchsession0000000000",
                messages=[SessionMessageInput(role=SessionMessageRole.role_user, content="hi")],
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
    ),
)


# --- Session: popMessages and clearMessages ------------------------------------------------

MISSING_SESSION = "ses-01jnosuchsession0000000000"


def _pop(count: int = 2, *, messages: int = 3, expected_version: str = "", **seeded: Any) -> Prepare:
    def prepare(target: Target) -> Message:
        session = seed_session(target, messages=messages, **seeded)
        return PopSessionMessagesRequest(
            session_id=session.metadata.id, count=count, expected_version=expected_version
        )

    return prepare


def _assert_removal(target: Target, after: int, last: int, count: int, ids: list[str]) -> None:
    removed = target.changes()[-1].removed
    assert (removed.after_sequence, removed.last_sequence, removed.count) == (after, last, count)
    assert list(removed.message_ids) == ids, "the change does not name the removed messages"


def _pop_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, SessionMessageList), f"answered with a {type(response).__name__}"
    assert [(m.sequence, m.content) for m in response.messages] == [(2, "message 2"), (3, "message 3")]
    assert response.total_size == 1
    assert [m.sequence for m in target.children(request.session_id)] == [1], "not removed from the store"
    stored = target.record(request.session_id)
    assert (stored.state.message_count, stored.state.last_sequence) == (1, 3)
    assert_moved_on(stored, before)
    _assert_removal(target, 1, 3, 2, [m.id for m in response.messages])


def _pop_default_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert [m.sequence for m in response.messages] == [3], "the default is not one message"
    assert [m.sequence for m in target.children(request.session_id)] == [1, 2]
    assert target.record(request.session_id).state.message_count == 2


def _pop_more_than_stored_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert [m.sequence for m in response.messages] == [1, 2, 3]
    assert (response.total_size, target.children(request.session_id)) == (0, [])


POP_MESSAGES = Case(
    "session",
    "popMessages",
    write=True,
    prepare=_pop(),
    effect=_pop_effect,
    change_type="SessionMessagesRemoved",
    invalid=_pop(count=1001),
    subject=session_subject,
    vary=lambda request: with_(request, count=1),
    versioned=True,
    more=(
        Scenario("default-one", _pop(0), _pop_default_effect, "SessionMessagesRemoved"),
        Scenario("more-than-stored", _pop(10), _pop_more_than_stored_effect, "SessionMessagesRemoved"),
    ),
    refusals=(
        Refusal("paused", _pop(phase="paused"), grpc.StatusCode.FAILED_PRECONDITION, "paused"),
        Refusal(
            "stale-expected-version", _pop(expected_version="v-stale"), grpc.StatusCode.ABORTED, "v-stale"
        ),
        Refusal(
            "missing",
            lambda t: PopSessionMessagesRequest(session_id=MISSING_SESSION),
            grpc.StatusCode.NOT_FOUND,
            MISSING_SESSION,
        ),
    ),
)


def _clear(*, messages: int = 3, expected_version: str = "", **seeded: Any) -> Prepare:
    def prepare(target: Target) -> Message:
        session = seed_session(target, messages=messages, **seeded)
        return ClearSessionMessagesRequest(session_id=session.metadata.id, expected_version=expected_version)

    return prepare


def _clear_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, Session), f"answered with a {type(response).__name__}"
    stored = target.record(request.session_id)
    assert stored == response, "the response is not what was stored"
    assert (stored.state.message_count, stored.state.last_sequence) == (0, 3)
    assert stored.spec == before.spec and stored.metadata.name == before.metadata.name, "the session changed"
    assert target.children(request.session_id) == [], "messages are left"
    assert_moved_on(stored, before)
    _assert_removal(target, 0, 3, 3, [])
    assert target.changes()[-1].session == stored, "the change does not carry the session"


CLEAR_MESSAGES = Case(
    "session",
    "clearMessages",
    write=True,
    prepare=_clear(),
    effect=_clear_effect,
    change_type="SessionMessagesCleared",
    invalid=lambda t: ClearSessionMessagesRequest(session_id="ses-" + TOO_LONG),
    subject=session_subject,
    vary=lambda request: with_(request, expected_version="v-other"),
    noop=_clear(messages=0),
    versioned=True,
    refusals=(
        Refusal("paused", _clear(phase="paused"), grpc.StatusCode.FAILED_PRECONDITION, "paused"),
        Refusal(
            "stale-expected-version", _clear(expected_version="v-stale"), grpc.StatusCode.ABORTED, "v-stale"
        ),
        Refusal(
            "missing",
            lambda t: ClearSessionMessagesRequest(session_id=MISSING_SESSION),
            grpc.StatusCode.NOT_FOUND,
            MISSING_SESSION,
        ),
    ),
)


# --- Session: reads -------------------------------------------------------------------------


def _get_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert response == before and response.metadata.id == request.value


def _get_request(target: Target) -> Message:
    wanted = seed_session(target, "Wanted")
    seed_session(target, "Other")
    return SessionId(value=wanted.metadata.id)


GET = Case(
    "session",
    "get",
    write=False,
    prepare=_get_request,
    effect=_get_effect,
    invalid=_too_long_id,
    subject=session_subject,
    refusals=(Refusal("missing", _missing, grpc.StatusCode.NOT_FOUND, "ses-01jnosuchsession"),),
)


def _reference(target: Target) -> Message:
    seed_session(target, "Wanted")
    seed_session(target, "Other")
    seed_session(target, "Wanted", org="elsewhere")
    return ApiResourceReference(org=ORG, slug="wanted")


def _reference_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    wanted = target.find(ORG, "wanted")
    assert wanted is not None and response == wanted


GET_BY_REFERENCE = Case(
    "session",
    "getByReference",
    write=False,
    prepare=_reference,
    effect=_reference_effect,
    invalid=lambda t: with_(_reference(t), org=TOO_LONG),
    subject=session_subject,
    refusals=(
        Refusal(
            "missing",
            lambda t: ApiResourceReference(org=ORG, slug="nothing-here"),
            grpc.StatusCode.NOT_FOUND,
            "nothing-here",
        ),
        Refusal(
            "other-kind",
            lambda t: with_(_reference(t), kind=ApiResourceKind.agent_instance),
            grpc.StatusCode.INVALID_ARGUMENT,
            "kind",
        ),
    ),
)


def _list_request(target: Target) -> Message:
    for name in ("a1", "a2", "a3"):
        seed_session(target, name)
    seed_session(target, "o1", org="elsewhere")
    return ListSessionsRequest(org=ORG, page_size=2)


def _list_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, SessionList), f"answered with a {type(response).__name__}"
    newest_first = [target.find(ORG, slug) for slug in ("a3", "a2", "a1")]
    assert list(response.entries) == newest_first[:2]
    assert (response.total_size, response.total_pages) == (3, 2) and response.next_page_token
    rest = target.run("list", with_(request, page_token=response.next_page_token))
    assert list(rest.entries) == newest_first[2:] and not rest.next_page_token


LIST = Case(
    "session",
    "list",
    write=False,
    prepare=_list_request,
    effect=_list_effect,
    invalid=lambda t: with_(_list_request(t), page_size=-1),
    subject=session_subject,
    refusals=(
        Refusal(
            "foreign-token",
            lambda t: with_(_list_request(t), page_token="bm90IGEgdG9rZW4"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ),
)


def _by_agent_request(target: Target) -> Message:
    seed_session(target, "x1", agent="ain-2")
    seed_session(target, "y1", agent="ain-1")
    seed_session(target, "x2", agent="ain-2")
    seed_session(target, "x3", agent="ain-2", org="elsewhere")
    return ListSessionsByAgentRequest(agent_id=agent_instance_id(target, "ain-2"), org=ORG)


def _by_agent_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, SessionList), f"answered with a {type(response).__name__}"
    slugs = [s.metadata.slug for s in response.entries]
    assert list(response.entries) == [target.find(ORG, "x2"), target.find(ORG, "x1")], slugs
    assert response.total_size == 2 and not response.next_page_token


LIST_BY_AGENT = Case(
    "session",
    "listByAgent",
    write=False,
    prepare=_by_agent_request,
    effect=_by_agent_effect,
    invalid=lambda t: with_(_by_agent_request(t), page_size=-1),
    subject=session_subject,
)


def _messages_request(target: Target) -> Message:
    seed_session(target, "Other", messages=1)
    session = seed_session(target, messages=3)
    return ListSessionMessagesRequest(session_id=session.metadata.id, page_size=2)


def _messages_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, SessionMessageList), f"answered with a {type(response).__name__}"
    stored = target.children(request.session_id)
    assert list(response.messages) == stored[:2] and [m.sequence for m in stored] == [1, 2, 3]
    assert response.total_size == 3 and response.next_page_token


def _created_after_request(target: Target) -> Message:
    session = seed_session(target, messages=3)
    second = target.children(session.metadata.id)[1]
    request = ListSessionMessagesRequest(session_id=session.metadata.id)
    request.created_after.CopyFrom(second.created_at)
    return request


def _created_after_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    later = [
        m
        for m in target.children(request.session_id)
        if m.created_at.ToNanoseconds() > request.created_after.ToNanoseconds()
    ]
    assert list(response.messages) == later, "not exactly the messages created after the time"
    assert response.total_size == 3


LIST_MESSAGES = Case(
    "session",
    "listMessages",
    write=False,
    prepare=_messages_request,
    effect=_messages_effect,
    invalid=lambda t: with_(_messages_request(t), page_size=-1),
    subject=session_subject,
    more=(Scenario("created-after", _created_after_request, _created_after_effect),),
    refusals=(
        Refusal(
            "missing",
            lambda t: ListSessionMessagesRequest(session_id="ses-01jnosuchsession0000000000"),
            grpc.StatusCode.NOT_FOUND,
        ),
    ),
)


def _resume_request(target: Target) -> Message:
    seed_session(target, "Other", messages=1)
    return ResumeSessionRequest(session_id=seed_session(target, messages=3).metadata.id, page_size=2)


def _resume_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, ResumeSessionResponse), f"answered with a {type(response).__name__}"
    assert response.session == before
    assert list(response.messages) == target.children(request.session_id)[1:]
    assert response.earlier_page_token


RESUME = Case(
    "session",
    "resume",
    write=False,
    prepare=_resume_request,
    effect=_resume_effect,
    invalid=lambda t: with_(_resume_request(t), session_id="ses-" + TOO_LONG),
    subject=session_subject,
    refusals=(
        Refusal(
            "missing",
            lambda t: ResumeSessionRequest(session_id="ses-01jnosuchsession0000000000"),
            grpc.StatusCode.NOT_FOUND,
        ),
    ),
)


def _changes_request(target: Target) -> Message:
    wanted = seed_session(target, "Wanted")
    seed_session(target, "Other")
    target.seed("pin", SessionId(value=wanted.metadata.id))
    return ListSessionChangesRequest(session_id=wanted.metadata.id)


def _changes_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, SessionChangeList), f"answered with a {type(response).__name__}"
    everything = target.changes()
    assert list(response.changes) == [c for c in everything if c.resource_id == request.session_id]
    assert [c.type for c in response.changes] == ["SessionCreated", "SessionPinned"]
    assert response.current_revision == everything[-1].revision and not response.next_page_token


LIST_CHANGES = Case(
    "session",
    "listChanges",
    write=False,
    prepare=_changes_request,
    effect=_changes_effect,
    invalid=lambda t: with_(_changes_request(t), page_size=-1),
    subject=lambda t, request: None,
    refusals=(
        Refusal(
            "foreign-token",
            lambda t: with_(_changes_request(t), page_token="bm90IGEgdG9rZW4"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ),
)


SESSION_CASES: tuple[Case, ...] = (
    CREATE,
    UPDATE,
    APPLY,
    DELETE,
    PIN,
    UNPIN,
    TRANSITION,
    APPEND_MESSAGE,
    APPEND_MESSAGES,
    POP_MESSAGES,
    CLEAR_MESSAGES,
    GET,
    GET_BY_REFERENCE,
    LIST,
    LIST_BY_AGENT,
    LIST_MESSAGES,
    RESUME,
    LIST_CHANGES,
)
