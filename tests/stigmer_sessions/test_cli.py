"""``python server.py`` as a user runs it: a real process, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc

from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc, query_pb2_grpc
from stigmer_sessions.api import SessionId
from tests.conftest import make_session

ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        event = json.loads(line)
        if event["msg"] == "serving":
            return proc, event
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stderr.read()}")


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_serves_on_port_0_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, event = _start("--address", "127.0.0.1:0", "--data-dir", str(data))
    try:
        assert event["address"].startswith("127.0.0.1:")
        assert not event["address"].endswith(":0")
        assert event["data_dir"] == str(data)
        with grpc.insecure_channel(event["address"]) as channel:
            created = command_pb2_grpc.SessionCommandControllerStub(channel).create(make_session())  # type: ignore[no-untyped-call]
    finally:
        err = _stop(proc)
    assert '"msg": "shutting down"' in err
    assert '"method": "/ai.stigmer.agentic.session.v1.SessionCommandController/create"' in err

    proc, event = _start(
        env={"STIGMER_SESSIONS_ADDRESS": "127.0.0.1:0", "STIGMER_SESSIONS_DATA_DIR": str(data)}
    )
    try:
        assert event["data_dir"] == str(data)
        with grpc.insecure_channel(event["address"]) as channel:
            stub = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
            assert stub.get(SessionId(value=created.metadata.id)) == created
    finally:
        _stop(proc, signal.SIGINT)


def test_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--address", "127.0.0.1:0", "--data-dir", str(blocker)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert str(blocker) in proc.stderr
    assert "Traceback" not in proc.stderr
