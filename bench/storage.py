"""The storage section: PostgreSQL vs LMDB behind the same server, and replicas on one database.

Both backends are served by ``python server.py`` as deployed (``--store postgresql://…`` or
``--data-dir DIR``, durable), driven by the same closed-loop client, pinned alike:
client on cpu 0, server and the PostgreSQL cluster on cpu 1, so each backend gets one core
for the server and its storage. The cluster is a throwaway one started with durable settings
(fsync and synchronous_commit on): an acknowledged write is on disk on both sides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import grpc

from bench.drive import closed_loop
from bench.stats import Result, cpu_seconds
from bench.suite import Ids, fan_out, paced_fan_out, served, session
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2_grpc,
    command_pb2_grpc,
    message_pb2_grpc,
    query_pb2_grpc,
)
from stigmer_sessions.api import (
    AppendSessionMessageRequest,
    ListSessionsRequest,
    ResumeSessionRequest,
    SessionId,
    SessionMessageRole,
    WatchSessionChangesRequest,
)

ROOT = Path(__file__).resolve().parents[1]
TITLE = "Storage: PostgreSQL vs LMDB over gRPC (both durable; same server code, client and pinning)"
CLIENTS = (1, 16, 64)
OPERATIONS = ("Create", "Get", "List 50", "Append", "Resume 100")


# --- the cluster --------------------------------------------------------------------------


@contextmanager
def durable_cluster(tmp: str) -> Iterator[tuple[str, Path]]:
    """A throwaway PostgreSQL (``tools/pg_cluster.py start --durable``): yields its DSN and
    data directory; stopped and removed afterwards, whatever happens."""
    state = Path(tmp) / "pg-bench.json"
    tool = [sys.executable, str(ROOT / "tools" / "pg_cluster.py")]
    out = subprocess.run(
        [*tool, "start", "--durable", "--state", str(state)], check=True, capture_output=True, text=True
    ).stdout
    dsn = out.strip().rsplit("=", 1)[1]
    try:
        yield dsn, Path(json.loads(state.read_text())["root"]) / "data"
    finally:
        subprocess.run([*tool, "stop", "--state", str(state)], check=False)


def cluster_pids(data: Path) -> list[int]:
    """The postmaster and every process it forked (backends, WAL writer, checkpointer)."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == postmaster:
            pids.append(int(stat.parent.name))
    return pids


def pin_cluster(data: Path, cpus: set[int]) -> None:
    """Pin the cluster's processes; backends forked later inherit the postmaster's mask."""
    for pid in cluster_pids(data):
        with suppress(OSError):  # a process that just exited
            os.sched_setaffinity(pid, cpus)


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with suppress(OSError):
            total += cpu_seconds(pid)
    return total


# --- the workload -------------------------------------------------------------------------


def workload(
    url: str, ids: Ids, n: int, cluster: Path | None, *, watch_writes: int
) -> tuple[dict[tuple[str, int], Result], Result]:
    """Every operation at 1, 16 and 64 clients against one server on ``url``, and the
    watch delivery latency on that server. Rows carry server CPU (and, for PostgreSQL, the
    database's CPU added to it) per call."""
    rows: dict[tuple[str, int], Result] = {}
    with served(_store(url), cpu=1) as (address, pids), grpc.insecure_channel(address) as ch:
        command = command_pb2_grpc.SessionCommandControllerStub(ch)  # type: ignore[no-untyped-call]
        query = query_pb2_grpc.SessionQueryControllerStub(ch)  # type: ignore[no-untyped-call]
        messages = message_pb2_grpc.SessionMessageControllerStub(ch)  # type: ignore[no-untyped-call]
        closed_loop("warm", lambda i: command.create.future(session(ids())), concurrency=4, total=50)
        targets = [command.create(session(ids())).metadata.id for _ in range(64)]
        history = targets[0]
        for i in range(100):
            messages.appendMessage(_message(history, i))
        sid = SessionId(value=targets[1])
        listing = ListSessionsRequest(org="acme", page_size=50)
        resume = ResumeSessionRequest(session_id=history, page_size=100)
        calls: dict[str, tuple[Callable[[int], Any], int]] = {
            "Create": (lambda i: command.create.future(session(ids())), n),
            "Get": (lambda i: query.get.future(sid), n),
            "List 50": (lambda i: query.list.future(listing), n // 2),
            # each client appends to a session of its own (as agents do), not all to one
            "Append": (lambda i: messages.appendMessage.future(_message(targets[1 + i % 63], i)), n),
            "Resume 100": (lambda i: messages.resume.future(resume), n // 2),
        }
        for op, (call, total) in calls.items():
            for c in CLIENTS:
                closed_loop("warm", call, concurrency=c, total=min(total, 2 * c))
                db = cluster_pids(cluster) if cluster else []
                before = _cpu(pids + db)
                row = closed_loop(f"{op} ({c} clients)", call, concurrency=c, total=total)
                row.server_cpu_us = (_cpu(pids + db) - before) / total * 1e6
                rows[(op, c)] = row
        watch = fan_out(ch, command, 1, writes=watch_writes, ids=ids)
    return rows, watch


def _store(url: str) -> list[str]:
    """The server's store flags: ``--data-dir`` for LMDB (its documented shortcut), ``--store``
    for a DSN."""
    return ["--data-dir", url.removeprefix("lmdb://")] if url.startswith("lmdb://") else ["--store", url]


def _message(session_id: str, i: int) -> AppendSessionMessageRequest:
    return AppendSessionMessageRequest(
        session_id=session_id,
        role=SessionMessageRole.role_user if i % 2 else SessionMessageRole.role_assistant,
        content=f"message {i}: " + "x" * 200,
    )


def replicas(dsn: str, cluster: Path, ids: Ids, n: int, *, watch_writes: int) -> list[tuple[Result, float]]:
    """One replica vs two on the same database at 64 clients (every process free to run on
    either core), then watch delivery across replicas: committed through A, delivered to a
    watcher on B, next to the same delivery on A itself. Each row comes with the cores the
    whole machine's share of it kept busy (client, replicas and database), which is what
    says whether a second replica could have helped here at all."""
    rows: list[tuple[Result, float]] = []
    one: dict[str, Result] = {}
    for count in (1, 2):
        with ExitStack() as stack:
            servers = [stack.enter_context(served(["--store", dsn], cpu=-1)) for _ in range(count)]
            channels = [stack.enter_context(grpc.insecure_channel(a)) for a, _ in servers]
            commands = [command_pb2_grpc.SessionCommandControllerStub(c) for c in channels]  # type: ignore[no-untyped-call]
            queries = [query_pb2_grpc.SessionQueryControllerStub(c) for c in channels]  # type: ignore[no-untyped-call]
            sid = SessionId(value=commands[0].create(session(ids())).metadata.id)
            ops: dict[str, Callable[[int], Any]] = {
                "Create": lambda i: commands[i % count].create.future(session(ids())),
                "Get": lambda i: queries[i % count].get.future(sid),
            }
            for op, call in ops.items():
                closed_loop("warm", call, concurrency=64, total=128)
                pids = [pid for _, serving in servers for pid in serving] + cluster_pids(cluster)
                before, client_before, wall = _cpu(pids), time.process_time(), time.perf_counter()
                row = closed_loop(f"{op}, 64 clients, {count} replica(s)", call, concurrency=64, total=n)
                busy = _cpu(pids) - before + time.process_time() - client_before
                row.server_cpu_us = (_cpu(pids) - before) / n * 1e6
                if count == 1:
                    one[op] = row
                else:
                    row.baseline, row.ratio = one[op].name, row.ops_per_s / one[op].ops_per_s
                rows.append((row, busy / (time.perf_counter() - wall)))
            if count == 2:
                same = _watch(channels[0], commands[0], ids, watch_writes)
                same.name = "watch, commit on replica A to delivery on A"
                cross = _watch(channels[1], commands[0], ids, watch_writes)
                cross.name = "watch, commit on replica A to delivery on B"
                rows += [(same, 0.0), (cross, 0.0)]
    return rows


def _watch(watch_on: grpc.Channel, write_via: Any, ids: Ids, writes: int) -> Result:
    stream = change_pb2_grpc.SessionChangeControllerStub(watch_on).watch(  # type: ignore[no-untyped-call]
        WatchSessionChangesRequest(from_now=True)
    )
    try:
        return paced_fan_out([stream], lambda: write_via.create(session(ids())), writes=writes)
    finally:
        stream.cancel()


def write_ceiling(dsn: str, quick: bool) -> tuple[str, str]:
    """``tools/pg_write_ceiling.py`` on the same cluster: the change-log head row's ceiling.
    Returns the arguments it ran with and its output."""
    args = ["--seconds", "1" if quick else "2", "--writers", *(["1", "16"] if quick else ["1", "16", "64"])]
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pg_write_ceiling.py"), dsn, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    return " ".join(args), out.strip()


# --- the section --------------------------------------------------------------------------


def section(tmp: str, quick: bool) -> str:
    """Run everything and return the section's markdown (without its title)."""
    n = 150 if quick else 1000
    writes = 50 if quick else 150
    ids = Ids()
    lmdb_rows, lmdb_watch = workload(f"lmdb://{tmp}/storage-lmdb", ids, n, None, watch_writes=writes)
    with durable_cluster(tmp) as (dsn, data):
        settings = _settings(dsn)
        pin_cluster(data, {1})
        pg_rows, pg_watch = workload(dsn, ids, n, data, watch_writes=writes)
        ceiling_args, ceiling = write_ceiling(dsn, quick)
        pin_cluster(data, set(range(os.cpu_count() or 1)))
        replica_rows = replicas(dsn, data, ids, n, watch_writes=writes)
    return "\n\n".join(
        [
            _note(settings),
            _comparison(lmdb_rows, pg_rows),
            "Watch delivery on one server (commit to delivery on a watcher of the same server, "
            "writes paced 2 ms apart):\n\n"
            + _latency_table([("LMDB", lmdb_watch), ("PostgreSQL", pg_watch)]),
            "One replica vs two on the same PostgreSQL database (64 clients spread over the "
            "replicas' channels; servers and database not pinned, the client on cpu 0), and watch "
            "delivery across replicas:\n\n" + _replica_table(replica_rows),
            f"Change-log head row (`tools/pg_write_ceiling.py DSN {ceiling_args}`, same cluster, "
            "pinned to cpu 1; `append` = every mutation's shared head row, `private` = the same "
            "transaction on a row of the writer's own):\n\n```\n" + ceiling + "\n```",
        ]
    )


def _settings(dsn: str) -> str:
    import psycopg  # noqa: PLC0415 - only the storage section needs the driver

    with psycopg.connect(dsn) as conn:
        values = [
            f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
            for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes")
        ]
    return ", ".join(values)


def _note(settings: str) -> str:
    return (
        "Server: `python server.py` as deployed (durable; INFO request log), with "
        "`--data-dir DIR` (LMDB, group commit) or `--store postgresql://…` on a throwaway local "
        f"PostgreSQL cluster ({settings}; pool 8 connections per server). Client (one process, "
        "N calls in flight) on cpu 0; server and the whole PostgreSQL cluster on cpu 1, so each "
        "backend has one core for server plus storage. CPU µs/call is the server's, plus for "
        "PostgreSQL the database processes'. Append: each client appends to a session of its own "
        "(63 sessions); Resume 100: the latest 100 messages of a 100-message session."
    )


def _comparison(lmdb_rows: dict[tuple[str, int], Result], pg_rows: dict[tuple[str, int], Result]) -> str:
    lines = [
        "| operation | clients | LMDB ops/s | LMDB p50 µs | LMDB CPU µs/call "
        "| PostgreSQL ops/s | PostgreSQL p50 µs | PostgreSQL p99 µs | PostgreSQL CPU µs/call "
        "| PostgreSQL / LMDB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op in OPERATIONS:
        for c in CLIENTS:
            lm, pg = lmdb_rows[(op, c)], pg_rows[(op, c)]
            lines.append(
                f"| {op} | {c} | {lm.ops_per_s:,.0f} | {lm.p50_us:,.0f} | {lm.server_cpu_us or 0:,.0f} "
                f"| {pg.ops_per_s:,.0f} | {pg.p50_us:,.0f} | {pg.p99_us:,.0f} | {pg.server_cpu_us or 0:,.0f} "
                f"| {pg.ops_per_s / lm.ops_per_s:.0%} |"
            )
    return "\n".join(lines)


def _latency_table(rows: list[tuple[str, Result]]) -> str:
    lines = ["| backend | p50 µs | p99 µs |", "|---|---:|---:|"]
    lines += [f"| {name} | {r.p50_us:,.0f} | {r.p99_us:,.0f} |" for name, r in rows]
    return "\n".join(lines)


def _replica_table(rows: list[tuple[Result, float]]) -> str:
    lines = [
        "| benchmark | ops/s | p50 µs | p99 µs | replicas + database CPU µs/call "
        "| cores busy (of the machine's, client included) | vs 1 replica |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r, busy in rows:
        watch = r.name.startswith("watch")
        rate = "" if watch else f"{r.ops_per_s:,.0f}"
        cpu = "" if watch else f"{r.server_cpu_us or 0:,.0f}"
        cores = "" if watch else f"{busy:.2f}"
        ratio = f"{r.ratio:.0%}" if r.ratio is not None else ""
        lines.append(f"| {r.name} | {rate} | {r.p50_us:,.0f} | {r.p99_us:,.0f} | {cpu} | {cores} | {ratio} |")
    return "\n".join(lines)
