"""Authorization beyond the matrix: who the recorded actor is (and impersonation), request ids
per principal, the WARNING line of a denial, lists and feeds without an org paging through
exactly the visible set, the library's ``principal=`` and ``authorizer=``, org immutability."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from pipeline.auth import Principal, Role
from pipeline.errors import NotFound, PermissionDenied, ResourceError, Unauthenticated
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2_grpc,
    command_pb2_grpc,
    message_pb2_grpc,
    query_pb2_grpc,
)
from stigmer_sessions.api import (
    AppendSessionMessageRequest,
    GetAgentInstancesByAgentRequest,
    ListSessionChangesRequest,
    PageInfo,
    SessionId,
    WatchSessionChangesRequest,
)
from stigmer_sessions.grpc_server import start_server
from tests.conftest import data_tables, make_agent_instance, make_session

ACME, BETA, GAMMA = "acme", "beta", "gamma"
TOKENS = {
    "tok-eddie": Principal("eddie", {ACME: Role.EDITOR}),
    "tok-erin": Principal("erin", {ACME: Role.EDITOR}),
    "tok-vera": Principal("vera", {ACME: Role.VIEWER}),
    "tok-gateway": Principal("gateway", {ACME: Role.EDITOR}, impersonate=True),
}


def authenticate(context: grpc.ServicerContext) -> Principal:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            found = TOKENS.get(str(value).removeprefix("Bearer "))
            if found is not None:
                return found
    raise Unauthenticated("missing or invalid credentials")


class Client:
    def __init__(self, channel: grpc.Channel) -> None:
        self.command = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
        self.query = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
        self.messages = message_pb2_grpc.SessionMessageControllerStub(channel)  # type: ignore[no-untyped-call]
        self.changes = change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SessionController, Client]]:
    with SessionController(tmp_path / "db", durable=False) as controller:
        server = start_server(controller, "127.0.0.1:0", authenticator=authenticate)
        channel = grpc.insecure_channel(server.address)
        try:
            yield controller, Client(channel)
        finally:
            channel.close()
            server.stop(grace=None)


def auth(token: str, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"), *extra)


# --- the actor -------------------------------------------------------------------------------


def test_the_principal_is_the_recorded_actor(served: tuple[SessionController, Client]) -> None:
    controller, client = served
    created = client.command.create(make_session(org=ACME), metadata=auth("tok-eddie"))
    assert created.status.audit.spec_audit.created_by.id == "eddie"
    message = client.messages.appendMessage(
        AppendSessionMessageRequest(session_id=created.metadata.id, role="role_user", content="hi"),
        metadata=auth("tok-eddie"),
    )
    assert message.actor_id == "eddie"
    changes = list(controller.events())
    assert [(c.actor_id, c.impersonated_by) for c in changes] == [("eddie", ""), ("eddie", "")]


def test_x_actor_id_without_impersonate_is_permission_denied_and_writes_nothing(
    served: tuple[SessionController, Client],
) -> None:
    controller, client = served
    before = data_tables(controller.store)
    with pytest.raises(grpc.RpcError) as err:
        client.command.create(make_session(org=ACME), metadata=auth("tok-eddie", ("x-actor-id", "alice")))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "x-actor-id" in (err.value.details() or "")
    assert data_tables(controller.store) == before
    # Naming itself is no impersonation.
    created = client.command.create(
        make_session(org=ACME), metadata=auth("tok-eddie", ("x-actor-id", "eddie"))
    )
    assert created.status.audit.spec_audit.created_by.id == "eddie"
    # A watch records no actor, but the rule holds there too.
    stream = client.changes.watch(
        WatchSessionChangesRequest(), metadata=auth("tok-eddie", ("x-actor-id", "alice"))
    )
    with pytest.raises(grpc.RpcError) as watched:
        next(iter(stream))
    assert watched.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_an_impersonating_principal_records_the_actor_and_who_acted_for_it(
    served: tuple[SessionController, Client],
) -> None:
    controller, client = served
    created = client.command.create(
        make_session(org=ACME), metadata=auth("tok-gateway", ("x-actor-id", "bob"))
    )
    assert created.status.audit.spec_audit.created_by.id == "bob"
    (change,) = controller.events()
    assert (change.actor_id, change.impersonated_by) == ("bob", "gateway")
    # Impersonation grants no role: the gateway's own roles still decide.
    with pytest.raises(grpc.RpcError) as err:
        client.command.create(make_session(org=BETA), metadata=auth("tok-gateway", ("x-actor-id", "bob")))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


# --- request ids -----------------------------------------------------------------------------


def test_request_ids_are_per_principal(served: tuple[SessionController, Client]) -> None:
    controller, client = served
    rid = ("x-request-id", "req-1")
    eddies = client.command.create(make_session("Eddie's", org=ACME), metadata=auth("tok-eddie", rid))
    # Erin's same id with another payload is neither ALREADY_EXISTS (which would reveal that
    # someone used it) nor Eddie's response: a fresh request of hers.
    erins = client.command.create(make_session("Erin's", org=ACME), metadata=auth("tok-erin", rid))
    assert erins.metadata.id != eddies.metadata.id
    assert erins.metadata.name == "Erin's"
    # Each retry gets its own principal's first answer.
    assert client.command.create(make_session("Erin's", org=ACME), metadata=auth("tok-erin", rid)) == erins
    assert client.command.create(make_session("Eddie's", org=ACME), metadata=auth("tok-eddie", rid)) == eddies
    assert len(controller.list(org=ACME).entries) == 2


def test_a_trusted_callers_request_ids_are_not_a_principals(tmp_path: Path) -> None:
    with SessionController(tmp_path / "db", durable=False) as controller:
        trusted = controller.create(make_session("Trusted", org=ACME), request_id="req-1")
        eddie = TOKENS["tok-eddie"]
        mine = controller.create(make_session("Eddie's", org=ACME), request_id="req-1", principal=eddie)
        assert mine.metadata.id != trusted.metadata.id
        assert controller.create(make_session("Trusted", org=ACME), request_id="req-1") == trusted


# --- the log ---------------------------------------------------------------------------------


def test_denials_are_logged_at_warning_without_credentials(
    served: tuple[SessionController, Client], caplog: pytest.LogCaptureFixture
) -> None:
    controller, client = served
    hidden = controller.create(make_session(org=BETA))
    mine = controller.create(make_session(org=ACME))
    with caplog.at_level(logging.WARNING, logger="pipeline.authz"):
        calls: list[Callable[[], Any]] = [
            lambda: client.command.update(mine, metadata=auth("tok-vera")),
            lambda: client.query.get(SessionId(value=hidden.metadata.id), metadata=auth("tok-vera")),
        ]
        for call in calls:
            with pytest.raises(grpc.RpcError):
                call()
    lines = [r for r in caplog.records if r.name == "pipeline.authz"]
    assert all(r.levelno == logging.WARNING for r in lines)
    fields = [getattr(r, "fields", {}) for r in lines]
    assert {(f["principal"], f["operation"], f["org"], f["outcome"]) for f in fields} == {
        ("vera", "session.update", ACME, "permission_denied"),
        ("vera", "session.get", BETA, "concealed_as_not_found"),
    }
    assert not any("tok-vera" in repr(r.__dict__) for r in caplog.records)


# --- lists and feeds without an org: the visible set -----------------------------------------


@pytest.fixture
def three_orgs(tmp_path: Path) -> Iterator[SessionController]:
    """Five sessions (naming agent instance ain-x; the odd ones tagged "t") and three agent
    instances (of agent agt-x) in each of three orgs, created in interleaved order."""
    with SessionController(tmp_path / "db", durable=False) as controller:
        for i in range(5):
            for org in (ACME, BETA, GAMMA):
                controller.create(make_session(f"{org} {i}", org=org, agent="ain-x", tags=("t",) * (i % 2)))
                if i < 3:
                    controller.agent_instances.create(
                        make_agent_instance(f"{org} bot {i}", org=org, agent="agt-x")
                    )
        yield controller


TWO_ORGS = Principal("two", {ACME: Role.VIEWER, GAMMA: Role.ADMIN})


def _walk(first: Any, more: Any) -> tuple[list[Any], list[Any]]:
    pages = [first]
    while pages[-1].next_page_token:
        pages.append(more(pages[-1].next_page_token))
    return [e for p in pages for e in p.entries], pages


def test_list_without_an_org_pages_through_exactly_the_readable_orgs(three_orgs: SessionController) -> None:
    every = three_orgs.list(page_size=100).entries
    visible = [s.metadata.id for s in every if s.metadata.org in (ACME, GAMMA)]
    seen, pages = _walk(
        three_orgs.list(page_size=3, principal=TWO_ORGS),
        lambda token: three_orgs.list(page_size=3, page_token=token, principal=TWO_ORGS),
    )
    assert [s.metadata.id for s in seen] == visible  # newest first, each once, none of beta
    assert {(p.total_size, p.total_pages) for p in pages} == {(10, 4)}
    # With a tag filter (the org_tag index, org by org) and oldest first.
    tagged = three_orgs.list(page_size=100, tags=["t"], order_by="create_time asc", principal=TWO_ORGS)
    want = [s.metadata.id for s in every if s.metadata.org in (ACME, GAMMA) and "t" in s.metadata.tags]
    assert [s.metadata.id for s in tagged.entries] == want[::-1] and tagged.total_size == 4


def test_list_by_agent_and_get_by_agent_without_an_org_see_only_readable_orgs(
    three_orgs: SessionController,
) -> None:
    seen, pages = _walk(
        three_orgs.list_by_agent(agent_id="ain-x", page_size=4, principal=TWO_ORGS),
        lambda token: three_orgs.list_by_agent(
            agent_id="ain-x", page_size=4, page_token=token, principal=TWO_ORGS
        ),
    )
    assert len(seen) == 10 and {s.metadata.org for s in seen} == {ACME, GAMMA}
    assert {p.total_size for p in pages} == {10}
    instances = three_orgs.agent_instances
    page2 = instances.get_by_agent(
        GetAgentInstancesByAgentRequest(agent_id="agt-x", page_info=PageInfo(num=2, size=4)),
        principal=TWO_ORGS,
    )
    page1 = instances.get_by_agent(
        GetAgentInstancesByAgentRequest(agent_id="agt-x", page_info=PageInfo(num=1, size=4)),
        principal=TWO_ORGS,
    )
    assert page1.total_count == page2.total_count == 6
    both = [i for p in (page1, page2) for i in p.items]
    assert len(both) == 6 and {i.metadata.org for i in both} == {ACME, GAMMA}


def test_list_changes_and_watch_without_an_org_deliver_only_readable_orgs(
    three_orgs: SessionController,
) -> None:
    every = list(three_orgs.events())
    visible = [c.revision for c in every if c.org in (ACME, GAMMA)]
    assert visible and len(visible) < len(every)
    assert [c.revision for c in three_orgs.events(principal=TWO_ORGS)] == visible  # merged in revision order
    page = three_orgs.list_changes(ListSessionChangesRequest(page_size=4), principal=TWO_ORGS)
    assert [c.revision for c in page.changes] == visible[:4] and page.next_page_token
    stop = threading.Event()
    got: list[int] = []
    bookmarks = 0
    for item in three_orgs.watch(stop=stop, bookmark_interval_s=0.05, principal=TWO_ORGS):
        if item.HasField("change"):
            got.append(item.change.revision)
        else:
            bookmarks += 1  # bookmarks still flow to a restricted watcher
            if len(got) >= len(visible):
                break
    assert got == visible and bookmarks >= 1


def test_watch_naming_an_org_it_cannot_read_is_permission_denied(three_orgs: SessionController) -> None:
    with pytest.raises(PermissionDenied) as err:
        next(iter(three_orgs.watch(org=BETA, principal=TWO_ORGS)))
    assert repr(BETA) in err.value.message


# --- the library -----------------------------------------------------------------------------


class OnlyReadsOfAcme:
    """A host's own policy: anyone may read acme, nobody may do anything else."""

    def allows(self, principal: Principal, role: Role, org: str) -> bool:
        return org == ACME and role == Role.VIEWER

    def orgs(self, principal: Principal, role: Role) -> frozenset[str] | None:
        return frozenset({ACME}) if role == Role.VIEWER else frozenset()


def test_the_library_applies_its_authorizer_to_principals_and_trusts_the_rest(tmp_path: Path) -> None:
    with SessionController(tmp_path / "db", durable=False, authorizer=OnlyReadsOfAcme()) as controller:
        nobody = Principal("nobody")
        acme = controller.create(make_session(org=ACME))  # trusted: no principal, no check
        beta = controller.create(make_session(org=BETA))
        assert controller.get(acme.metadata.id, principal=nobody) == acme
        with pytest.raises(NotFound) as err:
            controller.get(beta.metadata.id, principal=nobody)
        assert err.value.message == f"session {beta.metadata.id!r} not found"
        with pytest.raises(PermissionDenied):
            controller.pin(acme.metadata.id, principal=nobody)
        assert [s.metadata.id for s in controller.list(principal=nobody).entries] == [acme.metadata.id]


def test_an_unreadable_record_is_answered_exactly_as_a_missing_one(tmp_path: Path) -> None:
    with SessionController(tmp_path / "db", durable=False) as controller:
        hidden = controller.create(make_session(org=BETA))
        vera = TOKENS["tok-vera"]

        def message(call: Any) -> tuple[type[ResourceError], str]:
            with pytest.raises(ResourceError) as err:
                call()
            return type(err.value), err.value.message

        missing = "ses-01jmissing0000000000000000"
        for op in (controller.get, controller.delete, controller.pin, controller.resume):
            got = message(lambda op=op: op(hidden.metadata.id, principal=vera))
            assert got == (NotFound, f"session {hidden.metadata.id!r} not found")
            assert message(lambda op=op: op(missing, principal=vera)) == (
                NotFound,
                f"session {missing!r} not found",
            )
        ref = message(
            lambda: controller.get_by_reference(org=BETA, slug=hidden.metadata.slug, principal=vera)
        )
        absent = message(lambda: controller.get_by_reference(org=BETA, slug="no-such-slug", principal=vera))
        assert ref[0] is absent[0] is NotFound
        assert ref[1] == absent[1].replace("no-such-slug", hidden.metadata.slug)


def test_org_stays_immutable_for_a_principal_of_both_orgs(tmp_path: Path) -> None:
    """An update keeps the stored org whatever the request says (as for a trusted caller),
    so no role in two orgs moves a session between them."""
    both = Principal("both", {ACME: Role.ADMIN, BETA: Role.ADMIN})
    with SessionController(tmp_path / "db", durable=False) as controller:
        created = controller.create(make_session(org=ACME), principal=both)
        moved = type(created)()
        moved.CopyFrom(created)
        moved.metadata.org = BETA
        moved.metadata.labels["moved"] = "no"
        updated = controller.update(moved, principal=both)
        assert updated.metadata.org == ACME
        assert controller.get(created.metadata.id).metadata.org == ACME
        assert controller.list(org=BETA).entries == []


def test_the_request_log_line_names_the_principal_never_its_token(
    served: tuple[SessionController, Client], caplog: pytest.LogCaptureFixture
) -> None:
    _, client = served
    with caplog.at_level(logging.INFO):
        client.command.create(make_session(org=ACME), metadata=auth("tok-eddie"))
    lines = [r.__dict__["fields"] for r in caplog.records if r.getMessage() == "rpc"]
    assert [line["principal"] for line in lines] == ["eddie"]
    assert not any("tok-eddie" in repr(r.__dict__) for r in caplog.records)


# --- found in review: the org of a filter, the empty org, lag, cascades ------------------------

VERA = Principal("vera", {ACME: Role.VIEWER})


def _first_change(items: Iterator[Any]) -> Any:
    """The first change a watch delivers before its first bookmark (None: only a bookmark)."""
    for item in items:
        return item.change if item.HasField("change") else None
    return None


def test_a_watch_of_an_org_never_streams_another_orgs_resource(tmp_path: Path) -> None:
    with SessionController(tmp_path / "db", durable=False) as controller:
        secret = controller.create(make_session("beta secret", org=BETA))
        controller.append_message(secret.metadata.id, "user", "private")
        mine = controller.create(make_session("acme one", org=ACME))
        sid = secret.metadata.id
        watched = controller.watch(org=ACME, session_id=sid, bookmark_interval_s=0.05, principal=VERA)
        assert _first_change(watched) is None  # beta's session has no changes in acme
        trusted = controller.watch(org=ACME, session_id=sid, bookmark_interval_s=0.05)
        assert _first_change(trusted) is None  # nor for a trusted caller
        assert list(controller.list_changes(org=ACME, session_id=sid, principal=VERA).changes) == []
        own = _first_change(controller.watch(org=ACME, session_id=mine.metadata.id, principal=VERA))
        assert own.resource_id == mine.metadata.id


def test_a_create_into_the_empty_org_needs_a_role_there(tmp_path: Path) -> None:
    with SessionController(tmp_path / "db", durable=False) as controller:
        before = data_tables(controller.store)
        for nobody in (Principal("nobody"), VERA, Principal("eddie", {ACME: Role.EDITOR})):
            with pytest.raises(PermissionDenied, match="in org ''"):
                controller.create(make_session("nowhere", org=""), principal=nobody)
            with pytest.raises(PermissionDenied, match="in org ''"):
                controller.apply(make_session("nowhere", org=""), principal=nobody)
            with pytest.raises(PermissionDenied, match="in org ''"):
                controller.agent_instances.create(make_agent_instance(org=""), principal=nobody)
        assert data_tables(controller.store) == before
        everywhere = Principal("root", {"*": Role.EDITOR})
        assert controller.create(make_session("nowhere", org=""), principal=everywhere).metadata.org == ""


def test_another_orgs_writes_do_not_end_a_watcher_that_sees_none_of_them(tmp_path: Path) -> None:
    with SessionController(tmp_path / "db", durable=False) as controller:
        controller.create(make_session("acme one", org=ACME))
        for i in range(20):
            controller.create(make_session(f"beta {i}", org=BETA))
        items = iter(controller.watch(max_lag=10, bookmark_interval_s=0.05, principal=VERA))
        assert next(items).change.org == ACME
        bookmark = next(items)  # not RESOURCE_EXHAUSTED: acme's feed is caught up
        assert bookmark.HasField("bookmark")


def test_cascaded_deletes_record_who_impersonated(tmp_path: Path) -> None:
    gateway = Principal("gateway", {ACME: Role.ADMIN}, impersonate=True)
    with SessionController(tmp_path / "db", durable=False) as controller:
        bot = controller.agent_instances.create(make_agent_instance(org=ACME))
        controller.create(make_session("s", org=ACME, agent=bot.metadata.id))
        head = controller.store.read(lambda tx: tx.changes.current_revision())
        controller.agent_instances.delete(bot.metadata.id, cascade=True, principal=gateway, actor="bob")
        (deleted,) = controller.events(after=head)
        assert (deleted.type, deleted.actor_id, deleted.impersonated_by) == (
            "SessionDeleted",
            "bob",
            "gateway",
        )


@pytest.mark.parametrize(
    ("then", "code"),
    [
        (lambda tokens: tokens.pop("tok-w"), grpc.StatusCode.UNAUTHENTICATED),  # token removed
        (
            lambda tokens: tokens.update({"tok-w": Principal("w", {BETA: Role.VIEWER})}),
            grpc.StatusCode.ABORTED,
        ),
    ],
    ids=["token-removed", "roles-changed"],
)
def test_an_open_watch_is_authenticated_again_at_each_bookmark(
    tmp_path: Path, then: Callable[[dict[str, Principal]], object], code: grpc.StatusCode
) -> None:
    tokens = {"tok-w": Principal("w", {ACME: Role.VIEWER})}

    def authenticate_now(context: grpc.ServicerContext) -> Principal:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and str(value).removeprefix("Bearer ") in tokens:
                return tokens[str(value).removeprefix("Bearer ")]
        raise Unauthenticated("missing or invalid credentials")

    with SessionController(tmp_path / "db", durable=False, bookmark_interval_s=0.05) as controller:
        server = start_server(controller, "127.0.0.1:0", authenticator=authenticate_now)
        try:
            with grpc.insecure_channel(server.address) as channel:
                feed = change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]
                auth_w = (("authorization", "Bearer tok-w"),)
                # a deadline, so that a watch that is never cut off fails the test instead of hanging it
                stream = feed.watch(WatchSessionChangesRequest(), metadata=auth_w, timeout=10)
                assert next(stream).HasField("bookmark")  # served while the credentials hold
                then(tokens)
                with pytest.raises(grpc.RpcError) as ended:
                    for _ in stream:  # the next bookmark finds them gone or changed
                        pass
                assert ended.value.code() == code
        finally:
            server.stop(grace=None)
