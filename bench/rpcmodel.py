"""The one-core gRPC path: which RPC threading model serves best here, and what the log line costs.

``python -m bench --only rpcmodel`` (about a minute). Each model is a server process pinned to
cpu 1 that serves the real session services (durable LMDB with group commit, the INFO request
log as deployed: JSON lines on a pipe the client drains) and, on the same server and threads,
an empty handler echoing a stored Session; the client is pinned to cpu 0. Models:

- ``sync N``: ``grpc.server`` with a thread pool of exactly N threads, the model
  ``start_server`` uses; it runs max_workers + max_watchers threads (32 + 32 by default; 8 + 32
  before), which unary calls take while no watch holds them: ``sync 64 (deployed)`` is the
  server as deployed, ``sync 8`` one whose watch threads are all taken;
- ``aio executor N``: ``grpc.aio.server``, each call's ``RpcInvoker.unary`` run in a pool of N
  threads (the event loop does the transport, a thread the operation);
- ``aio inline``: ``grpc.aio.server`` running ``RpcInvoker.unary`` on the event loop itself: no
  hand-off at all, but one operation at a time (a durable write blocks the loop for its fsync).

All models run in every round, rounds interleaved, so drift hits them alike; ops/s is the median
of the rounds, and the ratio is against the empty handler of the same server in the same round.
Then ``--request-log all`` vs ``errors`` on the default model, interleaved the same way.

The aio variants serve the success path only (an error would need the seam's ``abort`` awaited):
enough to measure, not a server to deploy.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from bench.drive import closed_loop
from bench.stats import pin
from bench.suite import Ids, session
from pipeline.grpc_adapter import RequestLog, RpcInvoker, _add, serve_kind
from pipeline.storage.lmdb import LmdbStorage
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc, query_pb2_grpc
from stigmer_sessions.api import Session, SessionId
from stigmer_sessions.cli import JsonFormatter, StderrHandler
from stigmer_sessions.grpc_server import DEFAULT_MAX_WATCHERS, DEFAULT_MAX_WORKERS

ROOT = Path(__file__).resolve().parents[1]
TITLE = "One-core gRPC path: RPC threading model and the request log (durable LMDB server on one core)"
ECHO = "/bench.Echo/echo"
#: What start_server runs under load: one pool of max_workers + max_watchers threads, and
#: unary calls may take the watch threads while no watch holds them.
DEPLOYED_POOL = DEFAULT_MAX_WORKERS + DEFAULT_MAX_WATCHERS
SYNC_POOLS = sorted({1, 2, 4, 8, 16, 32, 40, 64, DEPLOYED_POOL})
CLIENTS = (1, 16, 64)
DEFAULT_LABEL = f"sync {DEPLOYED_POOL} (deployed)"
#: (label, model, pool) in table order.
MODELS = (
    *((DEFAULT_LABEL if p == DEPLOYED_POOL else f"sync {p}", "sync", p) for p in SYNC_POOLS),
    (f"aio executor {DEFAULT_MAX_WORKERS}", "aio-executor", DEFAULT_MAX_WORKERS),
    ("aio inline", "aio-inline", 1),
)
LOG_ROUNDS = 3


# --- the server process -------------------------------------------------------------------


def _echo(request: Session, context: Any) -> Session:
    return request


async def _echo_async(request: Session, context: Any) -> Session:
    return request


def _echo_handler(behavior: Callable[..., Any]) -> grpc.GenericRpcHandler:
    method = grpc.unary_unary_rpc_method_handler(
        behavior, request_deserializer=Session.FromString, response_serializer=Session.SerializeToString
    )
    return grpc.method_handlers_generic_handler("bench.Echo", {"echo": method})


def _serve_sync(invoke: RpcInvoker, controller: SessionController, pool: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=pool, thread_name_prefix="rpc"))
    for kind in controller.resources.kinds.values():
        serve_kind(server, invoke, kind)
    server.add_generic_rpc_handlers((_echo_handler(_echo),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"127.0.0.1:{port}", flush=True)
    sys.stdin.read()
    server.stop(None)


async def _serve_aio(invoke: RpcInvoker, controller: SessionController, pool: int, inline: bool) -> None:
    server = grpc.aio.server()
    executor = futures.ThreadPoolExecutor(max_workers=pool, thread_name_prefix="rpc")
    loop = asyncio.get_running_loop()

    def unary(kind: str, name: str, path: str) -> Callable[..., Any]:
        async def behavior(request: Any, context: Any) -> Any:
            if inline:
                return invoke.unary(kind, name, path, request, context)
            call = functools.partial(invoke.unary, kind, name, path, request, context)
            return await loop.run_in_executor(executor, call)

        return behavior

    async def not_served(request: Any, context: Any) -> Any:  # watch: never called here
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in this benchmark")

    for kind in controller.resources.kinds.values():
        for service in kind.services:
            behaviors = {
                m.name: not_served
                if m.server_streaming
                else unary(kind.kind.name, m.name, f"/{service.full_name}/{m.name}")
                for m in service.methods
            }
            _add(server, service, behaviors)  # type: ignore[arg-type]
    server.add_generic_rpc_handlers((_echo_handler(_echo_async),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"127.0.0.1:{port}", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    await server.stop(None)


def serve(model: str, pool: int, data_dir: str, cpu: int, request_log: str) -> None:
    """The server process: ``python -m bench.rpcmodel MODEL POOL DATA_DIR CPU REQUEST_LOG``."""
    pin(cpu)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level="INFO", handlers=[handler], force=True)
    store = LmdbStorage(data_dir)  # durable, group commit: as deployed
    controller = SessionController(store=store)
    invoke = RpcInvoker(
        controller.resources,
        log=logging.getLogger("stigmer_sessions.rpc"),
        request_log=RequestLog.parse(request_log),
    )
    try:
        if model == "sync":
            _serve_sync(invoke, controller, pool)
        else:
            asyncio.run(_serve_aio(invoke, controller, pool, inline=model == "aio-inline"))
    finally:
        store.close()


# --- the client ---------------------------------------------------------------------------


def _counters(pid: int) -> tuple[int, int]:
    """CPU ns and context switches (voluntary + not) of every thread of ``pid`` so far: ns,
    where /proc/PID/stat counts 10 ms ticks; the switches are the hand-offs between threads."""
    cpu = switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                cpu += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{task}/status") as f:
                switches += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return cpu, switches


@dataclass
class _Served:
    label: str
    pid: int
    channel: grpc.Channel
    echo: Any
    command: Any
    query: Any
    sid: SessionId
    rates: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    switches: dict[str, list[float]] = field(default_factory=dict)


@contextmanager
def _server(
    label: str, model: str, pool: int, data_dir: str, request_log: str = "all", *, log_to_pipe: bool = True
) -> Iterator[_Served]:
    """A server process; its log goes to a pipe this process drains (as a log collector
    would read it), or with ``log_to_pipe`` False to /dev/null (the writes, no reader)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.rpcmodel", model, str(pool), data_dir, "1", request_log],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if log_to_pipe else subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdin is not None
    if proc.stderr is not None:
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain the request log
    address = proc.stdout.readline().strip()
    if not address:
        proc.kill()
        raise RuntimeError(f"{label}: the server did not start")
    channel = grpc.insecure_channel(address)
    try:
        echo = channel.unary_unary(
            ECHO, request_serializer=Session.SerializeToString, response_deserializer=Session.FromString
        )
        command = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
        query = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
        stored = command.create(session(-1))
        yield _Served(label, proc.pid, channel, echo, command, query, SessionId(value=stored.metadata.id))
    finally:
        channel.close()
        proc.stdin.close()
        proc.wait(timeout=60)


def _calls(s: _Served, ids: Ids, stored: Session) -> dict[str, Callable[[int], Any]]:
    return {
        "empty handler": lambda i: s.echo.future(stored),
        "Get": lambda i: s.query.get.future(s.sid),
        "durable Create": lambda i: s.command.create.future(session(ids())),
    }


def _run(s: _Served, key: str, call: Callable[[int], Any], clients: int, total: int) -> None:
    cpu, switches = _counters(s.pid)
    row = closed_loop(key, call, concurrency=clients, total=total)
    cpu_after, switches_after = _counters(s.pid)
    s.cpu.setdefault(key, []).append((cpu_after - cpu) / total / 1000)
    s.switches.setdefault(key, []).append((switches_after - switches) / total)
    s.rates.setdefault(key, []).append(row.ops_per_s)


def _round(servers: list[_Served], ids: Ids, stored: Session, quick: bool) -> None:
    for s in servers:
        for op, call in _calls(s, ids, stored).items():
            for clients in CLIENTS:
                total = (60 if op == "durable Create" else 150) if clients == 1 else 300
                _run(s, f"{op}, {clients} clients", call, clients, total if quick else total * 2)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _model_table(servers: list[_Served]) -> str:
    head = "| op, clients | " + " | ".join(s.label for s in servers) + " | best |"
    lines = [head, "|---|" + "---:|" * (len(servers) + 1)]
    for op in ("empty handler", "Get", "durable Create"):
        for clients in CLIENTS:
            key = f"{op}, {clients} clients"
            rates = [_median(s.rates[key]) for s in servers]
            echo = [_median(s.rates[f"empty handler, {clients} clients"]) for s in servers]
            cells = []
            for s, rate, base in zip(servers, rates, echo, strict=True):
                cpu, switches = _median(s.cpu[key]), _median(s.switches[key])
                ratio = "" if op == "empty handler" else f" ({rate / base:.0%})"
                cells.append(f"{rate:,.0f}{ratio}, {cpu:.0f} µs, {switches:.1f} cs")
            best = servers[max(range(len(rates)), key=rates.__getitem__)].label
            lines.append(f"| {key} | " + " | ".join(cells) + f" | {best} |")
    return "\n".join(lines)


def _versus_default(servers: list[_Served]) -> str:
    """Each model's throughput relative to today's default, per op and client count."""
    default = next(s for s in servers if s.label == DEFAULT_LABEL)
    head = "| op, clients | " + " | ".join(s.label for s in servers) + " |"
    lines = [head, "|---|" + "---:|" * len(servers)]
    for op in ("empty handler", "Get", "durable Create"):
        for clients in CLIENTS:
            key = f"{op}, {clients} clients"
            base = _median(default.rates[key])
            lines.append(
                f"| {key} | " + " | ".join(f"{_median(s.rates[key]) / base:.2f}" for s in servers) + " |"
            )
    return "\n".join(lines)


def _log_cost(tmp: str, ids: Ids, stored: Session, quick: bool) -> str:
    """``--request-log all`` vs ``errors`` on the default model (and ``all`` written to
    /dev/null: the line's own cost without a reader woken per line), rounds interleaved."""
    variants = (("all", "all", True), ("all, to /dev/null", "all", False), ("errors", "errors", True))
    with ExitStack() as stack:
        served = [
            stack.enter_context(
                _server(label, "sync", DEPLOYED_POOL, f"{tmp}/log-{n}", spelled, log_to_pipe=pipe)
            )
            for n, (label, spelled, pipe) in enumerate(variants)
        ]
        for s in served:  # warm each
            closed_loop("warm", _calls(s, ids, stored)["durable Create"], concurrency=16, total=100)
        for _ in range(LOG_ROUNDS):
            for s in served:
                calls = _calls(s, ids, stored)
                for clients in (1, 64):
                    total = (60 if clients == 1 else 400) * (1 if quick else 2)
                    _run(s, f"durable Create, {clients} clients", calls["durable Create"], clients, total)
                _run(s, "Get, 16 clients", calls["Get"], 16, 300 if quick else 900)
    every = served[0]
    head = " | ".join(f"`{s.label}`: ops/s, CPU µs, cs per call" for s in served)
    tail = " | ".join(f"ops/s {s.label} / all" for s in served[1:])
    lines = [f"| op | {head} | {tail} |", "|---|" + "---:|" * (2 * len(served) - 1)]
    for key in ("durable Create, 1 clients", "durable Create, 64 clients", "Get, 16 clients"):
        cells = [
            f"{_median(s.rates[key]):,.0f}, {_median(s.cpu[key]):.0f}, {_median(s.switches[key]):.1f}"
            for s in served
        ]
        base = _median(every.rates[key])
        ratios = [f"{_median(s.rates[key]) / base:.2f}" for s in served[1:]]
        lines.append(f"| {key} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def section(tmp: str, quick: bool) -> str:
    """Every model in interleaved rounds, then the log-line cost; the section's body."""
    ids = Ids()
    rounds = 2 if quick else 3
    with SessionController(store=LmdbStorage(f"{tmp}/rpcmodel-sample", durable=False)) as c:
        stored = c.create(session(-999_999))  # what the empty handler echoes: a stored Session
    with ExitStack() as stack:
        servers = [
            stack.enter_context(_server(label, model, pool, f"{tmp}/rpcmodel-{model}-{pool}"))
            for label, model, pool in MODELS
        ]
        for s in servers:
            for call in _calls(s, ids, stored).values():
                closed_loop("warm", call, concurrency=16, total=100)
        for _ in range(rounds):
            _round(servers, ids, stored, quick)
        models = _model_table(servers)
        relative = _versus_default(servers)
    log = _log_cost(tmp, ids, stored, quick)
    return (
        f"{rounds} interleaved rounds per model; each cell: ops/s (median of the rounds), in brackets "
        "the ratio to the empty handler of the same server at the same client count, then the "
        "server's CPU µs per call and its context switches per call (cs: thread hand-offs, "
        "all threads, from /proc/PID/task). Durable Create: LMDB, fsync per commit, group commit; "
        f"`--request-log all`.\n\n{models}\n\n"
        f"Throughput relative to the server as deployed ({DEFAULT_LABEL}):\n\n{relative}\n\n"
        f"The request log line ({DEFAULT_LABEL}; {LOG_ROUNDS} interleaved rounds):\n\n{log}"
    )


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5])
