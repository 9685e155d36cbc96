"""The benchmark sections. Every figure is paired with a baseline measured in the same run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import lmdb
import protovalidate
from slugify import slugify

from bench.drive import closed_loop
from bench.stats import Result, cpu_seconds, measure, measure_pair, rss_bytes, versus
from bench.target import ECHO_METHOD
from pipeline.context import RequestContext
from pipeline.keycodec import pack
from pipeline.pipeline import Pipeline
from pipeline.steps import AppendEvent
from pipeline.storage import Storage, Tx
from pipeline.storage.lmdb import LmdbStorage
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


class Ids:
    """Unique session numbers across the whole run (names must not collide)."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._next += 1
            return self._next


# --- baselines ---------------------------------------------------------------------------


def baselines(tmp: str, rounds: int, per_round: int) -> dict[str, Result]:
    payload = session(0).SerializeToString()
    out: dict[str, Result] = {}
    for durable in (False, True):
        env = lmdb.open(f"{tmp}/raw-{durable}", map_size=1 << 30, max_dbs=4, sync=durable, metasync=durable)
        records, index = env.open_db(b"records"), env.open_db(b"index")

        def put(i: int, env: Any = env, records: Any = records, index: Any = index) -> None:
            key = pack("session", f"ses-{i:012d}")
            with env.begin(write=True) as txn:
                txn.put(key, payload, db=records)
                txn.put(pack("session", "slug", "acme", f"s{i}"), key, db=index)

        label = "durable" if durable else "relaxed"
        out[f"put-{label}"] = measure(
            f"raw LMDB put + index key ({label})", put, rounds=rounds, per_round=per_round
        )
        if not durable:
            key = pack("session", f"ses-{0:012d}")

            def get(_: int, env: Any = env, records: Any = records) -> None:
                with env.begin() as txn:
                    txn.get(key, db=records)

            out["get"] = measure("raw LMDB point get", get, rounds=rounds, per_round=per_round)

            def scan(_: int, env: Any = env, records: Any = records) -> None:
                with env.begin() as txn:
                    cursor = txn.cursor(db=records)
                    cursor.set_range(pack("session"))
                    for _, (_key, raw) in zip(range(50), cursor, strict=False):
                        Session.FromString(raw)

            out["scan50"] = measure("raw LMDB read + parse 50", scan, rounds=rounds, per_round=per_round // 4)
        env.close()
    validator = protovalidate.Validator()
    message = session(1)
    out["validate"] = measure(
        "protovalidate of the Session",
        lambda i: validator.validate(message),
        rounds=rounds,
        per_round=per_round,
    )
    out["slugify"] = measure(
        "python-slugify of its name",
        lambda i: slugify("Benchmark session 1", max_length=63),
        rounds=rounds,
        per_round=per_round,
    )
    ceiling_us = out["validate"].p50_us + out["slugify"].p50_us + out["put-relaxed"].p50_us
    out["ceiling"] = Result(
        "raw ceiling: validate + slugify + put (relaxed, sum of p50s)", 1e6 / ceiling_us, ceiling_us, 0
    )
    return out


# --- embedded -----------------------------------------------------------------------------


def _inline(pipeline: Pipeline[Any], store: Storage, request: Session) -> None:
    """The same steps as ``pipeline`` without its machinery (no loop, timing or logging)."""

    def body(txn: Tx) -> None:
        ctx = RequestContext(request, kind=SESSION, tx=txn)
        for step in pipeline.steps:
            step(ctx)

    store.write(body)


def _threads(n: int, per_thread: int, fn: Callable[[int], Any], ids: Ids) -> float:
    def work() -> None:
        for _ in range(per_thread):
            fn(ids())

    threads = [threading.Thread(target=work) for _ in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n * per_thread / (time.perf_counter() - start)


def create_cpu(c: SessionController, ids: Ids, n: int) -> Result:
    """The process CPU per Create (relaxed, 1 caller), the requests built beforehand: what
    the library itself costs, wherever its time goes (thread or not)."""
    requests = [session(ids()) for _ in range(n)]
    started_cpu, started = time.process_time(), time.perf_counter()
    for request in requests:
        c.create(request)
    cpu_us = (time.process_time() - started_cpu) / n * 1e6
    wall = time.perf_counter() - started
    return Result("Create CPU (relaxed, 1 caller)", n / wall, 0.0, 0.0, server_cpu_us=cpu_us)


def embedded(tmp: str, base: dict[str, Result], ids: Ids, rounds: int, per_round: int) -> list[Result]:
    results: list[Result] = []
    with SessionController(store=LmdbStorage(f"{tmp}/emb-relaxed", durable=False)) as c:
        create = measure(
            "Create (relaxed, 1 caller)",
            lambda i: c.create(session(ids())),
            rounds=rounds,
            per_round=per_round,
        )
        results.append(versus(create, base["ceiling"]))
        results.append(create_cpu(c, ids, per_round * rounds))
        quiet = Pipeline[Session](
            "create-without-changes",
            [s for s in c.pipelines["create"].steps if not isinstance(s, AppendEvent)],
            write=True,
        )
        no_feed = measure(
            "Create, change feed off (relaxed)",
            lambda i: quiet.execute(c.store, session(ids()), kind=SESSION),
            rounds=rounds,
            per_round=per_round,
        )
        results.append(
            versus(
                measure(
                    "Create, change feed on (relaxed)",
                    lambda i: c.create(session(ids())),
                    rounds=rounds,
                    per_round=per_round,
                ),
                no_feed,
            )
        )
        results.append(no_feed)
        inline, machinery = measure_pair(
            (
                "Create, same steps called inline",
                lambda i: _inline(c.pipelines["create"], c.store, session(ids())),
            ),
            (
                "Create through Pipeline.execute",
                lambda i: c.pipelines["create"].execute(c.store, session(ids()), kind=SESSION),
            ),
            rounds=max(rounds, 5),
            per_round=per_round,
        )
        results += [inline, versus(machinery, inline)]
        ids_ = [s.metadata.id for s in c.list(page_size=1000).entries]
        target = ids_[len(ids_) // 2]
        stored = c.get(target)
        results.append(
            versus(measure("Get", lambda i: c.get(target), rounds=rounds, per_round=per_round), base["get"])
        )
        ref = ApiResourceReference(org="acme", slug=stored.metadata.slug)
        results.append(
            versus(
                measure(
                    "GetByReference", lambda i: c.get_by_reference(ref), rounds=rounds, per_round=per_round
                ),
                base["get"],
            )
        )

        def update(i: int) -> None:
            stored.spec.subject = f"subject {i}"
            stored.metadata.ClearField("version")  # unconditional
            c.update(stored)

        results.append(
            versus(measure("Update", update, rounds=rounds, per_round=per_round), base["put-relaxed"])
        )
        same = Session()
        same.CopyFrom(stored)
        same.ClearField("status")
        same.metadata.ClearField("id")
        same.metadata.ClearField("version")
        results.append(
            versus(
                measure("Apply (no change)", lambda i: c.apply(same), rounds=rounds, per_round=per_round),
                base["put-relaxed"],
            )
        )
        results.append(
            versus(
                measure("List 50", lambda i: c.list(page_size=50), rounds=rounds, per_round=per_round // 4),
                base["scan50"],
            )
        )
        req = ListSessionsByAgentRequest(agent_id="ain-1", page_size=50)
        results.append(
            versus(
                measure(
                    "ListByAgent 50", lambda i: c.list_by_agent(req), rounds=rounds, per_round=per_round // 4
                ),
                base["scan50"],
            )
        )
        history = c.create(session(ids()))
        for i in range(100):
            c.append_message(history.metadata.id, "user", f"message {i}: " + "x" * 200)
        results.append(
            versus(
                measure(
                    "resume, latest 100 of 100 messages",
                    lambda i: c.resume(history.metadata.id),
                    rounds=rounds,
                    per_round=per_round // 4,
                ),
                base["scan50"],
            )
        )
        for watchers in (1, 4):
            results.append(embedded_fan_out(c, watchers, writes=100 if per_round < 400 else 300, ids=ids))
        doomed = iter(ids_)
        results.append(
            versus(
                measure(
                    "Delete",
                    lambda i: c.delete(next(doomed)),
                    rounds=rounds,
                    per_round=min(per_round, len(ids_) // 6),
                ),
                base["put-relaxed"],
            )
        )
        relaxed_1 = create
    per = max(20, per_round // 4)
    for group, label in ((False, "without group commit"), (True, "group commit")):
        with SessionController(store=LmdbStorage(f"{tmp}/emb-durable-{group}", group_commit=group)) as c:
            if group:
                one = measure(
                    "Create (durable, 1 caller)",
                    lambda i: c.create(session(ids())),
                    rounds=rounds,
                    per_round=per,
                )
                results.append(versus(one, base["put-durable"]))
            for threads in (16, 64):
                rate = _threads(threads, per, lambda i: c.create(session(i)), ids)
                row = Result(f"Create (durable, {threads} threads, {label})", rate, 0, 0)
                results.append(versus(row, relaxed_1))
    return results


def paced_fan_out(streams: list[Iterable[Any]], write: Callable[[], object], *, writes: int) -> Result:
    """Watch fan-out: commit-to-delivery latency of each change on each of ``streams`` (the
    change's timestamp vs the reader's clock, same machine), one thread per stream, with the
    ``writes`` paced 2 ms apart so it is latency, not backlog. The caller closes the streams."""
    latencies: list[int] = []
    lock = threading.Lock()
    ready = threading.Barrier(len(streams) + 1)

    def follow(stream: Iterable[Any]) -> None:
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
    time.sleep(0.2)  # let every stream take its starting position
    start = time.perf_counter()
    for _ in range(writes):
        write()
        time.sleep(0.002)
    for t in threads:
        t.join(timeout=60)
    elapsed = time.perf_counter() - start
    name = f"watch fan-out to {len(streams)} watcher(s), commit to delivery (deliveries/s)"
    return Result.of_samples(name, len(latencies) / elapsed, latencies)


def embedded_fan_out(c: SessionController, watchers: int, writes: int, ids: Ids) -> Result:
    """In-process watch generators (each starts from the head when first iterated)."""
    stop = threading.Event()
    streams: list[Iterable[Any]] = [c.watch(from_now=True, stop=stop) for _ in range(watchers)]
    try:
        return paced_fan_out(streams, lambda: c.create(session(ids())), writes=writes)
    finally:
        stop.set()
        c.hub.wake()


# --- gRPC ---------------------------------------------------------------------------------


@contextmanager
def server(mode: str, data_dir: str) -> Iterator[tuple[str, str, int]]:
    """A server process (pinned to cpu 1): yields its address, pinning and pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.target", mode, data_dir, "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdin is not None
    address, pinned = proc.stdout.readline().strip().split(" ", 1)
    try:
        yield address, pinned, proc.pid
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def _with_cpu(pid: int, fn: Callable[[], Result], calls: int) -> Result:
    before = cpu_seconds(pid)
    result = fn()
    result.server_cpu_us = (cpu_seconds(pid) - before) / calls * 1e6
    return result


def _loop(pid: int, name: str, call: Callable[[int], Any], concurrency: int, total: int) -> Result:
    return _with_cpu(pid, lambda: closed_loop(name, call, concurrency=concurrency, total=total), total)


def over_grpc(tmp: str, ids: Ids, quick: bool) -> tuple[list[Result], str]:
    n = 300 if quick else 1500
    results: list[Result] = []
    echo_rows: dict[int, Result] = {}
    with server("echo", tmp) as (address, pinned, pid), grpc.insecure_channel(address) as ch:
        echo = ch.unary_unary(
            ECHO_METHOD,
            request_serializer=Session.SerializeToString,
            response_deserializer=Session.FromString,
        )
        message = _stored_session(tmp)  # exactly what a Get returns
        for c in (1, 16, 64):
            closed_loop("warm", lambda i: echo.future(message), concurrency=c, total=100)
            echo_rows[c] = _loop(
                pid,
                f"empty gRPC handler, {c} clients (echo {message.ByteSize()} B)",
                lambda i: echo.future(message),
                c,
                n,
            )
            results.append(echo_rows[c])
    histories = _seed_histories(f"{tmp}/grpc-durable", ids, (100, 10_000))
    for mode in ("durable", "durable-nogc", "relaxed"):
        with server(mode, f"{tmp}/grpc-{mode}") as (address, _, pid), grpc.insecure_channel(address) as ch:
            command = command_pb2_grpc.SessionCommandControllerStub(ch)  # type: ignore[no-untyped-call]
            query = query_pb2_grpc.SessionQueryControllerStub(ch)  # type: ignore[no-untyped-call]
            create = lambda i: command.create.future(session(ids()))  # noqa: E731
            closed_loop("warm", create, concurrency=4, total=50)
            for c in (1, 16, 64) if mode != "durable-nogc" else (1, 64):
                row = _loop(pid, f"Create ({mode}, {c} clients)", create, c, n if c > 1 else n // 3)
                results.append(versus(row, echo_rows[c]))
            if mode != "durable":
                continue
            stored = command.create(session(ids()))
            sid = SessionId(value=stored.metadata.id)
            for c in (1, 16):
                results.append(
                    versus(
                        _loop(pid, f"Get ({c} clients)", lambda i: query.get.future(sid), c, n), echo_rows[c]
                    )
                )
            ref = ApiResourceReference(org="acme", slug=stored.metadata.slug)
            results.append(
                versus(
                    _loop(pid, "GetByReference (1 client)", lambda i: query.getByReference.future(ref), 1, n),
                    echo_rows[1],
                )
            )

            def update(i: int) -> Any:
                change = Session()
                change.CopyFrom(stored)
                change.metadata.ClearField("version")
                change.spec.subject = f"subject {i}"
                return command.update.future(change)

            results.append(versus(_loop(pid, "Update (1 client)", update, 1, n // 3), echo_rows[1]))
            same = session(424242)
            command.apply(same)
            results.append(
                versus(
                    _loop(pid, "Apply, no change (1 client)", lambda i: command.apply.future(same), 1, n),
                    echo_rows[1],
                )
            )
            req = ListSessionsRequest(page_size=50)
            results.append(
                versus(
                    _loop(pid, "List 50 (1 client)", lambda i: query.list.future(req), 1, n // 3),
                    echo_rows[1],
                )
            )
            by_agent = ListSessionsByAgentRequest(agent_id="ain-1", page_size=50)
            results.append(
                versus(
                    _loop(
                        pid,
                        "ListByAgent 50 (1 client)",
                        lambda i: query.listByAgent.future(by_agent),
                        1,
                        n // 3,
                    ),
                    echo_rows[1],
                )
            )
            victims = [command.create(session(ids())).metadata.id for _ in range(n // 3)]
            results.append(
                versus(
                    _loop(
                        pid,
                        "Delete (1 client)",
                        lambda i: command.delete.future(SessionId(value=victims[i])),
                        1,
                        len(victims),
                    ),
                    echo_rows[1],
                )
            )
            messages = message_pb2_grpc.SessionMessageControllerStub(ch)  # type: ignore[no-untyped-call]
            get_row = next(r for r in results if r.name == "Get (1 clients)")
            for count, session_id in histories.items():
                resume = ResumeSessionRequest(session_id=session_id, page_size=100)
                row = _loop(
                    pid,
                    f"resume, latest 100 of {count:,} messages (1 client)",
                    lambda i, r=resume: messages.resume.future(r),  # type: ignore[misc]
                    1,
                    n // 3,
                )
                results.append(versus(row, get_row))
            for watchers in (1, 4):
                results.append(fan_out(ch, command, watchers, writes=100 if quick else 300, ids=ids))
    return results, pinned


def _stored_session(tmp: str) -> Session:
    with SessionController(store=LmdbStorage(f"{tmp}/echo-sample", durable=False)) as c:
        return c.create(session(-999_999))


def _seed_histories(data_dir: str, ids: Ids, sizes: tuple[int, ...]) -> dict[int, str]:
    """Sessions with ``sizes`` messages, written before the server starts (relaxed)."""
    out: dict[int, str] = {}
    with SessionController(store=LmdbStorage(data_dir, durable=False)) as c:
        for size in sizes:
            s = c.create(session(ids()))
            for i in range(size):
                c.append_message(
                    s.metadata.id, "user" if i % 2 else "assistant", f"message {i}: " + "x" * 200
                )
            out[size] = s.metadata.id
    return out


def fan_out(channel: grpc.Channel, command: Any, watchers: int, writes: int, ids: Ids) -> Result:
    """Watch streams over gRPC against a server in its own process."""
    changes = change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]
    streams = [changes.watch(WatchSessionChangesRequest(from_now=True)) for _ in range(watchers)]
    try:
        return paced_fan_out(streams, lambda: command.create(session(ids())), writes=writes)
    finally:
        for stream in streams:
            stream.cancel()


# --- scaling ------------------------------------------------------------------------------


def _plain(i: int) -> Session:
    s = Session(
        api_version="agentic.stigmer.ai/v1",
        kind="Session",
        metadata=ApiResourceMetadata(
            name=f"Scaled {i}",
            slug=f"scaled-{i}",
            id=f"ses-{i:026d}",
            org=f"org{i % 3}",
            owner_scope=ApiResourceOwnerScope.organization,
        ),
        spec=SessionSpec(agent_instance_id=f"ain-{i % 50}", subject="scaled"),
    )
    s.state.phase = "active"
    s.status.audit.spec_audit.created_by.id = "system"
    return s


def scaling(tmp: str, sizes: list[int], ids: Ids, quick: bool) -> list[Result]:
    """Get, Create and List(50) over gRPC with 1k, 100k, 1M sessions stored: the ratio to
    the smallest size shows the cost is flat. Sessions are loaded with batched raw writes
    (records + indexes, no pipeline) and a relaxed server is started on the store."""
    results: list[Result] = []
    path = f"{tmp}/scale"
    have = 0
    first: dict[str, Result] = {}
    n = 300 if quick else 1000
    for size in sizes:
        with LmdbStorage(path, durable=False, map_size=1 << 34) as store:
            while have < size:
                upto = min(size, have + 20_000)

                def load(txn: Tx, lo: int = have, hi: int = upto) -> None:
                    records = txn.records(SESSION)
                    for i in range(lo, hi):
                        records.put(_plain(i), None)

                store.write(load)
                have = upto
        with server("relaxed", path) as (address, _, pid), grpc.insecure_channel(address) as ch:
            command = command_pb2_grpc.SessionCommandControllerStub(ch)  # type: ignore[no-untyped-call]
            query = query_pb2_grpc.SessionQueryControllerStub(ch)  # type: ignore[no-untyped-call]
            sid = SessionId(value=f"ses-{size // 2:026d}")
            req = ListSessionsRequest(page_size=50, org="org1")
            rows = {
                "Get": _loop(pid, f"Get @ {size:,} sessions", lambda i: query.get.future(sid), 1, n),
                "Create": _loop(
                    pid,
                    f"Create @ {size:,} sessions",
                    lambda i: command.create.future(session(ids())),
                    1,
                    n // 3,
                ),
                "List": _loop(
                    pid, f"List 50 @ {size:,} sessions", lambda i: query.list.future(req), 1, n // 3
                ),
            }
            rss = rss_bytes(pid)
        for key, row in rows.items():
            if key in first:
                versus(row, first[key])
            else:
                first[key] = row
            results.append(row)
        store_size = (Path(path) / "data.mdb").stat().st_size
        footprint = f"@ {size:,}: server RSS {rss / 2**20:,.0f} MiB; store {store_size / size:,.0f} B/session"
        results.append(Result(footprint, 0, 0, 0))
    return results


# --- server model -------------------------------------------------------------------------


@contextmanager
def real_server(data_dir: str, *extra: str) -> Iterator[tuple[str, list[int]]]:
    """``python server.py`` itself, as deployed (relaxed, so the CPU and not the disk is
    measured; INFO logging: one JSON line per request): yields its address and the pids
    that serve (the workers, or the server itself)."""
    with served(["--data-dir", data_dir, "--durability", "relaxed", *extra]) as running:
        yield running


@contextmanager
def served(args: list[str], cpu: int | None = None) -> Iterator[tuple[str, list[int]]]:
    """``python server.py --address 127.0.0.1:0 ARGS`` (pinned to ``cpu`` when given, through
    ``bench.pinned``; negative: any cpu): yields its address and the pids that serve."""
    argv = [str(ROOT / "server.py"), "--address", "127.0.0.1:0", *args]
    if cpu is not None:
        argv = ["-m", "bench.pinned", str(cpu), *argv]
    proc = subprocess.Popen([sys.executable, *argv], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        while line and '"serving"' not in line:
            line = proc.stderr.readline()
        if not line:
            raise RuntimeError("server.py did not start")
        event = json.loads(line)
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain the request log
        yield event["address"], event.get("pids", [proc.pid])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def server_model(tmp: str, ids: Ids, quick: bool) -> list[Result]:
    """Worker processes x thread-pool size, at 16 concurrent clients (servers not pinned:
    with --workers 2 they use both cores, sharing one with the client)."""
    n = 300 if quick else 1200
    results: list[Result] = []
    for workers in (1, 2):
        for pool in (4, 8, 16):
            with (
                real_server(
                    f"{tmp}/model-{workers}-{pool}", "--workers", str(workers), "--max-workers", str(pool)
                ) as (
                    address,
                    pids,
                ),
                grpc.insecure_channel(address) as ch,
            ):
                # several connections so SO_REUSEPORT can spread them over the workers
                channels = [
                    ch,
                    *(
                        grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
                        for _ in range(3)
                    ),
                ]
                commands = [command_pb2_grpc.SessionCommandControllerStub(c) for c in channels]  # type: ignore[no-untyped-call]
                queries = [query_pb2_grpc.SessionQueryControllerStub(c) for c in channels]  # type: ignore[no-untyped-call]
                sid = SessionId(value=commands[0].create(session(ids())).metadata.id)
                label = f"{workers} worker(s), {pool} threads, 16 clients"
                closed_loop(
                    "warm", lambda i: commands[i % 4].create.future(session(ids())), concurrency=16, total=100
                )
                before = sum(cpu_seconds(p) for p in pids)
                create = closed_loop(
                    f"Create: {label}",
                    lambda i: commands[i % 4].create.future(session(ids())),
                    concurrency=16,
                    total=n,
                )
                create.server_cpu_us = (sum(cpu_seconds(p) for p in pids) - before) / n * 1e6
                get = closed_loop(
                    f"Get: {label}", lambda i: queries[i % 4].get.future(sid), concurrency=16, total=n
                )
                results += [create, get]
                for c in channels[1:]:
                    c.close()
    return results
