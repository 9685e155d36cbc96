"""The gRPC seam under bad input: bounded error replies a default client can read, bodies that
do not parse, the receive limit following the configured limits, per-client watch slots, and
what the per-request log line says."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from pipeline.grpc_status import bad_request_of
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import change_pb2_grpc, message_pb2_grpc
from stigmer_sessions.api import AppendSessionMessageRequest, WatchSessionChangesRequest
from stigmer_sessions.grpc_server import CHANGE_SERVICE, COMMAND_SERVICE, start_server
from tests.conftest import Stubs, data_tables, make_session, start_server_process

MIB = 1024 * 1024


def test_a_5000_character_name_is_invalid_argument_for_a_default_client(stubs: Stubs, store: Storage) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.create(make_session("!" * 5000))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert "metadata.name" in (err.value.details() or "")
    assert "more characters" in (err.value.details() or "")
    assert data_tables(store)["records"] == []


def test_a_request_with_many_violations_is_invalid_argument_for_a_default_client(stubs: Stubs) -> None:
    session = make_session()
    for i in range(400):
        session.metadata.labels[f"bad key {i} " + "x" * 40] = "not@valid"
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.create(session)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert "more violations not shown" in (err.value.details() or "")
    bad = bad_request_of(rpc_status.from_call(err.value))
    assert bad is not None and len(bad.field_violations) > 3


@pytest.mark.parametrize("method", ["create", "delete", "transition"])
def test_a_body_that_does_not_parse_is_invalid_argument(stubs: Stubs, store: Storage, method: str) -> None:
    call: Any = stubs.channel.unary_unary(f"/{COMMAND_SERVICE}/{method}", request_serializer=None)
    before = data_tables(store)
    with pytest.raises(grpc.RpcError) as err:
        call(b"\xff\xff\xff\xff garbage")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid" in (err.value.details() or "")
    assert data_tables(store) == before


def test_a_watch_body_that_does_not_parse_is_invalid_argument(stubs: Stubs) -> None:
    call: Any = stubs.channel.unary_stream(f"/{CHANGE_SERVICE}/watch", request_serializer=None)
    with pytest.raises(grpc.RpcError) as err:
        next(iter(call(b"\x0a\xff")))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


HEALTH = "grpc.health.v1.Health"
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        (f"/{HEALTH}/Check", "unary_unary"),
        (f"/{HEALTH}/List", "unary_unary"),
        (f"/{HEALTH}/Watch", "unary_stream"),
        (f"/{REFLECTION}/ServerReflectionInfo", "stream_stream"),
    ],
)
def test_a_body_that_does_not_parse_is_invalid_argument_on_health_and_reflection_too(
    stubs: Stubs, caplog: pytest.LogCaptureFixture, method: str, kind: str
) -> None:
    # grpcio answers these INTERNAL ("Exception deserializing request!") and logs a traceback.
    body = b"\xff\xff\xff\xff garbage"
    call: Any = getattr(stubs.channel, kind)(method, request_serializer=None)
    with caplog.at_level(logging.DEBUG), pytest.raises(grpc.RpcError) as err:
        if kind == "unary_unary":
            call(body, timeout=10)
        else:
            next(iter(call(iter([body]) if kind == "stream_stream" else body, timeout=10)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert "not a valid" in (err.value.details() or "")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_health_list_answers_every_registered_service(stubs: Stubs, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        response = health_pb2_grpc.HealthStub(stubs.channel).List(health_pb2.HealthListRequest())
    assert response.statuses[COMMAND_SERVICE].status == health_pb2.HealthCheckResponse.SERVING
    assert "" in response.statuses
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_failed_rpc_logs_its_error_message(stubs: Stubs, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "stigmer_sessions.rpc"), pytest.raises(grpc.RpcError):
        stubs.command.create(make_session("!" * 5000))
    (line,) = [r for r in caplog.records if r.name == "stigmer_sessions.rpc"]
    fields: dict[str, Any] = line.fields  # type: ignore[attr-defined]
    assert fields["code"] == "INVALID_ARGUMENT"
    assert "metadata.name" in fields["error"] and len(fields["error"]) <= 303


def test_a_watch_line_names_its_actor_like_every_other_line(
    store: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    controller = SessionController(store=store, bookmark_interval_s=0.05)
    running = start_server(controller, "127.0.0.1:0")
    try:
        with caplog.at_level(logging.INFO, "stigmer_sessions.rpc"):
            with grpc.insecure_channel(running.address) as channel:
                stub = change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]
                _open_watch(stub, "alice").cancel()
                _open_watch(stub).cancel()
            lines = _wait_for_records(caplog, lambda r: r.fields.get("method", "").endswith("/watch"), 2)
    finally:
        running.stop(grace=None)
    assert sorted(r.fields["actor"] for r in lines) == ["alice", "system"]
    assert {r.fields["code"] for r in lines} == {"CANCELLED"}


@pytest.fixture
def watch_server(store: Storage) -> Iterator[str]:
    controller = SessionController(store=store, bookmark_interval_s=0.05)
    running = start_server(controller, "127.0.0.1:0", max_watchers=6, max_watchers_per_client=2)
    yield running.address
    running.stop(grace=None)


def _open_watch(stub: Any, actor: str = "") -> Any:
    """A watch stream that has taken its slot (its first bookmark arrived)."""
    call = stub.watch(
        WatchSessionChangesRequest(from_now=True), metadata=(("x-actor-id", actor),) if actor else ()
    )
    next(call)
    return call


def test_one_client_cannot_take_every_watch_slot(watch_server: str) -> None:
    # A channel of its own connection (grpc shares connections between a process's channels).
    own = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(watch_server) as one, grpc.insecure_channel(watch_server, options=own) as two:
        alice = change_pb2_grpc.SessionChangeControllerStub(one)  # type: ignore[no-untyped-call]
        streams = [_open_watch(alice, "alice") for _ in range(2)]
        with pytest.raises(grpc.RpcError) as err:
            _open_watch(alice, "alice")
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit 2 per client" in (err.value.details() or "")
        streams.append(_open_watch(alice, "bob"))  # another client still watches
        anonymous = [_open_watch(alice) for _ in range(2)]  # keyed by the connection
        with pytest.raises(grpc.RpcError):
            _open_watch(alice)
        other = change_pb2_grpc.SessionChangeControllerStub(two)  # type: ignore[no-untyped-call]
        anonymous.append(_open_watch(other))
        streams[0].cancel()
        _wait_for_slot(lambda: _open_watch(alice, "alice"))
        for call in streams + anonymous:
            call.cancel()


def _wait_for_slot(open_watch: Any) -> None:
    """Slots free when the server sees the cancel, a moment later: retry until it has."""
    done = threading.Event()
    for _ in range(200):
        try:
            open_watch().cancel()
            done.set()
            break
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            done.wait(0.02)
    assert done.is_set()


def test_receive_limit_follows_max_message_bytes_and_logs(tmp_path: Path) -> None:
    proc, event = start_server_process(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "db"), "--max-message-bytes", str(6 * MIB)
    )
    try:
        options = [("grpc.max_receive_message_length", 16 * MIB)]  # the reply echoes the message
        with grpc.insecure_channel(event["address"], options=options) as channel:
            stubs = Stubs(channel)
            sid = stubs.command.create(make_session()).metadata.id
            messages = message_pb2_grpc.SessionMessageControllerStub(channel)  # type: ignore[no-untyped-call]
            ok = messages.appendMessage(
                AppendSessionMessageRequest(session_id=sid, role="role_user", content="a" * (5 * MIB))
            )
            assert ok.sequence == 1
            with pytest.raises(grpc.RpcError) as err:
                messages.appendMessage(
                    AppendSessionMessageRequest(session_id=sid, role="role_user", content="a" * (7 * MIB))
                )
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert str(6 * MIB) in (err.value.details() or "")
            health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest())
            watch = change_pb2_grpc.SessionChangeControllerStub(channel).watch(  # type: ignore[no-untyped-call]
                WatchSessionChangesRequest(after_revision=0)
            )
            next(watch)
            watch.cancel()
    finally:
        proc.terminate()
        proc.wait(30)
        event["drain"].join(10)
    lines = event["lines"]
    assert not [line for line in lines if line["level"] == "error"], lines
    failed = [line for line in lines if line.get("code") == "INVALID_ARGUMENT"]
    assert failed and str(6 * MIB) in failed[0]["error"]
    watches = [line for line in lines if line.get("method", "").endswith("/watch")]
    assert [line["code"] for line in watches] == ["CANCELLED"]


def test_a_watch_cut_off_by_shutdown_is_logged_cancelled(
    store: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    controller = SessionController(store=store, bookmark_interval_s=0.05)
    running = start_server(controller, "127.0.0.1:0")
    with (
        caplog.at_level(logging.INFO, "stigmer_sessions.rpc"),
        grpc.insecure_channel(running.address) as channel,
    ):
        stub = change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]
        call = _open_watch(stub)  # kept: a dropped call object cancels the stream itself
        running.stop(grace=0.2)  # the watch outlives the grace period: shutdown cuts it off
        # stop() returns once the transport is down; the handler thread writes its line a
        # moment later, so wait for it (bounded) while the capture is still on.
        watches = _wait_for_records(caplog, lambda r: r.fields.get("method", "").endswith("/watch"))
        call.cancel()
    assert [r.fields["code"] for r in watches] == ["CANCELLED"]


def _wait_for_records(caplog: pytest.LogCaptureFixture, wanted: Any, at_least: int = 1) -> list[Any]:
    """The rpc log records ``wanted`` accepts, once there are ``at_least`` (10 s at most)."""
    arrived = threading.Event()
    found: list[Any] = []
    for _ in range(500):
        found = [r for r in caplog.records if hasattr(r, "fields") and wanted(r)]
        if len(found) >= at_least:
            break
        arrived.wait(0.02)
    return found
