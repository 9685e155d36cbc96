"""Agent instances through controller.agent_instances, on both backends: Stigmer's behaviour
plus the extensions every kind gets (versions, request ids, dry-run, its own change feed)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from itertools import islice
from typing import Any

import pytest

from pipeline.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from pipeline.operations import Settings
from pipeline.storage import Storage
from stigmer_sessions import AgentInstance, SessionController
from stigmer_sessions.agent_instance import agent_instance_service
from stigmer_sessions.api import (
    ApiResourceKind,
    ApiResourceOwnerScope,
    ApiResourceReference,
    PageInfo,
    WatchAgentInstanceChangesResponse,
)
from stigmer_sessions.config import SessionConfig
from tests.conftest import OpenStore, data_tables, make_agent_instance, make_session

KIND = ApiResourceKind


def edited(instance: AgentInstance, **spec: Any) -> AgentInstance:
    copy = AgentInstance()
    copy.CopyFrom(instance)
    for name, value in spec.items():
        setattr(copy.spec, name, value)
    return copy


def change_types(controller: SessionController, **filters: Any) -> list[str]:
    return [c.type for c in controller.agent_instances.list_changes(page_size=1000, **filters).changes]


# --- create -------------------------------------------------------------------------------


def test_create_returns_the_stored_instance(controller: SessionController) -> None:
    created = controller.agent_instances.create(make_agent_instance("Support Bot"), actor="alice")
    assert created.metadata.id.startswith("ain-")
    assert created.metadata.slug == "support-bot"
    assert (created.api_version, created.kind) == ("agentic.stigmer.ai/v1", "AgentInstance")
    assert created.metadata.version.id
    assert created.status.audit.spec_audit.created_by.id == "alice"
    assert controller.agent_instances.get(created.metadata.id) == created


def test_a_taken_org_and_slug_is_already_exists_another_org_is_fine(controller: SessionController) -> None:
    controller.agent_instances.create(make_agent_instance("bot", org="acme"))
    with pytest.raises(AlreadyExists):
        controller.agent_instances.create(make_agent_instance("Bot", org="acme", agent="agt-2"))
    controller.agent_instances.create(make_agent_instance("bot", org="beta"))
    # a session of the same slug is no conflict: each kind has its own namespace
    controller.create(make_session("bot", org="acme"))


@pytest.mark.parametrize(
    "scope",
    [
        ApiResourceOwnerScope.platform,
        ApiResourceOwnerScope.organization,
        ApiResourceOwnerScope.identity_account,
    ],
)
def test_any_defined_owner_scope_is_accepted(controller: SessionController, scope: int) -> None:
    request = make_agent_instance()
    request.metadata.owner_scope = scope  # type: ignore[assignment]
    assert controller.agent_instances.create(request).metadata.owner_scope == scope


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda a: a.ClearField("spec"), "spec"),
        (lambda a: a.ClearField("metadata"), "metadata"),
        (lambda a: setattr(a.spec, "agent_id", ""), "spec.agent_id"),
        (lambda a: setattr(a, "kind", "Session"), "kind"),
        (lambda a: setattr(a.metadata, "id", "ain-x"), "metadata.id"),
        (
            lambda a: a.spec.environment_refs.add(slug="prod", kind=KIND.workflow_execution),
            "spec.environment_refs[0]",
        ),
    ],
)
def test_bad_input_is_invalid_argument_and_changes_nothing(
    controller: SessionController, store: Storage, mutate: Any, field: str
) -> None:
    request = make_agent_instance()
    mutate(request)
    before = store.snapshot()
    with pytest.raises(InvalidArgument) as err:
        controller.agent_instances.create(request)
    assert field in [v.field for v in err.value.violations]
    assert store.snapshot() == before


def test_environment_refs_of_kind_environment_are_kept(controller: SessionController) -> None:
    request = make_agent_instance()
    request.spec.environment_refs.add(org="acme", slug="prod", kind=KIND.environment)
    created = controller.agent_instances.create(request)
    assert [r.slug for r in controller.agent_instances.get(created.metadata.id).spec.environment_refs] == [
        "prod"
    ]


def test_size_limits_are_the_sessions_configured_ones(store: Storage) -> None:
    config = SessionConfig(max_annotations_bytes=1024, max_session_bytes=3000)
    with SessionController(store=store, config=config) as controller:
        fat = make_agent_instance()
        fat.metadata.annotations["note"] = "x" * 1100
        huge = make_agent_instance(description="d" * 4000)  # within the field's own rule
        before = store.snapshot()
        for request, field in ((fat, "metadata.annotations"), (huge, "(AgentInstance)")):
            for write in (controller.agent_instances.create, controller.agent_instances.apply):
                with pytest.raises(InvalidArgument) as err:
                    write(request)
                assert [v.field for v in err.value.violations] == [field]
        assert store.snapshot() == before
        fits = controller.agent_instances.create(make_agent_instance(description="d" * 2000))
        with pytest.raises(InvalidArgument) as err:
            controller.agent_instances.update(edited(fits, description="d" * 4000))
        assert [v.field for v in err.value.violations] == ["(AgentInstance)"]


# --- update, apply, delete ----------------------------------------------------------------


def test_update_replaces_the_spec_and_moves_the_version(controller: SessionController) -> None:
    created = controller.agent_instances.create(make_agent_instance("bot"), actor="alice")
    updated = controller.agent_instances.update(
        edited(created, description="new", agent_id="agt-2"), actor="bob"
    )
    assert (updated.spec.description, updated.spec.agent_id) == ("new", "agt-2")
    assert updated.metadata.slug == "bot"
    assert updated.metadata.version.previous_version_id == created.metadata.version.id
    assert updated.status.audit.spec_audit.updated_by.id == "bob"
    assert controller.agent_instances.get(created.metadata.id) == updated
    # the by-agent indexes moved with it
    assert controller.agent_instances.get_by_agent(agent_id="agt-1").total_count == 0
    assert [i.metadata.id for i in controller.agent_instances.get_by_agent(agent_id="agt-2").items] == [
        created.metadata.id
    ]


def test_a_stale_version_is_aborted(controller: SessionController) -> None:
    created = controller.agent_instances.create(make_agent_instance())
    controller.agent_instances.update(edited(created, description="first"))
    with pytest.raises(Aborted):
        controller.agent_instances.update(edited(created, description="second"))  # carries the old version
    with pytest.raises(Aborted):
        controller.agent_instances.delete(created.metadata.id, expected_version=created.metadata.version.id)


def test_update_of_a_missing_instance_is_not_found(controller: SessionController) -> None:
    request = make_agent_instance()
    request.metadata.id = "ain-missing"
    with pytest.raises(NotFound):
        controller.agent_instances.update(request)


def test_a_no_op_update_or_apply_writes_nothing(controller: SessionController, store: Storage) -> None:
    created = controller.agent_instances.create(make_agent_instance("bot", description="d"))
    unconditional = edited(created)
    unconditional.metadata.ClearField("version")
    before = store.snapshot()
    assert controller.agent_instances.update(unconditional) == created
    assert controller.agent_instances.apply(make_agent_instance("bot", description="d")) == created
    assert store.snapshot() == before
    assert change_types(controller) == ["AgentInstanceCreated"]


def test_apply_creates_then_updates_by_org_and_slug(controller: SessionController) -> None:
    first = controller.agent_instances.apply(make_agent_instance("bot", description="v1"))
    second = controller.agent_instances.apply(make_agent_instance("bot", description="v2"))
    assert second.metadata.id == first.metadata.id
    assert second.spec.description == "v2"
    assert second.metadata.version.previous_version_id == first.metadata.version.id
    by_id = edited(second, description="v3")
    by_id.metadata.ClearField("version")
    assert controller.agent_instances.apply(by_id).spec.description == "v3"
    assert change_types(controller) == [
        "AgentInstanceCreated",
        "AgentInstanceUpdated",
        "AgentInstanceUpdated",
    ]


def test_delete_returns_the_instance_as_it_was(controller: SessionController) -> None:
    created = controller.agent_instances.create(make_agent_instance())
    assert controller.agent_instances.delete(created.metadata.id) == created
    with pytest.raises(NotFound):
        controller.agent_instances.get(created.metadata.id)
    with pytest.raises(NotFound):
        controller.agent_instances.delete(created.metadata.id)
    assert controller.agent_instances.get_by_agent(agent_id="agt-1").total_count == 0
    # its slug is free again
    assert controller.agent_instances.create(make_agent_instance()).metadata.slug == "support-bot"


# --- get, getByReference ------------------------------------------------------------------


@pytest.mark.parametrize("kind", [KIND.agent_instance, KIND.api_resource_kind_unspecified])
def test_get_by_reference_accepts_its_kind_or_none(controller: SessionController, kind: int) -> None:
    created = controller.agent_instances.create(make_agent_instance("bot"))
    reference = ApiResourceReference(org="acme", slug="bot", kind=kind)  # type: ignore[arg-type]
    assert controller.agent_instances.get_by_reference(reference) == created
    assert controller.agent_instances.get_by_reference(org="acme", slug="bot") == created


def test_get_by_reference_refuses_another_kind(controller: SessionController) -> None:
    controller.agent_instances.create(make_agent_instance("bot"))
    with pytest.raises(InvalidArgument) as err:
        controller.agent_instances.get_by_reference(
            ApiResourceReference(org="acme", slug="bot", kind=KIND.session)
        )
    assert [v.field for v in err.value.violations] == ["kind"]


def test_get_by_reference_of_another_org_or_a_session_slug_is_not_found(
    controller: SessionController,
) -> None:
    controller.agent_instances.create(make_agent_instance("bot"))
    controller.create(make_session("standup"))
    with pytest.raises(NotFound):
        controller.agent_instances.get_by_reference(org="beta", slug="bot")
    with pytest.raises(NotFound):
        controller.agent_instances.get_by_reference(org="acme", slug="standup")


def test_a_session_id_is_no_agent_instance(controller: SessionController) -> None:
    session = controller.create(make_session())
    with pytest.raises(NotFound):
        controller.agent_instances.get(session.metadata.id)


# --- getByAgent ---------------------------------------------------------------------------


@pytest.fixture
def fleet(controller: SessionController) -> list[str]:
    """ids of agt-1's instances, newest first: 5 in acme and 2 in beta, interleaved with
    agt-2's and with sessions (which must never show)."""
    ids = []
    for i in range(7):
        org = "beta" if i in (2, 5) else "acme"
        ids.append(controller.agent_instances.create(make_agent_instance(f"one-{i}", org=org)).metadata.id)
        controller.agent_instances.create(make_agent_instance(f"two-{i}", agent="agt-2"))
        controller.create(make_session(f"s{i}", agent="agt-1"))
    return ids[::-1]


def ids(page: Any) -> list[str]:
    return [i.metadata.id for i in page.items]


@pytest.mark.parametrize(
    ("num", "size", "expected"),
    [
        (1, 3, slice(0, 3)),
        (0, 3, slice(0, 3)),  # num 0 is the first page
        (2, 3, slice(3, 6)),
        (3, 3, slice(6, 7)),  # the last, short page
        (4, 3, slice(7, 7)),  # beyond the end: empty
        (99, 3, slice(7, 7)),
        (1, 0, slice(0, 7)),  # size 0: the default (50)
        (2, 0, slice(7, 7)),
        (1, 5000, slice(0, 7)),  # clamped, not refused
    ],
)
def test_page_numbers(
    controller: SessionController, fleet: list[str], num: int, size: int, expected: slice
) -> None:
    page = controller.agent_instances.get_by_agent(agent_id="agt-1", page_info=PageInfo(num=num, size=size))
    assert ids(page) == fleet[expected]
    assert page.total_count == 7


def test_no_page_info_is_the_first_default_page(controller: SessionController, fleet: list[str]) -> None:
    page = controller.agent_instances.get_by_agent(agent_id="agt-1")
    assert (ids(page), page.total_count, page.next_page_token) == (fleet, 7, "")


def test_a_page_token_continues_where_the_page_ended(controller: SessionController, fleet: list[str]) -> None:
    first = controller.agent_instances.get_by_agent(agent_id="agt-1", page_info=PageInfo(size=3))
    assert first.next_page_token
    # an instance created between pages does not shift the walk (unlike page numbers)
    controller.agent_instances.create(make_agent_instance("late"))
    second = controller.agent_instances.get_by_agent(
        agent_id="agt-1", page_info=PageInfo(num=1, size=3), page_token=first.next_page_token
    )
    assert ids(second) == fleet[3:6]  # the token wins over num
    third = controller.agent_instances.get_by_agent(
        agent_id="agt-1", page_info=PageInfo(size=3), page_token=second.next_page_token
    )
    assert (ids(third), third.next_page_token, third.total_count) == (fleet[6:], "", 8)


def test_a_numbered_page_has_a_token_to_the_next(controller: SessionController, fleet: list[str]) -> None:
    second = controller.agent_instances.get_by_agent(agent_id="agt-1", page_info=PageInfo(num=2, size=2))
    after = controller.agent_instances.get_by_agent(
        agent_id="agt-1", page_info=PageInfo(size=2), page_token=second.next_page_token
    )
    assert ids(after) == fleet[4:6]


def test_the_org_narrows_and_counts(controller: SessionController, fleet: list[str]) -> None:
    beta = controller.agent_instances.get_by_agent(agent_id="agt-1", org="beta")
    assert (ids(beta), beta.total_count) == ([fleet[1], fleet[4]], 2)
    acme = controller.agent_instances.get_by_agent(
        agent_id="agt-1", org="acme", page_info=PageInfo(num=2, size=3)
    )
    assert (ids(acme), acme.total_count) == ([fleet[5], fleet[6]], 5)
    assert controller.agent_instances.get_by_agent(agent_id="agt-1", org="gamma").total_count == 0


def test_a_token_is_bound_to_its_query(controller: SessionController, fleet: list[str]) -> None:
    token = controller.agent_instances.get_by_agent(
        agent_id="agt-1", page_info=PageInfo(size=2)
    ).next_page_token
    with pytest.raises(InvalidArgument):
        controller.agent_instances.get_by_agent(agent_id="agt-2", page_token=token)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "agent_id"),
        ({"agent_id": "agt-1", "page_info": PageInfo(num=-1)}, "page_info.num"),
        ({"agent_id": "agt-1", "page_info": PageInfo(size=-1)}, "page_info.size"),
    ],
)
def test_bad_get_by_agent_is_invalid_argument(controller: SessionController, fields: Any, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        controller.agent_instances.get_by_agent(**fields)
    assert field in [v.field for v in err.value.violations]


# --- changes ------------------------------------------------------------------------------


def lifecycle(controller: SessionController) -> str:
    """Create, update and delete one instance, with session writes between."""
    created = controller.agent_instances.create(make_agent_instance(), actor="alice", request_id="r1")
    session = controller.create(make_session())
    controller.agent_instances.update(edited(created, description="d"))
    controller.delete(session.metadata.id)
    controller.agent_instances.delete(created.metadata.id)
    return created.metadata.id


def test_list_changes_holds_the_instances_changes_only(controller: SessionController) -> None:
    instance_id = lifecycle(controller)
    changes = controller.agent_instances.list_changes().changes
    assert [c.type for c in changes] == [
        "AgentInstanceCreated",
        "AgentInstanceUpdated",
        "AgentInstanceDeleted",
    ]
    assert {(c.resource_kind, c.resource_id, c.org) for c in changes} == {
        ("agent_instance", instance_id, "acme")
    }
    assert (changes[0].actor_id, changes[0].request_id) == ("alice", "r1")
    assert changes[1].agent_instance.spec.description == "d"
    assert changes[2].agent_instance.spec.description == "d"  # as it was before the delete
    assert [c.type for c in controller.list_changes().changes] == ["SessionCreated", "SessionDeleted"]
    assert change_types(controller, agent_instance_id=instance_id, types=["AgentInstanceUpdated"]) == [
        "AgentInstanceUpdated"
    ]
    assert change_types(controller, org="beta") == []
    other = controller.agent_instances.create(make_agent_instance("other"))
    assert change_types(controller, agent_instance_id=other.metadata.id) == ["AgentInstanceCreated"]
    assert len(change_types(controller, agent_instance_id=instance_id)) == 3


def take(
    items: Iterator[WatchAgentInstanceChangesResponse], n: int
) -> list[WatchAgentInstanceChangesResponse]:
    return list(islice((item for item in items if item.HasField("change")), n))


def test_watch_follows_the_instances_changes_only(controller: SessionController) -> None:
    lifecycle(controller)
    stop = threading.Event()
    items = controller.agent_instances.watch(stop=stop, bookmark_interval_s=60)
    got = take(items, 3)
    assert [(r.change.type, r.change.resource_kind) for r in got] == [
        ("AgentInstanceCreated", "agent_instance"),
        ("AgentInstanceUpdated", "agent_instance"),
        ("AgentInstanceDeleted", "agent_instance"),
    ]
    later = controller.agent_instances.create(make_agent_instance("later"))
    controller.create(make_session("later"))
    again = controller.agent_instances.create(make_agent_instance("again"))
    assert [r.change.resource_id for r in take(items, 2)] == [later.metadata.id, again.metadata.id]
    one = take(controller.agent_instances.watch(agent_instance_id=again.metadata.id, stop=stop), 1)
    assert [r.change.resource_id for r in one] == [again.metadata.id]
    stop.set()
    controller.hub.wake()
    stop_sessions = threading.Event()
    sessions = (
        r for r in controller.watch(stop=stop_sessions, bookmark_interval_s=60) if r.HasField("change")
    )
    assert [(r.change.type, r.change.resource_kind) for r in islice(sessions, 3)] == [
        ("SessionCreated", "session"),
        ("SessionDeleted", "session"),
        ("SessionCreated", "session"),
    ]
    stop_sessions.set()
    controller.hub.wake()


# --- dry-run and request ids --------------------------------------------------------------


def test_dry_run_writes_nothing_for_any_write(controller: SessionController, store: Storage) -> None:
    existing = controller.agent_instances.create(make_agent_instance("existing"))
    before = data_tables(store), controller.agent_instances.list_changes()
    created = controller.agent_instances.create(make_agent_instance("new"), dry_run=True, request_id="dry")
    assert (created.metadata.id[:4], created.metadata.slug) == ("ain-", "new")
    assert (
        controller.agent_instances.update(edited(existing, description="x"), dry_run=True).spec.description
        == "x"
    )
    applied = controller.agent_instances.apply(make_agent_instance("existing", description="y"), dry_run=True)
    assert applied.spec.description == "y"
    assert controller.agent_instances.delete(existing.metadata.id, dry_run=True) == existing
    assert (data_tables(store), controller.agent_instances.list_changes()) == before
    assert (
        controller.agent_instances.create(make_agent_instance("new"), request_id="dry").metadata.slug == "new"
    )


def test_a_retried_request_id_replays_the_first_answer(controller: SessionController) -> None:
    first = controller.agent_instances.create(make_agent_instance(), request_id="c1")
    assert controller.agent_instances.create(make_agent_instance(), request_id="c1") == first
    change = edited(first, description="once")
    updated = controller.agent_instances.update(change, request_id="u1")
    assert controller.agent_instances.update(change, request_id="u1") == updated  # not ABORTED
    deleted = controller.agent_instances.delete(first.metadata.id, request_id="d1")
    assert controller.agent_instances.delete(first.metadata.id, request_id="d1") == deleted  # not NOT_FOUND
    assert change_types(controller) == [
        "AgentInstanceCreated",
        "AgentInstanceUpdated",
        "AgentInstanceDeleted",
    ]


def test_a_request_id_reused_for_another_request_is_already_exists(controller: SessionController) -> None:
    controller.agent_instances.create(make_agent_instance("a"), request_id="r")
    with pytest.raises(AlreadyExists, match="different request"):
        controller.agent_instances.create(make_agent_instance("b"), request_id="r")


# --- maintenance --------------------------------------------------------------------------


def test_export_of_both_kinds_imports_back_whole(
    controller: SessionController, fleet: list[str], open_store: OpenStore
) -> None:
    lifecycle(controller)
    report = controller.check()
    assert (report.ok, report.records) == (True, 21)  # 14 instances and 7 sessions
    assert controller.sizes().records == 21
    assert controller.reindex() == 21
    dump = io.StringIO()
    counts = controller.export(dump)
    assert counts["records"] == 21
    assert counts["changes"] == 14 + 7 + 5  # every create, plus the lifecycle's five writes
    with SessionController(store=open_store()) as restored:
        assert restored.import_(io.StringIO(dump.getvalue())) == counts
        assert restored.check().ok
        again = io.StringIO()
        restored.export(again)
        assert again.getvalue() == dump.getvalue()
        page = restored.agent_instances.get_by_agent(agent_id="agt-1", page_info=PageInfo(num=2, size=3))
        assert (ids(page), page.total_count) == (fleet[3:6], 7)
        assert restored.agent_instances.list_changes() == controller.agent_instances.list_changes()
        assert restored.list_changes() == controller.list_changes()
        assert restored.agent_instances.get_by_reference(org="acme", slug="one-0").metadata.id == fleet[-1]


# --- on_delete and cascade ----------------------------------------------------------------


def guard_deletes(controller: SessionController) -> str:
    """Serve the delete that ``--require-agent-instance`` builds (GuardSessions refusing),
    and give the instance it returns one session, so a plain delete is refused."""
    strict = agent_instance_service(
        SessionConfig(require_agent_instance=True), Settings(hub=controller.hub), controller.kinds[0]
    )
    controller.resources.kinds["agent_instance"].pipelines["delete"] = strict.pipelines["delete"]
    created = controller.agent_instances.create(make_agent_instance())
    controller.create(make_session(agent=created.metadata.id))
    return created.metadata.id


def test_on_delete_steps_run_and_cascade_reaches_them(controller: SessionController, store: Storage) -> None:
    instance_id = guard_deletes(controller)
    before = store.snapshot()
    with pytest.raises(FailedPrecondition, match="still has 1 session"):
        controller.agent_instances.delete(instance_id)
    assert store.snapshot() == before
    assert controller.agent_instances.delete(instance_id, cascade=True).metadata.id == instance_id
    assert change_types(controller) == ["AgentInstanceCreated", "AgentInstanceDeleted"]
    assert controller.list().entries == []
