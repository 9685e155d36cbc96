"""End to end over a real channel: the server runs in-process on port 0."""

from __future__ import annotations

import logging

import grpc
import pytest
from google.rpc import status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from pipeline.grpc_status import bad_request_of
from stigmer_sessions.api import (
    ApiResourceOwnerScope,
    ApiResourceReference,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    Session,
    SessionId,
    SessionList,
)
from stigmer_sessions.grpc_server import COMMAND_SERVICE, QUERY_SERVICE, RunningServer
from tests.conftest import Stubs, make_session

ACTOR = (("x-actor-id", "alice"),)


def _status(err: grpc.RpcError) -> status_pb2.Status:
    status = rpc_status.from_call(err)
    assert status is not None
    return status


def test_create_get_update_apply_delete(stubs: Stubs) -> None:
    created = stubs.command.create(make_session("Over the Wire"), metadata=ACTOR)
    assert created.metadata.slug == "over-the-wire"
    assert created.status.audit.spec_audit.created_by.id == "alice"
    assert stubs.query.get(SessionId(value=created.metadata.id)) == created

    change = Session()
    change.CopyFrom(created)
    change.spec.subject = "updated"
    updated = stubs.command.update(change)
    assert updated.spec.subject == "updated"
    assert updated.status.audit.spec_audit.updated_by.id == "system"

    applied = stubs.command.apply(make_session("Over the Wire", subject="applied"))
    assert (applied.metadata.id, applied.spec.subject) == (created.metadata.id, "applied")

    ref = ApiResourceReference(org="acme", slug="over-the-wire")
    assert stubs.query.getByReference(ref) == applied

    deleted = stubs.command.delete(SessionId(value=created.metadata.id))
    assert deleted == applied
    with pytest.raises(grpc.RpcError) as err:
        stubs.query.get(SessionId(value=created.metadata.id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert created.metadata.id in (err.value.details() or "")


def test_list_and_list_by_agent_with_pages(stubs: Stubs) -> None:
    ids = [stubs.command.create(make_session(f"s{i}", agent="ain-w")).metadata.id for i in range(7)]
    page: SessionList = stubs.query.list(ListSessionsRequest(page_size=3))
    assert [s.metadata.id for s in page.entries] == ids[::-1][:3]
    assert (page.total_size, page.total_pages) == (7, 3)
    rest = stubs.query.list(ListSessionsRequest(page_size=10, page_token=page.next_page_token))
    # the token is bound to its query: a different page size is the same query
    assert [s.metadata.id for s in rest.entries] == ids[::-1][3:]
    by_agent = stubs.query.listByAgent(ListSessionsByAgentRequest(agent_id="ain-w", page_size=5))
    assert len(by_agent.entries) == 5
    assert by_agent.total_size == 7


def test_invalid_argument_has_bad_request_details(stubs: Stubs) -> None:
    bad = make_session(agent="")
    bad.metadata.owner_scope = ApiResourceOwnerScope.platform
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.create(bad)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = bad_request_of(_status(err.value))
    assert details is not None
    assert {(v.field, v.reason) for v in details.field_violations} == {
        ("metadata", "session.owner_scope.org_or_identity_only"),
        ("spec.agent_instance_id", "required"),
    }


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda s: s.command.create(make_session("dup")), grpc.StatusCode.ALREADY_EXISTS),
        (lambda s: s.query.get(SessionId(value="ses-missing")), grpc.StatusCode.NOT_FOUND),
        (lambda s: s.command.delete(SessionId(value="ses-missing")), grpc.StatusCode.NOT_FOUND),
        (
            lambda s: s.query.getByReference(ApiResourceReference(org="x", slug="y")),
            grpc.StatusCode.NOT_FOUND,
        ),
        (lambda s: s.command.update(make_session()), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda s: s.query.get(SessionId()), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda s: s.query.list(ListSessionsRequest(page_token="bogus")), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda s: s.query.listByAgent(ListSessionsByAgentRequest()), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_error_codes(stubs: Stubs, call: object, code: grpc.StatusCode) -> None:
    stubs.command.create(make_session("dup"))
    with pytest.raises(grpc.RpcError) as err:
        call(stubs)  # type: ignore[operator]
    assert err.value.code() == code
    assert err.value.details()


def test_method_paths_are_stigmers(stubs: Stubs) -> None:
    call = stubs.channel.unary_unary(
        f"/{QUERY_SERVICE}/listByAgent",
        request_serializer=ListSessionsByAgentRequest.SerializeToString,
        response_deserializer=SessionList.FromString,
    )
    assert call(ListSessionsByAgentRequest(agent_id="none")).total_size == 0
    assert QUERY_SERVICE == "ai.stigmer.agentic.session.v1.SessionQueryController"
    assert COMMAND_SERVICE == "ai.stigmer.agentic.session.v1.SessionCommandController"


def test_health_and_reflection(stubs: Stubs) -> None:
    health = health_pb2_grpc.HealthStub(stubs.channel)
    for service in ("", COMMAND_SERVICE, QUERY_SERVICE):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
    replies = list(
        reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    )
    names = {s.name for s in replies[0].list_services_response.service}
    assert {COMMAND_SERVICE, QUERY_SERVICE, "grpc.health.v1.Health"} <= names


def test_one_log_line_per_request(stubs: Stubs, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="stigmer_sessions.rpc"):
        stubs.command.create(make_session("logged"), metadata=ACTOR)
        with pytest.raises(grpc.RpcError):
            stubs.query.get(SessionId(value="ses-nope"))
    fields = [r.fields for r in caplog.records if r.name == "stigmer_sessions.rpc"]  # type: ignore[attr-defined]
    assert [(f["method"], f["code"], f["actor"]) for f in fields] == [
        (f"/{COMMAND_SERVICE}/create", "OK", "alice"),
        (f"/{QUERY_SERVICE}/get", "NOT_FOUND", "system"),
    ]
    assert all(f["duration_ms"] >= 0 for f in fields)


def test_graceful_stop_reports_not_serving(server: RunningServer) -> None:
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        server.health.enter_graceful_shutdown()
        reply = health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
