"""Shared fixtures: a temporary store, hand-built step contexts, an in-process server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from pipeline.context import Key, RequestContext
from pipeline.resource import ResourceKind
from pipeline.storage import Storage
from pipeline.storage.lmdb import LmdbStorage
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    change_pb2_grpc as agent_instance_change_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    command_pb2_grpc as agent_instance_command_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    query_pb2_grpc as agent_instance_query_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc, query_pb2_grpc
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceSpec,
    ApiResourceMetadata,
    ApiResourceOwnerScope,
    Session,
    SessionSpec,
)
from stigmer_sessions.grpc_server import RunningServer, start_server
from stigmer_sessions.resource import SESSION
from tests.backends import BACKENDS, open_backend, pg_schema

ROOT = Path(__file__).resolve().parents[1]
ORG = ApiResourceOwnerScope.organization
#: The tables (of any backend) that hold the change log, which keeps history on purpose.
CHANGE_LOG_TABLES = frozenset({"events", "changes", "change_head"})
#: The record of the schema in place (PostgreSQL's version; the indexes each kind holds) and
#: PostgreSQL's rows that exist only to be locked: the schema and its bookkeeping, not data.
SCHEMA_TABLES = frozenset({"schema_version", "schema", "index_sets", "locks"})


def data_tables(storage: Storage) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables (records, indexes, counters, request ids, children):
    equal before and after means nothing was written."""
    skip = CHANGE_LOG_TABLES | SCHEMA_TABLES
    return {t: rows for t, rows in storage.snapshot().items() if t not in skip}


def make_session(
    name: str = "Daily Standup",
    *,
    org: str = "acme",
    agent: str = "ain-1",
    tags: tuple[str, ...] = (),
    slug: str = "",
    **spec: Any,
) -> Session:
    """A valid create request."""
    return Session(
        metadata=ApiResourceMetadata(name=name, slug=slug, org=org, owner_scope=ORG, tags=list(tags)),
        spec=SessionSpec(agent_instance_id=agent, **spec),
    )


def make_agent_instance(
    name: str = "Support Bot", *, org: str = "acme", agent: str = "agt-1", slug: str = "", **spec: Any
) -> AgentInstance:
    """A valid agent instance create request."""
    return AgentInstance(
        metadata=ApiResourceMetadata(name=name, slug=slug, org=org, owner_scope=ORG),
        spec=AgentInstanceSpec(agent_id=agent, **spec),
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: every test reaching it, directly or through ``storage``,
    ``store``, ``controller``, ``run_step``, ``server``, ``stubs``, ``open_store`` or
    ``store_url``, runs once per backend, with ids ``[lmdb]`` and ``[postgres]``
    (``tests.backends.LMDB_ONLY`` narrows a test to LMDB)."""
    return str(request.param)


@pytest.fixture
def storage(backend: str, tmp_path: Path) -> Iterator[Storage]:
    """A fresh, empty store of the backend under test, closed afterwards."""
    with open_backend(backend, tmp_path) as opened:
        yield opened


OpenStore = Callable[[], Storage]


@pytest.fixture
def open_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenStore]:
    """Opens more fresh, empty stores of the backend under test (an import's target, a
    second replica's own store); all closed afterwards."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(open_backend(backend, tmp_path_factory.mktemp("store")))


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty location of the backend under test, for tests that open a
    store by URL, close it and open it again (a restart)."""
    if backend == "lmdb":
        yield f"lmdb://{tmp_path / 'db'}"
    else:
        with pg_schema() as dsn:
            yield dsn


@pytest.fixture
def store(storage: Storage) -> Storage:
    """The store of the test's backend (the same object as ``storage``)."""
    return storage


@pytest.fixture
def lmdb_store(tmp_path: Path) -> Iterator[LmdbStorage]:
    """The LMDB backend alone, for tests of LMDB's own behaviour (its engine, key layout,
    group commit and fault handling), which have no PostgreSQL counterpart."""
    s = LmdbStorage(tmp_path / "db", durable=False)
    yield s
    s.close()


@pytest.fixture
def controller(store: Storage) -> Iterator[SessionController]:
    with SessionController(store=store) as sessions:
        yield sessions


RunStep = Callable[..., RequestContext[Any]]


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(0..n-1)`` in n threads released together; each result or exception."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``server.py *args`` (the command line as a user runs it) to completion; its exit
    code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        check=False,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def start_server_process(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Run ``server.py *args`` and wait for its "serving" line; the returned event also
    holds "before": the log lines that came before it, "lines": every later log line,
    collected as it comes (which keeps the pipe drained), and "drain": the thread collecting
    them (join it after the process ends)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    before: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        event: dict[str, Any] = json.loads(line)
        if event["msg"] == "serving":
            lines: list[dict[str, Any]] = []
            event["before"] = before
            event["lines"] = lines

            def drain(stream: Any = proc.stderr, into: list[dict[str, Any]] = lines) -> None:
                into.extend(json.loads(text) for text in stream)

            event["drain"] = threading.Thread(target=drain, daemon=True)
            event["drain"].start()
            return proc, event
        before.append(event)
    proc.kill()
    raise AssertionError("server.py did not start")


@pytest.fixture
def run_step(store: Storage) -> RunStep:
    """Run one step on a hand-built context in its own transaction; returns the context.

    ``values`` pre-fills context keys the step reads. Write transactions commit only when
    the step succeeds, exactly as inside a pipeline.
    """

    def run(
        step: Callable[[RequestContext[Any]], None],
        request: Message,
        *,
        values: dict[Key[Any], Any] | None = None,
        write: bool = True,
        actor: str = "tester",
        now_ns: int | None = None,
        kind: ResourceKind[Any] = SESSION,
    ) -> RequestContext[Any]:
        def body(tx: Any) -> RequestContext[Any]:
            ctx = RequestContext(request, kind=kind, tx=tx, actor=actor, values=values, now_ns=now_ns)
            step(ctx)
            return ctx

        return store.write(body) if write else store.read(body)

    return run


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.command = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
        self.query = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
        self.agent_command = agent_instance_command_grpc.AgentInstanceCommandControllerStub(channel)  # type: ignore[no-untyped-call]
        self.agent_query = agent_instance_query_grpc.AgentInstanceQueryControllerStub(channel)  # type: ignore[no-untyped-call]
        self.agent_changes = agent_instance_change_grpc.AgentInstanceChangeControllerStub(channel)  # type: ignore[no-untyped-call]


@pytest.fixture
def server(controller: SessionController) -> Iterator[RunningServer]:
    running = start_server(controller, "127.0.0.1:0", max_workers=8)
    yield running
    running.stop(grace=None)


@pytest.fixture
def stubs(server: RunningServer) -> Iterator[Stubs]:
    with grpc.insecure_channel(server.address) as channel:
        yield Stubs(channel)


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted at a fresh directory, for real out-of-space tests; unmounted
    afterwards. Skipped when not root or when the mount is refused (e.g. no CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = tmp_path / "volume"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)],
        check=False,
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, capture_output=True)


def fill_volume(volume: Path, leave_bytes: int) -> Path:
    """Write a filler file that leaves about ``leave_bytes`` free on ``volume``; delete it
    to free the space again."""
    filler = volume / "filler"
    stat = os.statvfs(volume)
    size = max(stat.f_bavail * stat.f_frsize - leave_bytes, 0)
    with filler.open("wb") as out:
        out.write(b"\0" * size)
    return filler
