"""gRPC clients with the controller's methods: code written against a SessionController runs
against a server unchanged.

:class:`SessionClient` (blocking) and :class:`AsyncSessionClient` (grpc.aio, every method a
coroutine, ``watch`` and ``events`` async iterators) inherit the typed methods of
:class:`~stigmer_sessions.methods.SessionMethods`, the ones the controller has; only ``call``
is theirs: the call options become the metadata the server reads (``x-actor-id``,
``x-request-id``, ``x-if-match``, ``x-dry-run``, ``x-caused-by``, ``x-cascade``; the token as
``authorization: Bearer``), and a failed call raises the :mod:`pipeline.errors` class the
controller would have raised (:func:`pipeline.grpc_status.error_of`), violations included.

Every write carries a request id (a fresh one when the caller gives none), so a call that
failed UNAVAILABLE is retried (``retries`` times, with exponential backoff and jitter) with
the same id and applied once: the server remembers request ids. Reads are retried on
UNAVAILABLE and DEADLINE_EXCEEDED; writes never on DEADLINE_EXCEEDED (the server may still be
applying it: retry it yourself with the same ``request_id`` to learn the outcome).

This module loads neither the store (LMDB) nor the server nor the validator.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from pipeline.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceError,
    Unavailable,
)
from pipeline.grpc_status import error_of
from pipeline.headers import OPTION_HEADERS
from pipeline.methods import KindTypes, expect
from stigmer_sessions.methods import (
    AGENT_INSTANCE_TYPES,
    SESSION_TYPES,
    AgentInstanceMethods,
    SessionMethods,
)
from stigmer_sessions.protos import AGENT_INSTANCE_SERVICES, SESSION_SERVICES

R = TypeVar("R", bound=Message)
T = TypeVar("T")
#: How a client reaches a TLS server: None (plaintext), True (TLS, the system's CAs), a CA
#: file path, a (CA file, client cert file, client key file) triple (mutual TLS; the CA may be
#: None for the system's), or your own ``grpc.ChannelCredentials``.
Tls = (
    None
    | bool
    | str
    | os.PathLike[str]
    | tuple[str | os.PathLike[str] | None, str | os.PathLike[str], str | os.PathLike[str]]
    | grpc.ChannelCredentials
)
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF_S = 0.1
_Services = Sequence[tuple[ServiceDescriptor, object]]

__all__ = [
    "Aborted",
    "AlreadyExists",
    "AsyncSessionClient",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "ResourceError",
    "SessionClient",
    "Tls",
    "Unavailable",
    "channel_credentials",
]


def _read(path: str | os.PathLike[str] | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as file:
        return file.read()


def channel_credentials(tls: Tls) -> grpc.ChannelCredentials | None:
    """The channel credentials ``tls`` stands for (None: plaintext); see :data:`Tls`."""
    if tls is None or tls is False:
        return None
    if isinstance(tls, grpc.ChannelCredentials):
        return tls
    if tls is True:
        return grpc.ssl_channel_credentials()
    if isinstance(tls, tuple):
        ca, cert, key = tls
        return grpc.ssl_channel_credentials(_read(ca), _read(key), _read(cert))
    return grpc.ssl_channel_credentials(_read(tls))


class _Wire:
    """What every kind's client shares: the channel, the credentials and the retry policy."""

    def __init__(
        self,
        channel: grpc.Channel | grpc.aio.Channel,
        *,
        token: str | None,
        timeout_s: float | None,
        retries: int,
        backoff_s: float,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, not {retries}")
        self.channel = channel
        self.auth = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s

    def methods(self, services: _Services) -> dict[str, Any]:
        """The generated stubs' callables by method name (the operation names)."""
        table: dict[str, Any] = {}
        for service, module in services:
            stub = getattr(module, f"{service.name}Stub")(self.channel)
            for method in service.methods:
                table[method.name] = getattr(stub, method.name)
        return table

    def prepare(self, options: dict[str, Any]) -> tuple[bool, tuple[tuple[str, str], ...]]:
        """Whether the call is a write (it has a request id: the typed methods pass one for
        every write), and its metadata. A write without a request id gets a fresh one, kept
        for every retry. TypeError for a ``principal`` or an option no header carries."""
        if options.pop("principal", None) is not None:
            raise TypeError("a client authenticates with its token: principal= is for in-process calls")
        write = "request_id" in options
        if write and not options["request_id"]:
            options["request_id"] = uuid.uuid4().hex
        metadata = list(self.auth)
        for option, value in options.items():
            header = OPTION_HEADERS.get(option)
            if header is None:
                raise TypeError(f"unexpected call option {option!r}")
            if value is True:
                metadata.append((header, "true"))
            elif value:
                metadata.append((header, str(value)))
        return write, tuple(metadata)

    def retry_after(self, exc: grpc.RpcError, write: bool, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None: give up (raise)."""
        code = exc.code()
        retryable = code == grpc.StatusCode.UNAVAILABLE or (
            not write and code == grpc.StatusCode.DEADLINE_EXCEEDED
        )
        if not retryable or attempt >= self.retries:
            return None
        return float(self.backoff_s * 2**attempt * random.uniform(0.5, 1.0))


def _watch_request(
    types: KindTypes[Any, Any, Any], request: Message | None, fields: dict[str, Any]
) -> Message:
    return request or types.watch_request(**fields)


def _server_side(bookmark_interval_s: float | None, max_lag: int | None) -> None:
    if bookmark_interval_s is not None or max_lag is not None:
        raise TypeError("bookmark_interval_s and max_lag are the server's settings, not a client's")


class _RemoteKind:
    """One kind's operations over a blocking channel."""

    def __init__(self, wire: _Wire, kind: str, types: KindTypes[Any, Any, Any], services: _Services) -> None:
        self.wire, self.kind, self.types = wire, kind, types
        self._methods = wire.methods(services)

    def call(self, operation: str, request: Message, response_type: type[R], **options: Any) -> R:
        """Send ``operation``; retried as the module says; the mapped error if it fails."""
        write, metadata = self.wire.prepare(options)
        method = self._methods[operation]
        attempt = 0
        while True:
            try:
                return expect(method(request, metadata=metadata, timeout=self.wire.timeout_s), response_type)
            except grpc.RpcError as exc:
                delay = self.wire.retry_after(exc, write, attempt)
                if delay is None:
                    raise error_of(exc) from exc
            time.sleep(delay)
            attempt += 1

    def watch(
        self,
        request: Message | None = None,
        *,
        stop: threading.Event | None = None,
        bookmark_interval_s: float | None = None,
        max_lag: int | None = None,
        principal: None = None,
        **fields: Any,
    ) -> Iterator[Any]:
        """Follow the change feed as the controller's ``watch`` does (the server's bookmark
        interval and lag limit apply: TypeError if given). Ends when ``stop`` is set (the
        stream is cancelled) or the caller stops iterating. Not retried: on an error, watch
        again from the last revision seen."""
        _server_side(bookmark_interval_s, max_lag)
        _, metadata = self.wire.prepare({"principal": principal})
        call = self._methods["watch"](_watch_request(self.types, request, fields), metadata=metadata)
        done = threading.Event()
        if stop is not None:

            def cancel_on_stop() -> None:
                while not done.is_set():
                    if stop.wait(0.05):
                        call.cancel()
                        return

            threading.Thread(target=cancel_on_stop, daemon=True, name="watch-stop").start()
        try:
            for item in call:
                yield expect(item, self.types.watch_response)
                if stop is not None and stop.is_set():
                    return
        except grpc.RpcError as exc:
            if stop is not None and stop.is_set() and exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise error_of(exc) from exc
        finally:
            done.set()
            call.cancel()


class _AgentInstanceClient(_RemoteKind, AgentInstanceMethods):
    """``SessionClient.agent_instances``: the agent instance operations over the client's channel."""

    def __init__(self, wire: _Wire) -> None:
        super().__init__(wire, "agent_instance", AGENT_INSTANCE_TYPES, AGENT_INSTANCE_SERVICES)


def _channel(target: str, tls: Tls, options: Sequence[tuple[str, Any]]) -> grpc.Channel:
    credentials = channel_credentials(tls)
    if credentials is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, credentials, options=options)


class SessionClient(_RemoteKind, SessionMethods):
    """The controller's session methods over gRPC; :attr:`agent_instances` likewise.

    ``target`` is ``HOST:PORT`` (or any gRPC target), or a ``grpc.Channel`` you made (then
    ``tls`` must be None, and closing the client leaves the channel open). ``token`` is sent
    as ``authorization: Bearer``; ``timeout_s`` bounds each unary call (None: no deadline);
    ``retries`` and ``backoff_s`` tune the retry of UNAVAILABLE (module docstring);
    ``channel_options`` go to grpc. Every method takes the controller's arguments and raises
    its errors, except ``principal=`` (TypeError: a client is who its token says) and the
    server-side knobs of ``watch``. Thread-safe; use it as a context manager or :meth:`close` it.
    """

    def __init__(
        self,
        target: str | grpc.Channel,
        *,
        tls: Tls = None,
        token: str | None = None,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if isinstance(target, str):
            channel, self._owns_channel = _channel(target, tls, channel_options), True
        elif tls is not None:
            raise TypeError("tls= is for a target address; a channel brings its own credentials")
        else:
            channel, self._owns_channel = target, False
        self.channel = channel
        wire = _Wire(channel, token=token, timeout_s=timeout_s, retries=retries, backoff_s=backoff_s)
        super().__init__(wire, "session", SESSION_TYPES, SESSION_SERVICES)
        #: The agent instances on the same server (create, get_by_agent, watch, ...).
        self.agent_instances = _AgentInstanceClient(wire)

    def close(self) -> None:
        """Close the channel (if the client opened it): calls in flight are cancelled."""
        if self._owns_channel:
            self.channel.close()

    def __enter__(self) -> SessionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AsyncRemoteKind:
    """One kind's operations over a grpc.aio channel: ``call`` and the streams, awaited."""

    def __init__(self, wire: _Wire, kind: str, types: KindTypes[Any, Any, Any], services: _Services) -> None:
        self.wire, self.kind, self.types = wire, kind, types
        self._methods = wire.methods(services)

    async def call(self, operation: str, request: Message, response_type: type[R], **options: Any) -> R:
        """As :meth:`SessionClient.call`, awaited (the backoff too)."""
        write, metadata = self.wire.prepare(options)
        method = self._methods[operation]
        attempt = 0
        while True:
            try:
                response = await method(request, metadata=metadata, timeout=self.wire.timeout_s)
                return expect(response, response_type)
            except grpc.RpcError as exc:  # grpc.aio.AioRpcError is one
                delay = self.wire.retry_after(exc, write, attempt)
                if delay is None:
                    raise error_of(exc) from exc
            await asyncio.sleep(delay)
            attempt += 1

    async def call_then(
        self, operation: str, request: Message, response_type: type[R], then: Callable[[R], T], **options: Any
    ) -> T:
        """The typed methods' post-processing hook, applied after awaiting."""
        return then(await self.call(operation, request, response_type, **options))

    async def events(
        self,
        *,
        after: int = 0,
        org: str = "",
        types: tuple[str, ...] = (),
        principal: None = None,
        **resource: str,
    ) -> AsyncIterator[Any]:
        """As the controller's ``events``, a page at a time: ``async for change in ...``."""
        token = ""
        while True:
            request = self.types.list_changes(
                after_revision=after, org=org, types=list(types), page_size=1000, page_token=token, **resource
            )
            page: Any = await self.call("listChanges", request, self.types.change_list, principal=principal)
            for change in page.changes:
                yield change
            token = page.next_page_token
            if not token:
                return

    async def watch(
        self,
        request: Message | None = None,
        *,
        stop: asyncio.Event | threading.Event | None = None,
        bookmark_interval_s: float | None = None,
        max_lag: int | None = None,
        principal: None = None,
        **fields: Any,
    ) -> AsyncIterator[Any]:
        """As :meth:`SessionClient.watch`: ``async for response in client.watch(...)``;
        ``stop`` is checked after each response (bookmarks arrive while idle); breaking out
        of the loop (or closing the iterator) cancels the stream."""
        _server_side(bookmark_interval_s, max_lag)
        _, metadata = self.wire.prepare({"principal": principal})
        call = self._methods["watch"](_watch_request(self.types, request, fields), metadata=metadata)
        try:
            async for item in call:
                yield expect(item, self.types.watch_response)
                if stop is not None and stop.is_set():
                    return
        except grpc.RpcError as exc:
            raise error_of(exc) from exc
        finally:
            call.cancel()


if TYPE_CHECKING:  # the shared methods are typed for blocking calls: seen here as awaitables
    _AsyncSessionBase = object
    _AsyncAgentInstanceBase = object
else:
    _AsyncSessionBase = SessionMethods
    _AsyncAgentInstanceBase = AgentInstanceMethods


class _AsyncAgentInstanceClient(_AsyncRemoteKind, _AsyncAgentInstanceBase):
    """``AsyncSessionClient.agent_instances``."""

    def __init__(self, wire: _Wire) -> None:
        super().__init__(wire, "agent_instance", AGENT_INSTANCE_TYPES, AGENT_INSTANCE_SERVICES)

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Callable[..., Any]: ...


class AsyncSessionClient(_AsyncRemoteKind, _AsyncSessionBase):
    """:class:`SessionClient` for asyncio: the same methods and arguments, each returning an
    awaitable (``await client.create(session)``); ``watch`` and ``events`` are async
    iterators. Same target, credentials and retry options. Use ``async with``, or ``await
    client.close()``; make it (or first use it) on the event loop it will run on."""

    def __init__(
        self,
        target: str | grpc.aio.Channel,
        *,
        tls: Tls = None,
        token: str | None = None,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if isinstance(target, str):
            credentials = channel_credentials(tls)
            channel = (
                grpc.aio.insecure_channel(target, options=channel_options)
                if credentials is None
                else grpc.aio.secure_channel(target, credentials, options=channel_options)
            )
            self._owns_channel = True
        elif tls is not None:
            raise TypeError("tls= is for a target address; a channel brings its own credentials")
        else:
            channel, self._owns_channel = target, False
        self.channel = channel
        wire = _Wire(channel, token=token, timeout_s=timeout_s, retries=retries, backoff_s=backoff_s)
        super().__init__(wire, "session", SESSION_TYPES, SESSION_SERVICES)
        #: The agent instances on the same server, awaited likewise.
        self.agent_instances = _AsyncAgentInstanceClient(wire)

    async def close(self) -> None:
        if self._owns_channel:
            await self.channel.close()

    async def __aenter__(self) -> AsyncSessionClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Callable[..., Any]: ...
