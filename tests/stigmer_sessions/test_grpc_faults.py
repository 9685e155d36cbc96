"""Storage faults as a client and an operator see them: a real server process on a full volume."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import grpc
import pytest

from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc, query_pb2_grpc
from stigmer_sessions.api import ListSessionsRequest, SessionId
from tests.conftest import fill_volume, make_session, start_server_process


def test_a_full_disk_is_resource_exhausted_logged_with_the_path_and_recovers(small_volume: Path) -> None:
    data = small_volume / "data"
    proc, event = start_server_process("--address", "127.0.0.1:0", "--data-dir", str(data))
    try:
        with grpc.insecure_channel(event["address"]) as channel:
            commands = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
            queries = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
            first = commands.create(make_session("first"))
            filler = fill_volume(small_volume, leave_bytes=256 * 1024)
            created = 1
            with pytest.raises(grpc.RpcError) as caught:
                for i in range(200):
                    session = make_session(f"filler {i}")
                    session.metadata.annotations["note"] = f"{i}" * 20_000
                    commands.create(session)
                    created += 1
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            details = caught.value.details() or ""
            assert "out of disk space" in details
            assert "mdb" not in details and str(data) not in details
            assert queries.get(SessionId(value=first.metadata.id)) == first  # reads go on
            assert queries.list(ListSessionsRequest(org="acme")).total_size == created  # nothing half-written
            filler.unlink()
            commands.create(make_session("after the space was freed"))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        event["drain"].join(30)
    errors = [line for line in event["lines"] if line["level"] == "error"]
    assert any(str(data) in line["msg"] and "out of disk space" in line["msg"] for line in errors), errors
    failed = [line for line in event["lines"] if line.get("code") == "RESOURCE_EXHAUSTED"]
    assert failed, json.dumps(event["lines"])[:2000]
