"""Run every benchmark, print a table, and rewrite docs/benchmarks.md.

Every figure is paired with a baseline measured in the same run on the same machine, and
reported as a ratio, because absolute timings on shared machines drift by tens of percent:
embedded operations against raw LMDB doing the same I/O, RPCs against an empty handler on
the same gRPC server model. Usage: ``python -m bench [--quick] [--sizes 1000,100000]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
import lmdb

from bench.stats import Result, cpu_seconds, measure, pin, versus
from bench.target import ECHO_METHOD
from pipeline.keycodec import pack
from pipeline.pipeline import Pipeline
from pipeline.steps import AppendEvent
from pipeline.store import LmdbStore
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2_grpc,
    command_pb2_grpc,
    message_pb2_grpc,
    query_pb2_grpc,
)
from stigmer_sessions.api import (
    ApiResourceMetadata,
    ApiResourceOwnerScope,
    ApiResourceReference,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    ResumeSessionRequest,
    Session,
    SessionId,
    SessionSpec,
    WatchSessionChangesRequest,
)
from stigmer_sessions.resource import SESSION

ROOT = Path(__file__).resolve().parents[1]


def session(i: int, org: str = "acme") -> Session:
    return Session(
        metadata=ApiResourceMetadata(
            name=f"Benchmark session {i}" if i >= 0 else f"Warm-up session {-i}",
            org=org,
            owner_scope=ApiResourceOwnerScope.organization,
            labels={"team": "bench", "env": "prod"},
            tags=["bench", f"t{i % 10}"],
        ),
        spec=SessionSpec(
            agent_instance_id=f"ain-{i % 4}",
            subject="A conversation about latency budgets and index design",
            thread_id=f"thread-{i}",
            metadata={"source": "bench", "priority": "high"},
        ),
    )


def raw_lmdb(path: str, durable: bool, payload: bytes, rounds: int, per_round: int) -> tuple[Result, Result]:
    """The ceiling: a put of the same bytes plus one index key in one write txn; a point get."""
    env = lmdb.open(path, map_size=1 << 30, max_dbs=4, sync=durable, metasync=durable, readahead=False)
    records, index = env.open_db(b"records"), env.open_db(b"index")

    def put(i: int) -> None:
        key = pack("session", f"ses-{i:012d}")
        with env.begin(write=True) as txn:
            txn.put(key, payload, db=records)
            txn.put(pack("session", "slug", "acme", f"s{i}"), key, db=index)

    label = "durable" if durable else "relaxed"
    write = measure(f"raw LMDB put+index ({label})", put, rounds=rounds, per_round=per_round)
    key = pack("session", f"ses-{0:012d}")

    def get(_: int) -> None:
        with env.begin() as txn:
            txn.get(key, db=records)

    read = measure("raw LMDB get", get, rounds=rounds, per_round=per_round)
    env.close()
    return write, read


def raw_range(path: str, payload: bytes, rounds: int, per_round: int) -> Result:
    """The ceiling for a page: read 50 consecutive records and parse each one."""
    env = lmdb.open(path, map_size=1 << 30, max_dbs=4, sync=False, readahead=False)
    records = env.open_db(b"records")
    with env.begin(write=True) as txn:
        for i in range(200):
            txn.put(pack("session", f"ses-{i:012d}"), payload, db=records)
    prefix = pack("session")

    def scan(_: int) -> None:
        with env.begin() as txn:
            cursor = txn.cursor(db=records)
            cursor.set_range(prefix)
            for _, (_key, raw) in zip(range(50), cursor, strict=False):
                Session.FromString(raw)

    result = measure("raw LMDB read+parse 50", scan, rounds=rounds, per_round=per_round // 4)
    env.close()
    return result


def embedded(tmp: str, rounds: int, per_round: int) -> list[Result]:
    results: list[Result] = []
    for durable in (False, True):
        label = "durable" if durable else "relaxed"
        raw_write, raw_get = raw_lmdb(
            f"{tmp}/raw-{label}", durable, session(0).SerializeToString(), rounds, per_round
        )
        with SessionController(f"{tmp}/emb-{label}", durable=durable) as c:
            create = measure(
                f"embedded Create ({label})",
                lambda i: c.create(session(i)),
                rounds=rounds,
                per_round=per_round,
            )
            results += [raw_write, versus(create, raw_write)]
            if durable:
                continue
            # The same pipeline without its AppendEvent step: what the change feed costs.
            quiet = Pipeline[Session](
                "create-without-changes",
                [s for s in c.pipelines["create"].steps if not isinstance(s, AppendEvent)],
                write=True,
            )
            no_feed = measure(
                "embedded Create, change feed off (relaxed)",
                lambda i: quiet.execute(c.store, session(2 * 10**6 + i), kind=SESSION),
                rounds=rounds,
                per_round=per_round,
            )
            results.append(no_feed)
            with_feed = measure(
                "embedded Create, change feed on (relaxed)",
                lambda i: c.create(session(3 * 10**6 + i)),
                rounds=rounds,
                per_round=per_round,
            )
            results.append(versus(with_feed, no_feed))
            ids = [s.metadata.id for s in c.list(page_size=1000).entries]
            target = ids[len(ids) // 2]
            results.append(raw_get)
            results.append(
                versus(
                    measure("embedded Get", lambda i: c.get(target), rounds=rounds, per_round=per_round),
                    raw_get,
                )
            )
            ref = ApiResourceReference(org="acme", slug="benchmark-session-7")
            results.append(
                versus(
                    measure(
                        "embedded GetByReference",
                        lambda i: c.get_by_reference(ref),
                        rounds=rounds,
                        per_round=per_round,
                    ),
                    raw_get,
                )
            )
            stored = c.get(target)

            def update(i: int) -> None:
                stored.spec.subject = f"subject {i}"
                c.update(stored)
                stored.metadata.version.id = ""  # unconditional update: the version is not checked yet

            results.append(
                versus(measure("embedded Update", update, rounds=rounds, per_round=per_round), raw_write)
            )
            results.append(
                versus(
                    measure(
                        "embedded Apply (no change)",
                        lambda i: c.apply(session(3)),
                        rounds=rounds,
                        per_round=per_round,
                    ),
                    raw_write,
                )
            )
            raw_page = raw_range(f"{tmp}/raw-range", stored.SerializeToString(), rounds, per_round)
            results.append(raw_page)
            results.append(
                versus(
                    measure(
                        "embedded List 50",
                        lambda i: c.list(page_size=50),
                        rounds=rounds,
                        per_round=per_round // 4,
                    ),
                    raw_page,
                )
            )
            req = ListSessionsByAgentRequest(agent_id="ain-1", page_size=50)
            results.append(
                versus(
                    measure(
                        "embedded ListByAgent 50",
                        lambda i: c.list_by_agent(req),
                        rounds=rounds,
                        per_round=per_round // 4,
                    ),
                    raw_page,
                )
            )
            doomed = iter(ids)
            results.append(
                versus(
                    measure(
                        "embedded Delete",
                        lambda i: c.delete(next(doomed)),
                        rounds=rounds,
                        per_round=min(per_round, len(ids) // 6),
                    ),
                    raw_write,
                )
            )
    return results


def scaling(tmp: str, sizes: list[int]) -> list[Result]:
    """Get and List(50) cost at each store size: flat means no scan grows with the store."""
    results: list[Result] = []
    with LmdbStore(f"{tmp}/scale", durable=False, map_size=1 << 32) as store:
        c = SessionController(store=store)
        have = 0
        first: Result | None = None
        first_list: Result | None = None
        for size in sizes:
            for i in range(have, size):
                c.create(session(i, org=f"org{i % 3}"))
            have = size
            target = c.list(page_size=1).entries[0].metadata.id
            get = measure(f"Get @ {size:,} sessions", lambda i: c.get(target), rounds=3, per_round=1000)
            lst = measure(
                f"List 50 @ {size:,} sessions",
                lambda i: c.list(page_size=50, org="org1"),
                rounds=3,
                per_round=100,
            )
            if first is None or first_list is None:
                first, first_list = get, lst
            else:
                versus(get, first)
                versus(lst, first_list)
            results += [get, lst]
        results.append(Result(f"store size per session @ {have:,}", 0, 0, 0))
        results[-1].name += f": {Path(tmp, 'scale', 'data.mdb').stat().st_size / have:,.0f} bytes"
    return results


def _start_target(mode: str, data_dir: str) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.target", mode, data_dir, "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    address, pinned = proc.stdout.readline().strip().split(" ", 1)
    return proc, address, pinned


def over_grpc(tmp: str, rounds: int, per_round: int) -> tuple[list[Result], str]:
    results: list[Result] = []
    histories = _seed_histories(f"{tmp}/grpc-data", (100, 10_000))
    echo_proc, echo_addr, pinned = _start_target("echo", tmp)
    sess_proc, sess_addr, _ = _start_target("sessions", f"{tmp}/grpc-data")
    try:
        with grpc.insecure_channel(echo_addr) as echo_ch, grpc.insecure_channel(sess_addr) as ch:
            echo = echo_ch.unary_unary(
                ECHO_METHOD,
                request_serializer=Session.SerializeToString,
                response_deserializer=Session.FromString,
            )
            command = command_pb2_grpc.SessionCommandControllerStub(ch)  # type: ignore[no-untyped-call]
            query = query_pb2_grpc.SessionQueryControllerStub(ch)  # type: ignore[no-untyped-call]
            message = command.create(session(10**7))  # the echo carries exactly what Get returns

            def server_cpu(proc: subprocess.Popen[str], result: Result, fn: object, calls: int) -> Result:
                before = cpu_seconds(proc.pid)
                for i in range(calls):
                    fn(i)  # type: ignore[operator]
                result.server_cpu_us = (cpu_seconds(proc.pid) - before) / calls * 1e6
                return result

            base = measure(
                f"empty gRPC handler (echo {message.ByteSize()} B)",
                lambda i: echo(message),
                rounds=rounds,
                per_round=per_round,
            )
            results.append(server_cpu(echo_proc, base, lambda i: echo(message), 2000))
            create = measure(
                "gRPC Create (durable)",
                lambda i: command.create(session(i)),
                rounds=rounds,
                per_round=per_round // 2,
            )
            results.append(
                server_cpu(sess_proc, versus(create, base), lambda i: command.create(session(10**6 + i)), 500)
            )
            target = SessionId(value=message.metadata.id)
            get = measure("gRPC Get", lambda i: query.get(target), rounds=rounds, per_round=per_round)
            results.append(server_cpu(sess_proc, versus(get, base), lambda i: query.get(target), 2000))
            req = ListSessionsRequest(page_size=50)
            lst = measure("gRPC List 50", lambda i: query.list(req), rounds=rounds, per_round=per_round // 4)
            results.append(server_cpu(sess_proc, versus(lst, base), lambda i: query.list(req), 300))
            for watchers in (1, 4):
                results.append(fan_out(ch, command, watchers, writes=100 if rounds < 5 else 300))
            messages = message_pb2_grpc.SessionMessageControllerStub(ch)  # type: ignore[no-untyped-call]
            for count, session_id in histories.items():
                resume_req = ResumeSessionRequest(session_id=session_id, page_size=100)
                resumed = measure(
                    f"gRPC resume, latest 100 of {count:,} messages",
                    lambda i, r=resume_req: messages.resume(r),  # type: ignore[misc]
                    rounds=rounds,
                    per_round=per_round // 2,
                )
                results.append(
                    server_cpu(
                        sess_proc, versus(resumed, get), lambda i, r=resume_req: messages.resume(r), 300
                    )
                )
    finally:
        for proc in (echo_proc, sess_proc):
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)
    return results, pinned


def _seed_histories(data_dir: str, sizes: tuple[int, ...]) -> dict[int, str]:
    """Sessions with ``sizes`` messages each, written in-process before the server starts
    (relaxed: loading is not what is measured). Returns {message count: session id}."""
    ids: dict[int, str] = {}
    with SessionController(data_dir, durable=False) as c:
        for size in sizes:
            s = c.create(session(7 * 10**6 + size))
            for i in range(size):
                c.append_message(
                    s.metadata.id, "user" if i % 2 else "assistant", f"message {i}: " + "x" * 200
                )
            ids[size] = s.metadata.id
    return ids


def fan_out(channel: grpc.Channel, command: Any, watchers: int, writes: int) -> Result:
    """Watch fan-out: commit-to-delivery latency of each change at each of ``watchers``
    streams (the change's server timestamp vs the client's clock: same machine), with
    writes paced so the measure is latency, not backlog."""
    changes = change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]
    latencies: list[int] = []
    lock = threading.Lock()
    ready = threading.Barrier(watchers + 1)
    streams = [changes.watch(WatchSessionChangesRequest(from_now=True)) for _ in range(watchers)]

    def follow(stream: Any) -> None:
        ready.wait()
        got = 0
        for response in stream:
            if response.HasField("change"):
                delay = time.time_ns() - response.change.time.ToNanoseconds()
                with lock:
                    latencies.append(delay)
                got += 1
                if got == writes:
                    return

    threads = [threading.Thread(target=follow, args=(s,)) for s in streams]
    for t in threads:
        t.start()
    ready.wait()
    time.sleep(0.2)  # let every stream reach the server
    start = time.perf_counter()
    for i in range(writes):
        command.create(session(5 * 10**6 + watchers * 10**4 + i))
        time.sleep(0.002)
    for t in threads:
        t.join(timeout=60)
    elapsed = time.perf_counter() - start
    for stream in streams:
        stream.cancel()
    latencies.sort()
    return Result(
        f"gRPC watch fan-out to {watchers} watcher(s), commit to delivery (deliveries/s)",
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] / 1000,
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000,
    )


def _table(results: list[Result]) -> str:
    lines = [
        "| benchmark | ops/s (median) | p50 µs | p99 µs | server CPU µs/call | vs baseline | ratio |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        if not r.ops_per_s:
            lines.append(f"| {r.name} | | | | | | |")
            continue
        cpu = f"{r.server_cpu_us:.0f}" if r.server_cpu_us is not None else ""
        ratio = f"{r.ratio:.0%}" if r.ratio is not None else ""
        numbers = f"{r.ops_per_s:,.0f} | {r.p50_us:.1f} | {r.p99_us:.1f} | {cpu}"
        lines.append(f"| {r.name} | {numbers} | {r.baseline} | {ratio} |")
    return "\n".join(lines)


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{p} {metadata.version(p)}"
        for p in ("grpcio", "protobuf", "protovalidate", "lmdb", "python-slugify")
    )
    return f"{os.cpu_count()} cores, {model}; Python {platform.python_version()}; {versions}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--sizes", default="1000,100000", help="store sizes for the scaling run")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    rounds, per_round = (2, 100) if args.quick else (5, 400)
    sizes = [int(s) for s in args.sizes.split(",")]
    client_pin = pin(0)
    with tempfile.TemporaryDirectory() as tmp:
        sections = [
            ("Embedded (in-process library)", embedded(tmp, rounds, per_round)),
            (
                "Scaling (embedded, relaxed; ratio = throughput at this size / at the smallest)",
                scaling(tmp, sizes),
            ),
        ]
        grpc_results, server_pin = over_grpc(tmp, rounds, per_round)
        sections.append(("gRPC, 1 client, separate processes", grpc_results))
    header = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {_machine()}.\n"
        f"Client pinned to {client_pin}; gRPC servers pinned to {server_pin}. "
        f"Command: `python -m bench{' --quick' if args.quick else ''} --sizes {args.sizes}`."
    )
    body = "\n\n".join(f"### {title}\n\n{_table(results)}" for title, results in sections)
    print(header + "\n\n" + body)
    if not args.no_write:
        doc = ROOT / "docs" / "benchmarks.md"
        intro = doc.read_text().split("<!-- results -->")[0] if doc.exists() else "# Benchmarks\n\n"
        doc.write_text(intro + "<!-- results -->\n\n" + header + "\n\n" + body + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
