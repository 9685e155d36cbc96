"""Two server replicas (``server.py --store postgresql://...``, separate processes) on ONE
PostgreSQL database: every race the API promises one winner has one across them, versions
never lose an update, and a watcher on each replica sees every change of both, in the same
order, gap-free."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from pipeline.retry import retry_on_conflict
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2_grpc,
    command_pb2_grpc,
    message_pb2_grpc,
    query_pb2_grpc,
)
from stigmer_sessions.api import (
    AppendSessionMessageRequest,
    ListSessionChangesRequest,
    ListSessionsRequest,
    SessionId,
    TransitionSessionRequest,
    WatchSessionChangesRequest,
)
from tests.backends import pg_schema
from tests.conftest import make_session, race, start_server_process

N = 16


class Replica:
    def __init__(self, address: str) -> None:
        self.address = address
        self.channel = grpc.insecure_channel(address)
        self.command = command_pb2_grpc.SessionCommandControllerStub(self.channel)  # type: ignore[no-untyped-call]
        self.query = query_pb2_grpc.SessionQueryControllerStub(self.channel)  # type: ignore[no-untyped-call]
        self.messages = message_pb2_grpc.SessionMessageControllerStub(self.channel)  # type: ignore[no-untyped-call]
        self.changes = change_pb2_grpc.SessionChangeControllerStub(self.channel)  # type: ignore[no-untyped-call]


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    """Two replicas on one fresh schema (each migrates at start: they queue on the version
    row), each with its own pool, quota 5 sessions per org."""
    with pg_schema() as dsn:
        procs: list[tuple[subprocess.Popen[str], dict[str, Any]]] = []
        try:
            for _ in range(2):
                procs.append(
                    start_server_process(
                        *("--address", "127.0.0.1:0", "--store", dsn, "--max-sessions-per-org", "5"),
                        *("--bookmark-interval", "0.2", "--max-workers", "32"),
                    )
                )
            both = [Replica(event["address"]) for _, event in procs]
            yield both
            for r in both:
                r.channel.close()
        finally:
            for proc, event in procs:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=30) == 0
                event["drain"].join(30)


def _codes(results: list[Any]) -> Counter[str]:
    return Counter(r.code().name if isinstance(r, grpc.RpcError) else "OK" for r in results)


def test_same_name_creates_across_replicas_have_one_winner(replicas: list[Replica]) -> None:
    results = race(N, lambda i: replicas[i % 2].command.create(make_session("one name")))
    assert _codes(results) == {"OK": 1, "ALREADY_EXISTS": N - 1}
    winner = next(r for r in results if not isinstance(r, Exception))
    for r in replicas:
        assert r.query.get(SessionId(value=winner.metadata.id)) == winner


def test_quota_race_across_replicas_admits_exactly_the_quota(replicas: list[Replica]) -> None:
    results = race(N, lambda i: replicas[i % 2].command.create(make_session(f"q{i}", org="quota")))
    assert _codes(results) == {"OK": 5, "RESOURCE_EXHAUSTED": N - 5}
    for r in replicas:
        assert r.query.list(ListSessionsRequest(org="quota")).total_size == 5


def test_transitions_and_message_sequences_across_replicas(replicas: list[Replica]) -> None:
    s = replicas[0].command.create(make_session("lifecycle"))
    version = s.metadata.version.id
    phases = ("paused", "completed")
    moves = race(
        N,
        lambda i: replicas[i % 2].command.transition(
            TransitionSessionRequest(
                session_id=s.metadata.id, phase=phases[i // 2 % 2], expected_version=version
            )
        ),
    )
    codes = _codes(moves)
    assert codes["OK"] == 1 and set(codes) <= {"OK", "ABORTED", "FAILED_PRECONDITION"}, codes
    winner = next(m for m in moves if not isinstance(m, Exception))
    for r in replicas:
        assert r.query.get(SessionId(value=s.metadata.id)) == winner
    history = replicas[1].changes.listChanges(ListSessionChangesRequest(session_id=s.metadata.id))
    assert len(history.changes) == 2  # created, and the one phase change
    t = replicas[1].command.create(make_session("chat"))
    appended = race(
        N,
        lambda i: replicas[i % 2].messages.appendMessage(
            AppendSessionMessageRequest(session_id=t.metadata.id, role="role_user", content=f"m{i}")
        ),
    )
    assert sorted(m.sequence for m in appended) == list(range(1, N + 1))  # unique and gap-free


def test_read_modify_write_through_both_replicas_loses_no_update(replicas: list[Replica]) -> None:
    s = replicas[0].command.create(make_session("counter"))
    per_thread = 5

    def bump(i: int) -> None:
        replica = replicas[i % 2]

        def once() -> None:
            current = replica.query.get(SessionId(value=s.metadata.id))
            current.metadata.annotations["n"] = str(int(current.metadata.annotations.get("n", "0")) + 1)
            replica.command.update(current)  # conditional on the version read: ABORTED if it moved

        for _ in range(per_thread):
            retry_on_conflict(once, attempts=1000, backoff_s=0.001)

    failures = [r for r in race(8, bump) if r is not None]
    assert failures == []
    final = replicas[1].query.get(SessionId(value=s.metadata.id))
    assert final.metadata.annotations["n"] == str(8 * per_thread)


def test_a_watcher_on_each_replica_sees_every_change_of_both_in_the_same_order(
    replicas: list[Replica],
) -> None:
    start = replicas[0].changes.listChanges(ListSessionChangesRequest(page_size=1)).current_revision
    writes = 40
    seen: list[list[int]] = [[], []]
    streams: list[Any] = []
    subscribed = threading.Barrier(3)
    done = [threading.Event(), threading.Event()]

    def watch(slot: int) -> None:
        stream = replicas[slot].changes.watch(WatchSessionChangesRequest(after_revision=start))
        streams.append(stream)
        subscribed.wait()
        try:
            for response in stream:
                if response.HasField("change"):
                    seen[slot].append(response.change.revision)
                if len(seen[slot]) >= writes:
                    done[slot].set()
                    return
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.CANCELLED

    watchers = [threading.Thread(target=watch, args=(slot,), daemon=True) for slot in range(2)]
    for w in watchers:
        w.start()
    subscribed.wait()
    race(writes, lambda i: replicas[i % 2].command.create(make_session(f"w{i}", org=f"o{i}")))
    for slot in range(2):
        # a bound on the wait (NOTIFY wakes them; polling is the fallback), not a timing claim
        assert done[slot].wait(60), f"replica {slot}'s watcher saw {len(seen[slot])} of {writes}"
    for stream in streams:
        stream.cancel()
    expected = list(range(start + 1, start + writes + 1))
    assert seen[0] == expected  # every change of both replicas, gap-free, in revision order
    assert seen[1] == seen[0]  # ... and the same sequence on the other replica
