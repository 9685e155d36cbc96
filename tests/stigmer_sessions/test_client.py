"""What only the gRPC clients do: retries with one request id, credentials, asyncio, and
staying light to import (the shared behaviour is test_client_parity.py)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from pipeline.auth import Principal
from pipeline.authn import Authenticate, TokenFile, token_digest
from pipeline.errors import DeadlineExceeded, InvalidArgument, NotFound, Unauthenticated, Unavailable
from stigmer_sessions import SessionController
from stigmer_sessions.api import Session
from stigmer_sessions.client import AsyncSessionClient, SessionClient
from stigmer_sessions.grpc_server import RunningServer, start_server
from stigmer_sessions.tls import ServerTls
from tests.backends import LMDB_ONLY
from tests.certs import make_ca, server_cert
from tests.conftest import make_session

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(controller: SessionController) -> Iterator[RunningServer]:
    running = start_server(controller, "127.0.0.1:0", max_workers=4)
    yield running
    running.stop(grace=None)


class _Failed(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return f"injected {self._code.name}"

    def trailing_metadata(self) -> Any:
        return ()


class Flaky(grpc.UnaryUnaryClientInterceptor):
    """Fails the first ``fail`` calls with ``code``; with ``deliver`` they reach the server
    first (the reply is lost on the way back), as a dropped connection would."""

    def __init__(self, fail: int, code: grpc.StatusCode, *, deliver: bool) -> None:
        self.fail, self.code, self.deliver = fail, code, deliver
        self.seen: list[dict[str, str]] = []

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        self.seen.append(dict(details.metadata or ()))
        if self.fail:
            self.fail -= 1
            if self.deliver:
                continuation(details, request).result()
            raise _Failed(self.code)
        return continuation(details, request)


def _flaky_client(server: RunningServer, flaky: Flaky) -> tuple[grpc.Channel, SessionClient]:
    channel = grpc.intercept_channel(grpc.insecure_channel(server.address), flaky)
    return channel, SessionClient(channel, backoff_s=0.001)


def test_importing_the_client_loads_no_store_server_or_validator() -> None:
    code = (
        "import sys, stigmer_sessions.client, stigmer_sessions.protos\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('lmdb', 'protovalidate', 'psycopg')\n"
        "         or m in ('stigmer_sessions.grpc_server', 'pipeline.service', 'pipeline.storage.lmdb',\n"
        "                  'stigmer_sessions.controller.session_controller')]\n"
        "assert not heavy, heavy\n"
        "from stigmer_sessions import SessionController, Session, NotFound\n"  # still there, lazily
        "assert 'lmdb' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr


@LMDB_ONLY  # the transport does not depend on the store
def test_a_write_whose_reply_was_lost_is_retried_with_its_request_id_and_applied_once(
    server: RunningServer, controller: SessionController
) -> None:
    flaky = Flaky(2, grpc.StatusCode.UNAVAILABLE, deliver=True)
    channel, client = _flaky_client(server, flaky)
    with channel:
        created = client.create(make_session("Once"), actor="ann")
    ids = [seen["x-request-id"] for seen in flaky.seen]
    assert len(ids) == 3 and len(set(ids)) == 1 and ids[0]  # generated, then kept
    assert [s.metadata.id for s in controller.list(org="acme").entries] == [created.metadata.id]
    assert all(seen["x-actor-id"] == "ann" for seen in flaky.seen)


@LMDB_ONLY  # the transport does not depend on the store
def test_each_write_gets_its_own_request_id(server: RunningServer) -> None:
    flaky = Flaky(0, grpc.StatusCode.OK, deliver=False)
    channel, client = _flaky_client(server, flaky)
    with channel:
        sid = client.create(make_session()).metadata.id
        client.append_message(sid, "user", "a")
        client.get(sid)
    first, second, read = flaky.seen
    assert first["x-request-id"] != second["x-request-id"] and "x-request-id" not in read


@LMDB_ONLY  # the transport does not depend on the store
def test_a_write_is_not_retried_after_its_deadline_but_a_read_is(server: RunningServer) -> None:
    flaky = Flaky(1, grpc.StatusCode.DEADLINE_EXCEEDED, deliver=False)
    channel, client = _flaky_client(server, flaky)
    with channel:
        with pytest.raises(DeadlineExceeded):
            client.create(make_session())
        assert len(flaky.seen) == 1
        flaky.fail = 1
        with pytest.raises(NotFound):  # retried, then answered by the server
            client.get("ses-none")
    assert len(flaky.seen) == 3


def test_unavailable_after_the_last_retry_is_raised_typed() -> None:
    client = SessionClient(f"127.0.0.1:{free_port()}", retries=2, backoff_s=0.001)
    with client, pytest.raises(Unavailable):
        client.get("ses-1")


def free_port() -> int:
    """A port nothing listens on (bound, then closed: connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@LMDB_ONLY  # the transport does not depend on the store
def test_a_principal_is_refused_by_the_client(server: RunningServer) -> None:
    with SessionClient(server.address) as client, pytest.raises(TypeError, match="token"):
        client.get("ses-1", principal=Principal("alice", {}))


@LMDB_ONLY  # the transport does not depend on the store
def test_the_token_reaches_the_server(controller: SessionController, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[principals]]\nid = "alice"\ntoken_sha256 = "{token_digest("s3cret")}"\n'
        'roles = { acme = "editor" }\n'
    )
    running = start_server(controller, "127.0.0.1:0", authenticator=Authenticate(TokenFile(str(tokens))))
    try:
        with SessionClient(running.address, token="s3cret") as alice:
            assert alice.create(make_session()).metadata.id
        with SessionClient(running.address, retries=0) as anonymous, pytest.raises(Unauthenticated):
            anonymous.list(org="acme")
    finally:
        running.stop(grace=None)


@LMDB_ONLY  # the transport does not depend on the store
def test_tls_with_a_ca_file_reaches_a_tls_server(controller: SessionController, tmp_path: Path) -> None:
    ca = make_ca()
    cert, key = server_cert(ca).write(tmp_path, "server")
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca.cert_pem)
    running = start_server(controller, "127.0.0.1:0", tls=ServerTls(str(cert), str(key)))
    try:
        with SessionClient(running.address, tls=str(ca_file)) as client:
            assert client.create(make_session()).metadata.id
        with SessionClient(running.address, retries=0) as plaintext, pytest.raises(Unavailable):
            plaintext.list(org="acme")
    finally:
        running.stop(grace=None)


@LMDB_ONLY  # the transport does not depend on the store
def test_the_async_client_has_the_same_methods_awaited(server: RunningServer) -> None:
    async def scenario() -> None:
        async with AsyncSessionClient(server.address) as client:
            created = await client.create(make_session(), actor="ann", request_id="r-1")
            assert await client.create(make_session(), request_id="r-1") == created
            sid = created.metadata.id
            assert await client.get(sid) == created
            batch = await client.append_messages(sid, [("user", "a"), ("assistant", "b")], actor="bob")
            assert [m.sequence for m in batch] == [1, 2] and batch[0].actor_id == "bob"
            page = await client.list_messages(session_id=sid)
            assert [m.content for m in page.messages] == ["a", "b"]
            types = [c.type async for c in client.events(session_id=sid)]
            assert types == ["SessionCreated", "SessionMessageAppended"]
            watched = []
            async for response in client.watch(after_revision=0):
                if response.HasField("change"):
                    watched.append(response.change.type)
                    break
            assert watched == ["SessionCreated"]
            with pytest.raises(NotFound):
                await client.get("ses-none")
            with pytest.raises(InvalidArgument) as invalid:
                await client.create(Session(), dry_run=True)
            assert invalid.value.violations
            instance = await client.agent_instances.get_by_agent(agent_id="nobody")
            assert list(instance.items) == []

    asyncio.run(scenario())


def test_the_async_client_retries_unavailable_then_raises_it() -> None:
    async def scenario() -> None:
        async with AsyncSessionClient(f"127.0.0.1:{free_port()}", retries=2, backoff_s=0.001) as client:
            with pytest.raises(Unavailable):
                await client.get("ses-1")

    asyncio.run(scenario())


@LMDB_ONLY
def test_setting_stop_ends_a_watch_waiting_for_changes(server: RunningServer) -> None:
    with SessionClient(server.address) as client:
        client.create(make_session())
        stop = threading.Event()
        items = client.watch(after_revision=0, stop=stop)
        assert next(items).change.type == "SessionCreated"
        # nothing else will come: the stream is idle until stop cancels it, long before the
        # server's first bookmark (5 s), which would be the first moment a loop could look
        threading.Timer(0.1, stop.set).start()
        assert list(items) == []
        assert stop.is_set()


class AsyncFlaky(grpc.aio.UnaryUnaryClientInterceptor):
    """:class:`Flaky` for grpc.aio: the first ``fail`` calls reach the server, then their
    reply is lost (UNAVAILABLE)."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.seen: list[dict[str, str]] = []

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        self.seen.append({k: v for k, v in details.metadata or ()})
        call = await continuation(details, request)
        if self.fail:
            self.fail -= 1
            await call
            empty = grpc.aio.Metadata()
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, empty, empty, "reply lost")
        return call


@LMDB_ONLY
def test_the_async_client_retries_a_lost_write_under_its_request_id(
    server: RunningServer, controller: SessionController
) -> None:
    flaky = AsyncFlaky(2)

    async def scenario() -> str:
        channel = grpc.aio.insecure_channel(server.address, interceptors=[flaky])
        async with channel:
            client = AsyncSessionClient(channel, backoff_s=0.001)
            created = await client.create(make_session("Once"))
            return str(created.metadata.id)

    sid = asyncio.run(scenario())
    ids = [seen["x-request-id"] for seen in flaky.seen]
    assert len(ids) == 3 and len(set(ids)) == 1 and ids[0]
    assert [s.metadata.id for s in controller.list(org="acme").entries] == [sid]
