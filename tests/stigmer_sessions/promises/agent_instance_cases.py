"""The AgentInstance rows of the table: one :class:`Case` per operation (two for delete:
plain, and asking for the cascade), written against the same checks as the Session rows.

An agent instance has no quota, no lifecycle and no generated name; what it adds is its
delete's effect on the sessions that name it (GuardSessions): without a cascade they stay
(as in Stigmer), with one they go too, in the same transaction, each with its
SessionDeleted change.
"""

from __future__ import annotations

import re
from typing import Any

import grpc
from google.protobuf.message import Message

from pipeline.steps.resolve_slug import slug_from_name
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceChangeList,
    AgentInstanceId,
    AgentInstanceList,
    ApiResourceKind,
    ApiResourceReference,
    GetAgentInstancesByAgentRequest,
    ListAgentInstanceChangesRequest,
    PageInfo,
)
from tests.stigmer_sessions.promises.cases import (
    ACTOR,
    ORG,
    TOO_LONG,
    Case,
    Prepare,
    Refusal,
    Scenario,
    assert_moved_on,
    bad_label,
    copy_of,
    new_instance,
    oversized,
    seed_instance,
    seed_session,
    vary_labels,
    with_,
)
from tests.stigmer_sessions.promises.target import Target

KIND = "agent_instance"
#: An agent instance id nothing is stored under (well formed).
MISSING = "ain-01jnosuchinstance000000000"


def instance_subject(target: Target, request: Any) -> str | None:
    """The instance a request acts on: by id, or by (org, slug from name) for a resource
    request without one."""
    if isinstance(request, AgentInstance):
        if request.metadata.id:
            return request.metadata.id
        slug = request.metadata.slug or slug_from_name(request.metadata.name)
        found = target.find(request.metadata.org, slug) if slug else None
        return None if found is None else found.metadata.id
    if isinstance(request, AgentInstanceId):
        return request.value
    return None


def with_environment(instance: AgentInstance, kind: int = ApiResourceKind.environment) -> AgentInstance:
    """``instance`` running in one environment (a reference of ``kind``: only kind
    environment, 53, is allowed; Stigmer's rule compares with 52, workflow_execution)."""
    other = copy_of(instance)
    other.spec.environment_refs.add(org=ORG, slug="production", kind=kind)
    return other


def assert_new_instance(target: Target, request: Any, response: Any) -> None:
    """What a create (or an apply that creates) stores."""
    assert re.fullmatch(r"ain-[0-9a-z]{26}", response.metadata.id), response.metadata.id
    stored = target.record(response.metadata.id)
    assert stored == response, "the response is not what was stored"
    assert stored.metadata.name == request.metadata.name
    assert stored.metadata.slug == slug_from_name(request.metadata.name)
    assert stored.spec == request.spec
    assert (stored.api_version, stored.kind) == ("agentic.stigmer.ai/v1", "AgentInstance")
    assert stored.status.audit.spec_audit.created_by.id == ACTOR
    assert stored.metadata.version.id and not stored.metadata.version.previous_version_id


# --- create ---------------------------------------------------------------------------------


def _create_request(target: Target) -> Message:
    return with_environment(new_instance(description="Answers tickets"))


def _create_beside_other_org(target: Target) -> Message:
    seed_instance(target, "Support Bot", org="elsewhere")
    return new_instance("Support Bot")


def _duplicate(target: Target) -> Message:
    seed_instance(target, "Support Bot")
    return new_instance("Support Bot", agent="agt-2")


def _client_id(target: Target) -> Message:
    request = new_instance()
    request.metadata.id = "ain-01jchosenbytheclient000000"
    return request


CREATE = Case(
    KIND,
    "create",
    write=True,
    prepare=_create_request,
    effect=lambda t, request, response, before: assert_new_instance(t, request, response),
    change_type="AgentInstanceCreated",
    # Kind workflow_execution (52) is what Stigmer's rule lets through; only ours refuses it.
    invalid=lambda t: with_environment(new_instance(), ApiResourceKind.workflow_execution),
    subject=instance_subject,
    vary=vary_labels,
    more=(
        Scenario(
            "beside-other-org",
            _create_beside_other_org,
            lambda t, request, response, before: assert_new_instance(t, request, response),
            "AgentInstanceCreated",
        ),
    ),
    refusals=(
        Refusal("duplicate", _duplicate, grpc.StatusCode.ALREADY_EXISTS, "'support-bot'"),
        Refusal("client-id", _client_id, grpc.StatusCode.INVALID_ARGUMENT, "metadata.id"),
        Refusal(
            "oversized", lambda t: oversized(new_instance()), grpc.StatusCode.INVALID_ARGUMENT, "annotations"
        ),
        Refusal(
            "invalid-slug",
            lambda t: new_instance(slug="Not A Slug"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "metadata.slug",
        ),
    ),
)


# --- update ---------------------------------------------------------------------------------


def _update_request(target: Target) -> Message:
    request = copy_of(seed_instance(target))
    request.spec.description = "Escalates"
    request.spec.agent_id = "agt-2"
    request.metadata.labels["team"] = "core"
    return request


def _update_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    stored = target.record(request.metadata.id)
    assert stored == response, "the response is not what was stored"
    assert (stored.spec.description, stored.spec.agent_id) == ("Escalates", "agt-2")
    assert dict(stored.metadata.labels) == {"team": "core"}
    assert_moved_on(stored, before)
    assert stored.metadata.slug == before.metadata.slug
    assert stored.status.audit.spec_audit.created_at == before.status.audit.spec_audit.created_at
    assert stored.status.audit.spec_audit.updated_by.id == ACTOR


def _unknown_id(target: Target) -> Message:
    request = new_instance()
    request.metadata.id = MISSING
    return request


UPDATE = Case(
    KIND,
    "update",
    write=True,
    prepare=_update_request,
    effect=_update_effect,
    change_type="AgentInstanceUpdated",
    invalid=lambda t: bad_label(_update_request(t)),
    subject=instance_subject,
    vary=vary_labels,
    noop=lambda t: copy_of(seed_instance(t)),
    versioned=True,
    refusals=(
        Refusal("unknown-id", _unknown_id, grpc.StatusCode.NOT_FOUND, MISSING),
        Refusal("no-id", lambda t: new_instance(), grpc.StatusCode.INVALID_ARGUMENT, "metadata.id"),
        Refusal("oversized", lambda t: oversized(_update_request(t)), grpc.StatusCode.INVALID_ARGUMENT),
    ),
)


# --- apply ----------------------------------------------------------------------------------


def _apply_update(target: Target) -> Message:
    seed_instance(target, "Plan Bot")
    return new_instance("Plan Bot", description="Second draft")


def _apply_update_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    stored = target.find(ORG, "plan-bot")
    assert stored == response, "the response is not what was stored"
    assert stored.metadata.id == before.metadata.id, "apply created instead of updating"
    assert stored.spec.description == "Second draft"
    assert_moved_on(stored, before)


def _apply_noop(target: Target) -> Message:
    seed_instance(target, "Plan Bot")
    return new_instance("Plan Bot")


def _apply_version_of_nothing(target: Target) -> Message:
    request = new_instance("Nothing Here")
    request.metadata.version.id = "01jversionofnothing0000000"
    return request


APPLY = Case(
    KIND,
    "apply",
    write=True,
    prepare=_apply_update,
    effect=_apply_update_effect,
    change_type="AgentInstanceUpdated",
    invalid=lambda t: bad_label(_apply_update(t)),
    subject=instance_subject,
    vary=vary_labels,
    noop=_apply_noop,
    versioned=True,
    more=(
        Scenario(
            "creates",
            lambda t: new_instance("Fresh Bot", description="First draft"),
            lambda t, request, response, before: assert_new_instance(t, request, response),
            "AgentInstanceCreated",
        ),
    ),
    refusals=(
        Refusal("unknown-id", _unknown_id, grpc.StatusCode.NOT_FOUND, MISSING),
        Refusal("version-of-nothing", _apply_version_of_nothing, grpc.StatusCode.ABORTED),
        Refusal("oversized", lambda t: oversized(_apply_update(t)), grpc.StatusCode.INVALID_ARGUMENT),
    ),
)


# --- delete ---------------------------------------------------------------------------------


def delete_request(target: Target) -> Message:
    """An instance no session names, beside one that a session names."""
    seed_instance(target, "Bystander", sessions=1, messages=1)
    return AgentInstanceId(value=seed_instance(target).metadata.id)


def _assert_deleted(target: Target, request: Any, response: Any, before: Any) -> None:
    assert response == before, "delete does not return what it deleted"
    assert target.record(request.value) is None, "still stored"
    assert target.find(ORG, slug_from_name(before.metadata.name)) is None, "its slug is still taken"


def _assert_bystander_kept(target: Target) -> None:
    bystander = target.find(ORG, "bystander")
    assert bystander is not None, "another instance was deleted"
    kept = [s for s in target.records(kind="session") if s.spec.agent_instance_id == bystander.metadata.id]
    assert len(kept) == 1 and len(target.children(kept[0].metadata.id, kind="session")) == 1


def _delete_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    _assert_deleted(target, request, response, before)
    _assert_bystander_kept(target)


def with_sessions(count: int = 2) -> Prepare:
    """An instance ``count`` sessions of its org name (2 messages each), beside another."""

    def prepare(target: Target) -> Message:
        seed_instance(target, "Bystander", sessions=1, messages=1)
        return AgentInstanceId(value=seed_instance(target, sessions=count, messages=2).metadata.id)

    return prepare


def _named_by(target: Target, instance_id: str) -> list[str]:
    """The ids of every session of :data:`ORG` ever created naming ``instance_id`` (from the
    change log: they may be gone), oldest first."""
    return [
        c.resource_id
        for c in target.changes(kind="session")
        if c.type == "SessionCreated" and c.org == ORG and c.session.spec.agent_instance_id == instance_id
    ]


def _keeps_sessions_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    """Without the cascade, and without ``--require-agent-instance``, the sessions stay (as
    in Stigmer), still naming the deleted instance."""
    _assert_deleted(target, request, response, before)
    named = _named_by(target, request.value)
    assert len(named) == 2, f"the setup seeded {len(named)} sessions naming it, not 2"
    for session_id in named:
        assert target.record(session_id, kind="session") is not None, "a session was deleted with it"
        assert len(target.children(session_id, kind="session")) == 2
    assert "SessionDeleted" not in [c.type for c in target.changes(kind="session")]
    _assert_bystander_kept(target)


def _cascade_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    """The instance and every session of its org naming it go, with their messages, each
    session with its own SessionDeleted change saying why; nothing else goes."""
    _assert_deleted(target, request, response, before)
    named = _named_by(target, request.value)
    assert len(named) == 2, f"the setup seeded {len(named)} sessions naming it, not 2"
    for session_id in named:
        assert target.record(session_id, kind="session") is None, "a session naming it is still stored"
        assert target.children(session_id, kind="session") == [], "a cascaded session's messages stay"
    deleted = [c for c in target.changes(kind="session") if c.type == "SessionDeleted"]
    assert sorted(c.resource_id for c in deleted) == sorted(named), "not one SessionDeleted per session"
    for change in deleted:
        assert change.actor_id == ACTOR and change.org == ORG
        assert change.reason == f"cascade: agent instance {request.value} deleted", change.reason
        assert change.session.metadata.id == change.resource_id, "the change carries another session"
        assert change.session.spec.agent_instance_id == request.value
    _assert_bystander_kept(target)


def _spares_other_orgs(target: Target) -> Message:
    """Without ``--require-agent-instance`` a session of another org may name the instance;
    the cascade covers only the instance's own org."""
    request = with_sessions()(target)
    assert isinstance(request, AgentInstanceId)
    seed_session(target, "Elsewhere", org="elsewhere", instance_id=request.value)
    return request


def _spares_other_orgs_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    _cascade_effect(target, request, response, before)
    elsewhere = target.find("elsewhere", "elsewhere", kind="session")
    assert elsewhere is not None, "the cascade deleted a session of another org"
    assert elsewhere.spec.agent_instance_id == request.value


def _missing(target: Target) -> Message:
    return AgentInstanceId(value=MISSING)


def _too_long_id(target: Target) -> Message:
    seed_instance(target)
    return AgentInstanceId(value="ain-" + TOO_LONG)


def vary_id(request: Any) -> Message:
    return AgentInstanceId(value=request.value + "x")


DELETE = Case(
    KIND,
    "delete",
    write=True,
    prepare=delete_request,
    effect=_delete_effect,
    change_type="AgentInstanceDeleted",
    invalid=_too_long_id,
    subject=instance_subject,
    vary=vary_id,
    versioned=True,
    more=(Scenario("keeps-its-sessions", with_sessions(), _keeps_sessions_effect, "AgentInstanceDeleted"),),
    refusals=(Refusal("missing", _missing, grpc.StatusCode.NOT_FOUND, MISSING),),
)

#: The delete asking for the cascade (x-cascade: true): every promise holds for it too
#: (a replay deletes nothing more, a dry run deletes no session).
DELETE_CASCADE = Case(
    KIND,
    "delete",
    write=True,
    prepare=with_sessions(),
    effect=_cascade_effect,
    change_type="AgentInstanceDeleted",
    invalid=_too_long_id,
    subject=instance_subject,
    vary=vary_id,
    versioned=True,
    cascade=True,
    more=(
        Scenario("no-sessions", delete_request, _delete_effect, "AgentInstanceDeleted"),
        Scenario("spares-other-orgs", _spares_other_orgs, _spares_other_orgs_effect, "AgentInstanceDeleted"),
    ),
    refusals=(Refusal("missing", _missing, grpc.StatusCode.NOT_FOUND, MISSING),),
)


# --- get, getByReference --------------------------------------------------------------------


def _get_request(target: Target) -> Message:
    wanted = seed_instance(target, "Wanted")
    seed_instance(target, "Other")
    return AgentInstanceId(value=wanted.metadata.id)


def _get_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert response == before and response.metadata.id == request.value


def _a_session_id(target: Target) -> Message:
    """A session's id is no agent instance's, though the store holds both kinds."""
    return AgentInstanceId(value=seed_session(target).metadata.id)


GET = Case(
    KIND,
    "get",
    write=False,
    prepare=_get_request,
    effect=_get_effect,
    invalid=_too_long_id,
    subject=instance_subject,
    refusals=(
        Refusal("missing", _missing, grpc.StatusCode.NOT_FOUND, MISSING),
        Refusal("a-session-id", _a_session_id, grpc.StatusCode.NOT_FOUND),
    ),
)


def _reference(kind: int = ApiResourceKind.agent_instance) -> Prepare:
    def prepare(target: Target) -> Message:
        seed_instance(target, "Wanted")
        seed_instance(target, "Other")
        seed_instance(target, "Wanted", org="elsewhere")
        seed_session(target, "Wanted")  # a session of the same (org, slug)
        return ApiResourceReference(org=ORG, slug="wanted", kind=kind)  # type: ignore[arg-type]

    return prepare


def _reference_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    wanted = target.find(ORG, "wanted")
    assert wanted is not None and response == wanted


def _a_session_slug(target: Target) -> Message:
    seed_session(target, "Only A Session")
    return ApiResourceReference(org=ORG, slug="only-a-session")


GET_BY_REFERENCE = Case(
    KIND,
    "getByReference",
    write=False,
    prepare=_reference(),
    effect=_reference_effect,
    invalid=lambda t: with_(_reference()(t), org=TOO_LONG),
    subject=lambda t, request: None,
    more=(
        Scenario(
            "kind-unspecified", _reference(ApiResourceKind.api_resource_kind_unspecified), _reference_effect
        ),
    ),
    refusals=(
        Refusal(
            "missing",
            lambda t: ApiResourceReference(org=ORG, slug="nothing-here"),
            grpc.StatusCode.NOT_FOUND,
            "nothing-here",
        ),
        Refusal("other-kind", _reference(ApiResourceKind.session), grpc.StatusCode.INVALID_ARGUMENT, "kind"),
        Refusal("a-session-slug", _a_session_slug, grpc.StatusCode.NOT_FOUND, "only-a-session"),
    ),
)


# --- getByAgent -----------------------------------------------------------------------------


def _fleet(target: Target) -> None:
    """agt-2's instances x1..x3 in acme and x4 elsewhere, between instances of agt-1 and a
    session naming "agt-2" (which must never show)."""
    seed_instance(target, "x1", agent="agt-2")
    seed_instance(target, "y1", agent="agt-1")
    seed_instance(target, "x2", agent="agt-2")
    seed_session(target, "s1", instance_id="agt-2")
    seed_instance(target, "x3", agent="agt-2")
    seed_instance(target, "x4", agent="agt-2", org="elsewhere")
    seed_instance(target, "y2", agent="agt-1")


def _by_agent(**fields: Any) -> Prepare:
    def prepare(target: Target) -> Message:
        _fleet(target)
        return GetAgentInstancesByAgentRequest(agent_id="agt-2", **fields)

    return prepare


def _page_two_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    """Page 2 of 2 (newest first, every org): x2 and x1; total_count counts all 4."""
    assert isinstance(response, AgentInstanceList), f"answered with a {type(response).__name__}"
    slugs = [i.metadata.slug for i in response.items]
    assert list(response.items) == [target.find(ORG, "x2"), target.find(ORG, "x1")], slugs
    assert response.total_count == 4 and not response.next_page_token


def _in_org_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    """One org's: x3, x2, then a token to x1; total_count counts the org's 3."""
    assert isinstance(response, AgentInstanceList), f"answered with a {type(response).__name__}"
    slugs = [i.metadata.slug for i in response.items]
    assert list(response.items) == [target.find(ORG, "x3"), target.find(ORG, "x2")], slugs
    assert response.total_count == 3 and response.next_page_token
    rest = target.run("getByAgent", with_(request, page_token=response.next_page_token))
    assert list(rest.items) == [target.find(ORG, "x1")] and not rest.next_page_token


GET_BY_AGENT = Case(
    KIND,
    "getByAgent",
    write=False,
    prepare=_by_agent(page_info=PageInfo(num=2, size=2)),
    effect=_page_two_effect,
    invalid=lambda t: with_(_by_agent()(t), org=TOO_LONG),
    subject=lambda t, request: None,
    more=(Scenario("in-org", _by_agent(org=ORG, page_info=PageInfo(size=2)), _in_org_effect),),
    refusals=(
        Refusal(
            "no-agent",
            lambda t: GetAgentInstancesByAgentRequest(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "agent_id",
        ),
        Refusal(
            "negative-page",
            _by_agent(page_info=PageInfo(num=-1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "page_info.num",
        ),
        Refusal("foreign-token", _by_agent(page_token="bm90IGEgdG9rZW4"), grpc.StatusCode.INVALID_ARGUMENT),
    ),
)


# --- listChanges ----------------------------------------------------------------------------


def _changes_request(target: Target) -> Message:
    wanted = seed_instance(target, "Wanted")
    seed_instance(target, "Other")
    seed_session(target, "A Session")  # the session feed's, never shown here
    moved = copy_of(wanted)
    moved.spec.description = "moved on"
    target.seed("update", moved)
    return ListAgentInstanceChangesRequest(agent_instance_id=wanted.metadata.id)


def _changes_effect(target: Target, request: Any, response: Any, before: Any) -> None:
    assert isinstance(response, AgentInstanceChangeList), f"answered with a {type(response).__name__}"
    everything = target.changes()
    assert list(response.changes) == [c for c in everything if c.resource_id == request.agent_instance_id]
    assert [c.type for c in response.changes] == ["AgentInstanceCreated", "AgentInstanceUpdated"]
    assert response.current_revision >= everything[-1].revision and not response.next_page_token


LIST_CHANGES = Case(
    KIND,
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


AGENT_INSTANCE_CASES: tuple[Case, ...] = (
    CREATE,
    UPDATE,
    APPLY,
    DELETE,
    DELETE_CASCADE,
    GET,
    GET_BY_REFERENCE,
    GET_BY_AGENT,
    LIST_CHANGES,
)
