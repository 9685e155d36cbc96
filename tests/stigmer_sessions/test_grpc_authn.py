"""Authentication over gRPC: who may call the kinds' services and reflection, that health
stays open, and what the log says about callers (never their credentials)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from pipeline.authn import REQUIRED, Authenticate, TokenFile, token_digest
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import change_pb2
from stigmer_sessions.grpc_server import COMMAND_SERVICE, RunningServer, start_server
from tests.backends import LMDB_ONLY
from tests.conftest import Stubs, make_session

pytestmark = LMDB_ONLY  # authentication happens before any store is touched
TOKEN = "alice-secret-token"
ALICE = [("authorization", f"Bearer {TOKEN}")]


@pytest.fixture
def authn_server(controller: SessionController, tmp_path: Path) -> Iterator[RunningServer]:
    path = tmp_path / "tokens.toml"
    digest = token_digest(TOKEN)
    path.write_text(
        f'[[principals]]\nid = "alice"\ntoken_sha256 = "{digest}"\nroles = {{ acme = "editor" }}\n'
    )
    running = start_server(controller, "127.0.0.1:0", authenticator=Authenticate(TokenFile(str(path))))
    yield running
    running.stop(grace=None)


@pytest.fixture
def authn_stubs(authn_server: RunningServer) -> Iterator[Stubs]:
    with grpc.insecure_channel(authn_server.address) as channel:
        yield Stubs(channel)


def test_a_valid_token_is_served_and_its_principal_logged(
    authn_stubs: Stubs, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "stigmer_sessions.rpc"):
        created = authn_stubs.command.create(make_session(), metadata=ALICE)
    assert created.metadata.id
    (line,) = [r for r in caplog.records if r.getMessage() == "rpc"]
    fields = line.fields  # type: ignore[attr-defined]
    assert fields["principal"] == "alice" and fields["code"] == "OK"


@pytest.mark.parametrize(
    "metadata",
    [[], [("authorization", "Bearer wrong")], [("authorization", "Bearer ")], [("authorization", TOKEN)]],
    ids=["none", "unknown", "empty", "no-scheme"],
)
def test_missing_unknown_or_malformed_credentials_are_unauthenticated(
    authn_stubs: Stubs, metadata: list[tuple[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "stigmer_sessions.rpc"), pytest.raises(grpc.RpcError) as raised:
        authn_stubs.command.create(make_session(), metadata=metadata)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.details() == REQUIRED
    (denial,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    fields = denial.fields  # type: ignore[attr-defined]
    assert fields["method"] == f"/{COMMAND_SERVICE}/create" and fields["peer"].startswith("ipv")
    logged = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert TOKEN not in logged and "wrong" not in logged and token_digest(TOKEN) not in logged


def test_a_refused_write_writes_nothing(authn_stubs: Stubs, controller: SessionController) -> None:
    with pytest.raises(grpc.RpcError):
        authn_stubs.command.create(make_session(), metadata=[("x-actor-id", "mallory")])
    assert controller.sizes().records == 0


def test_watch_needs_credentials_too(authn_stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        next(iter(authn_stubs.agent_changes.watch(change_pb2.WatchAgentInstanceChangesRequest())))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_stays_open_without_credentials(authn_server: RunningServer) -> None:
    with grpc.insecure_channel(authn_server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service=COMMAND_SERVICE))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def _list_services(address: str, metadata: list[tuple[str, str]]) -> list[str]:
    with grpc.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        (response,) = list(stub.ServerReflectionInfo(requests, metadata=metadata))
    return [s.name for s in response.list_services_response.service]


def test_reflection_needs_authentication_when_it_is_on(authn_server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        _list_services(authn_server.address, [])
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.details() == REQUIRED
    assert COMMAND_SERVICE in _list_services(authn_server.address, ALICE)


def test_without_authentication_reflection_stays_open(server: RunningServer) -> None:
    assert COMMAND_SERVICE in _list_services(server.address, [])
