"""--workers N: several server processes, one port, one store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import pytest

from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2_grpc,
    command_pb2_grpc,
    query_pb2_grpc,
)
from stigmer_sessions.api import ListSessionsRequest, WatchSessionChangesRequest
from tests.conftest import make_session, start_server_process

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_workers(tmp_path: Path) -> Any:
    proc, event = start_server_process(
        "--workers", "2", "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "d")
    )
    yield proc, event
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def channels(address: str, n: int) -> list[grpc.Channel]:
    # separate channels make separate connections, which SO_REUSEPORT spreads over workers
    return [grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(n)]


def test_workers_share_the_store_and_serialise_writes(two_workers: Any) -> None:
    _, event = two_workers
    assert event["workers"] == 2 and len(event["pids"]) == 2
    chans = channels(event["address"], 8)
    try:
        stubs = [command_pb2_grpc.SessionCommandControllerStub(c) for c in chans]  # type: ignore[no-untyped-call]
        results: list[Any] = [None] * len(stubs)
        barrier = threading.Barrier(len(stubs))

        def race(i: int) -> None:
            barrier.wait()
            try:
                results[i] = stubs[i].create(make_session("one name"))
            except grpc.RpcError as err:
                results[i] = err.code()

        threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stubs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcome = Counter("ok" if not isinstance(r, grpc.StatusCode) else r.name for r in results)
        assert outcome == {"ok": 1, "ALREADY_EXISTS": len(stubs) - 1}
        for i, stub in enumerate(stubs):
            stub.create(make_session(f"via channel {i}"))
        queries = [query_pb2_grpc.SessionQueryControllerStub(c) for c in chans]  # type: ignore[no-untyped-call]
        totals = {q.list(ListSessionsRequest()).total_size for q in queries}
        assert totals == {len(stubs) + 1}  # every worker sees every write
        # The kernel spreads connections over the workers by a hash, so 8 of them all land on
        # one worker once in ~128 runs: open more (each a fresh connection) until both have
        # served, within a bound; log lines also arrive a moment after their call.
        served_by: set[int] = set()
        deadline = time.monotonic() + 30
        while True:
            served_by = {line["pid"] for line in event["lines"] if line["msg"] == "rpc"}
            if served_by == set(event["pids"]) or time.monotonic() > deadline:
                break
            [extra] = channels(event["address"], 1)
            chans.append(extra)
            query_pb2_grpc.SessionQueryControllerStub(extra).list(ListSessionsRequest())  # type: ignore[no-untyped-call]
            time.sleep(0.05)
        assert served_by == set(event["pids"]), "the connections reached both workers"
    finally:
        for c in chans:
            c.close()


def test_a_watch_sees_changes_committed_by_other_workers(two_workers: Any) -> None:
    _, event = two_workers
    chans = channels(event["address"], 6)
    try:
        stream = change_pb2_grpc.SessionChangeControllerStub(chans[0]).watch(  # type: ignore[no-untyped-call]
            WatchSessionChangesRequest(from_now=True)
        )
        time.sleep(0.3)
        for i, c in enumerate(chans):
            command_pb2_grpc.SessionCommandControllerStub(c).create(make_session(f"w{i}"))  # type: ignore[no-untyped-call]
        seen = []
        for response in stream:
            if response.HasField("change"):
                seen.append(response.change.revision)
            if len(seen) == len(chans):
                break
        stream.cancel()
        assert seen == list(range(1, len(chans) + 1))
    finally:
        for c in chans:
            c.close()


def test_a_dead_worker_stops_the_service(two_workers: Any) -> None:
    proc, event = two_workers
    os.kill(event["pids"][1], signal.SIGKILL)
    assert proc.wait(timeout=60) == 1
    for pid in event["pids"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_single_server_refuses_a_port_already_in_use(tmp_path: Path) -> None:
    proc, event = start_server_process("--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "a"))
    try:
        second = subprocess.run(
            [
                sys.executable,
                str(ROOT / "server.py"),
                "--address",
                event["address"],
                "--data-dir",
                str(tmp_path / "b"),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert f"cannot listen on {event['address']}" in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
