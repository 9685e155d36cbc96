"""Serving the SessionController over gRPC: thin servicers, health, reflection.

The servicers only name the operation; :class:`RpcInvoker` is the single seam that runs it,
reads the caller from metadata, turns errors into statuses (via
:func:`pipeline.grpc_status.to_status`) and logs one structured line per request. Methods
are registered with a request decoder that never raises, so a body that does not parse
reaches the seam and is INVALID_ARGUMENT (grpcio itself would answer INTERNAL).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2

from pipeline import limits
from pipeline.errors import InvalidArgument, ResourceExhausted, quote
from pipeline.grpc_status import to_status
from pipeline.keys import RESPONSE
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2,
    change_pb2_grpc,
    command_pb2,
    command_pb2_grpc,
    message_pb2,
    message_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
)
from stigmer_sessions.controller.session_controller import SessionController

ACTOR_HEADER = "x-actor-id"
IF_MATCH_HEADER = "x-if-match"
CAUSED_BY_HEADER = "x-caused-by"
REQUEST_ID_HEADER = "x-request-id"
DRY_RUN_HEADER = "x-dry-run"
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")
COMMAND_SERVICE = command_pb2.DESCRIPTOR.services_by_name["SessionCommandController"].full_name
QUERY_SERVICE = query_pb2.DESCRIPTOR.services_by_name["SessionQueryController"].full_name
CHANGE_SERVICE = change_pb2.DESCRIPTOR.services_by_name["SessionChangeController"].full_name
MESSAGE_SERVICE = message_pb2.DESCRIPTOR.services_by_name["SessionMessageController"].full_name
DEFAULT_MAX_WORKERS = 8
#: Each open watch holds a server thread (sync gRPC), so their number is bounded separately
#: and the thread pool is sized max_workers + max_watchers: watchers never starve unary RPCs.
DEFAULT_MAX_WATCHERS = 32
#: One client (its x-actor-id, else its peer address) may hold at most this many of them, so
#: a client that opens streams and never reads cannot take every slot.
DEFAULT_MAX_WATCHERS_PER_CLIENT = 8
#: How much of an error message the per-request log line keeps.
LOG_ERROR_CHARS = 300

_log = logging.getLogger("stigmer_sessions.rpc")


@dataclass(frozen=True)
class CallOptions:
    """What a caller says in metadata: who it is, and how a write should behave."""

    actor: str = ""
    expected_version: str = ""
    request_id: str = ""
    dry_run: bool = False
    caused_by: str = ""

    @classmethod
    def of(cls, context: grpc.ServicerContext) -> CallOptions:
        """Read our headers in one pass; a call without any (most reads) costs one scan.

        InvalidArgument naming the header when one is over its length bound
        (:mod:`pipeline.limits`) or holds control characters."""
        found: dict[str, str] = {}
        for key, value in context.invocation_metadata() or ():
            if key in _HEADERS:
                found[key] = str(value)
        if not found:
            return _NO_OPTIONS
        dry_run = found.get(DRY_RUN_HEADER, "").strip().lower()
        if dry_run not in _TRUE + _FALSE:
            raise InvalidArgument.for_field(
                DRY_RUN_HEADER, f"must be true or false, not {quote(dry_run)}", "header.x-dry-run"
            )
        limits.check((name, found.get(name, ""), bound) for name, bound in _HEADER_BOUNDS)
        return cls(
            actor=found.get(ACTOR_HEADER, ""),
            expected_version=found.get(IF_MATCH_HEADER, ""),
            request_id=found.get(REQUEST_ID_HEADER, ""),
            dry_run=dry_run in _TRUE,
            caused_by=found.get(CAUSED_BY_HEADER, ""),
        )


_NO_OPTIONS = CallOptions()
_HEADERS = frozenset({ACTOR_HEADER, IF_MATCH_HEADER, REQUEST_ID_HEADER, DRY_RUN_HEADER, CAUSED_BY_HEADER})
_HEADER_BOUNDS = (
    (ACTOR_HEADER, limits.MAX_ACTOR_BYTES),
    (REQUEST_ID_HEADER, limits.MAX_REQUEST_ID_BYTES),
    (CAUSED_BY_HEADER, limits.MAX_CAUSED_BY_BYTES),
    (IF_MATCH_HEADER, limits.MAX_VERSION_BYTES),
)


def _log_rpc(method: str, code: grpc.StatusCode, start: float, error: str = "", **fields: object) -> None:
    """The one structured line per request: method, code, duration, the error message of a
    failed call (its first LOG_ERROR_CHARS characters), then ``fields``."""
    duration_ms = round((time.perf_counter() - start) * 1000, 3)
    line: dict[str, object] = {"method": method, "code": code.name, "duration_ms": duration_ms}
    if error:
        line["error"] = error if len(error) <= LOG_ERROR_CHARS else error[:LOG_ERROR_CHARS] + "..."
    _log.info("rpc", extra={"fields": {**line, **fields}})


@dataclass(frozen=True)
class Undecodable:
    """What the lenient decoder hands the servicer for a body that does not parse."""

    type_name: str
    error: str


def _lenient(message_type: type[Message]) -> Callable[[bytes], Message | Undecodable]:
    def decode(data: bytes) -> Message | Undecodable:
        try:
            return message_type.FromString(data)
        except (DecodeError, ValueError, RuntimeError) as exc:  # what the protobuf backends raise
            return Undecodable(message_type.DESCRIPTOR.full_name, str(exc))

    return decode


def _decoded(request: Any) -> Any:
    if isinstance(request, Undecodable):
        raise InvalidArgument(f"the request body is not a valid {request.type_name}: {quote(request.error)}")
    return request


def _refusing(behavior: Callable[..., Any], request_streaming: bool) -> Callable[..., Any]:
    """``behavior`` of a servicer that does not know :class:`Undecodable` (health,
    reflection): a body that does not parse ends the call with INVALID_ARGUMENT first."""

    def check(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return _decoded(request)
        except InvalidArgument as exc:
            context.abort_with_status(to_status(exc))  # raises: ends the RPC with that status
            raise  # unreachable

    if request_streaming:

        def stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            return behavior((check(request, context) for request in requests), context)

        return stream

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        return behavior(check(request, context), context)

    return unary


_MAKE_HANDLER = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _register(
    server: grpc.Server, servicer: object, service: ServiceDescriptor, *, refuse_undecodable: bool = False
) -> None:
    """Register every method of ``service`` on ``servicer`` (by name), as the generated
    ``add_*_to_server`` would, but with a request decoder that does not raise. Our servicers
    hand an :class:`Undecodable` to the RpcInvoker (which logs the call); for others
    (``refuse_undecodable``) a wrapper answers it."""
    handlers = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        behavior = getattr(servicer, method.name)
        if refuse_undecodable:
            behavior = _refusing(behavior, method.client_streaming)
        make: Any = _MAKE_HANDLER[method.client_streaming, method.server_streaming]
        handlers[method.name] = make(
            behavior,
            request_deserializer=_lenient(request_type),
            response_serializer=response_type.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


class _WatchSlots:
    """At most ``total`` watches at once, and at most ``per_client`` of one client."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}
        self._count = 0

    def acquire(self, client: str) -> None:
        """Take a slot for ``client``, or raise ResourceExhausted naming the limit hit."""
        with self._lock:
            if self._held.get(client, 0) >= self.per_client:
                raise ResourceExhausted(
                    f"too many watchers for this client (limit {self.per_client} per client, keyed "
                    f"by x-actor-id, else the connection); close one or retry later"
                )
            if self._count >= self.total:
                raise ResourceExhausted(f"too many watchers (limit {self.total}); retry later")
            self._held[client] = self._held.get(client, 0) + 1
            self._count += 1

    def release(self, client: str) -> None:
        with self._lock:
            self._count -= 1
            left = self._held[client] - 1
            if left:
                self._held[client] = left
            else:
                del self._held[client]


class RpcInvoker:
    """Runs one controller operation for one RPC; the only place RPC errors are mapped.

    Metadata: ``x-actor-id`` (audit), ``x-request-id`` (idempotent retries), ``x-if-match``
    (expected version), ``x-dry-run: true`` (validate and report, write nothing),
    ``x-caused-by`` (recorded as the change's cause)."""

    def __init__(
        self,
        controller: SessionController,
        *,
        max_watchers: int = DEFAULT_MAX_WATCHERS,
        max_watchers_per_client: int = DEFAULT_MAX_WATCHERS_PER_CLIENT,
    ) -> None:
        self.controller = controller
        self.max_watchers = max_watchers
        self._watch_slots = _WatchSlots(max_watchers, max_watchers_per_client)

    def __call__(self, service: str, operation: str, request: Message, context: grpc.ServicerContext) -> Any:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        options = _NO_OPTIONS
        error = ""
        try:
            options = CallOptions.of(context)
            ctx = self.controller.run(
                operation,
                _decoded(request),
                actor=options.actor,
                request_id=options.request_id,
                expected_version=options.expected_version,
                dry_run=options.dry_run,
                caused_by=options.caused_by,
            )
            return ctx[RESPONSE]
        except Exception as exc:
            status = to_status(exc)
            code, error = status.code, status.details
            context.abort_with_status(status)  # raises: ends the RPC with that status
            raise  # unreachable: keeps type checkers and readers honest
        finally:
            if _log.isEnabledFor(logging.INFO):  # build the line only when it will be written
                _log_rpc(
                    f"/{service}/{operation}",
                    code,
                    start,
                    error,
                    actor=options.actor or "system",
                    **({"request_id": options.request_id} if options.request_id else {}),
                    **({"dry_run": True} if options.dry_run else {}),
                )

    def watch(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        """The streaming twin of ``__call__``: same error mapping, one log line at the end.

        Ends when the client goes away or the server shuts down (``add_callback`` stops the
        watch loop promptly), which is logged CANCELLED. At most ``max_watchers`` run at
        once, and ``max_watchers_per_client`` per client: its ``x-actor-id``, else its peer
        address (without authentication this stops a buggy client, not a hostile one, who
        can pick another actor id); more is RESOURCE_EXHAUSTED naming the limit.
        """
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        error = ""
        sent = 0
        stop = threading.Event()
        client = ""
        options = _NO_OPTIONS

        def on_done() -> None:
            stop.set()
            self.controller.hub.wake()

        context.add_callback(on_done)
        try:
            options = CallOptions.of(context)
            watch_request = _decoded(request)
            key = f"actor:{options.actor}" if options.actor else f"peer:{context.peer()}"
            self._watch_slots.acquire(key)
            client = key  # from here on, the slot is ours to release
            for item in self.controller.watch(watch_request, stop=stop):
                yield item
                sent += 1
            if stop.is_set():  # cut off by the client or by shutdown, not finished
                code = grpc.StatusCode.CANCELLED
        except GeneratorExit:  # grpc closed the stream while we were waiting to send
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            status = to_status(exc)
            code, error = status.code, status.details
            context.abort_with_status(status)
        finally:
            if client:
                self._watch_slots.release(client)
            _log_rpc(
                f"/{CHANGE_SERVICE}/watch", code, start, error, actor=options.actor or "system", sent=sent
            )


class SessionCommandServicer(command_pb2_grpc.SessionCommandControllerServicer):
    def __init__(self, invoke: RpcInvoker) -> None:
        self._invoke = invoke

    def apply(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(COMMAND_SERVICE, "apply", request, context)

    def create(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(COMMAND_SERVICE, "create", request, context)

    def update(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(COMMAND_SERVICE, "update", request, context)

    def delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(COMMAND_SERVICE, "delete", request, context)

    def pin(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(COMMAND_SERVICE, "pin", request, context)

    def unpin(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(COMMAND_SERVICE, "unpin", request, context)

    def transition(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(COMMAND_SERVICE, "transition", request, context)


class SessionQueryServicer(query_pb2_grpc.SessionQueryControllerServicer):
    def __init__(self, invoke: RpcInvoker) -> None:
        self._invoke = invoke

    def get(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(QUERY_SERVICE, "get", request, context)

    def list(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(QUERY_SERVICE, "list", request, context)

    def listByAgent(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(QUERY_SERVICE, "listByAgent", request, context)

    def getByReference(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(QUERY_SERVICE, "getByReference", request, context)


class SessionMessageServicer(message_pb2_grpc.SessionMessageControllerServicer):
    def __init__(self, invoke: RpcInvoker) -> None:
        self._invoke = invoke

    def appendMessage(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(MESSAGE_SERVICE, "appendMessage", request, context)

    def listMessages(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(MESSAGE_SERVICE, "listMessages", request, context)

    def resume(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(MESSAGE_SERVICE, "resume", request, context)


class SessionChangeServicer(change_pb2_grpc.SessionChangeControllerServicer):
    def __init__(self, invoke: RpcInvoker) -> None:
        self._invoke = invoke

    def listChanges(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._invoke(CHANGE_SERVICE, "listChanges", request, context)

    def watch(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        return self._invoke.watch(request, context)


class HealthServicer(health.HealthServicer):  # type: ignore[misc]
    """grpcio's health servicer plus ``List`` (every service set here, with its status):
    grpcio-health-checking does not implement it, and its stub raised, logging a traceback."""

    def __init__(self) -> None:
        super().__init__()
        self._names: set[str] = set()

    def set(self, service: str, status: Any) -> None:
        self._names.add(service)
        super().set(service, status)

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        response = health_pb2.HealthListResponse()
        for name in sorted(self._names):
            check = self.Check(health_pb2.HealthCheckRequest(service=name), context)
            response.statuses[name].status = check.status
        return response


@dataclass
class RunningServer:
    """A started server: its bound address and what is needed to stop it gracefully."""

    server: grpc.Server
    address: str
    port: int
    health: HealthServicer

    def stop(self, grace: float | None = 5.0) -> None:
        """Report NOT_SERVING, finish in-flight RPCs (up to ``grace`` seconds), then stop."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_server(
    controller: SessionController,
    address: str = "127.0.0.1:50051",
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    max_watchers: int = DEFAULT_MAX_WATCHERS,
    max_watchers_per_client: int = DEFAULT_MAX_WATCHERS_PER_CLIENT,
    reuse_port: bool = False,
) -> RunningServer:
    """Bind ``address`` (port 0 picks a free port), register every service, and start.

    SO_REUSEPORT is off unless ``reuse_port``: with it, grpc would let a second server bind
    a port already in use and silently share its traffic. Only ``--workers`` wants that.
    The receive limit follows the controller's size limits (``SessionConfig.receive_limit``):
    with gRPC's fixed 4 MiB, a larger configured limit could never be reached.
    """
    pool = futures.ThreadPoolExecutor(max_workers=max_workers + max_watchers, thread_name_prefix="rpc")
    server = grpc.server(
        pool,
        options=[
            ("grpc.so_reuseport", int(reuse_port)),
            ("grpc.max_receive_message_length", controller.config.receive_limit()),
        ],
    )
    invoke = RpcInvoker(
        controller, max_watchers=max_watchers, max_watchers_per_client=max_watchers_per_client
    )
    services = (
        (SessionCommandServicer(invoke), command_pb2.DESCRIPTOR.services_by_name["SessionCommandController"]),
        (SessionQueryServicer(invoke), query_pb2.DESCRIPTOR.services_by_name["SessionQueryController"]),
        (SessionChangeServicer(invoke), change_pb2.DESCRIPTOR.services_by_name["SessionChangeController"]),
        (SessionMessageServicer(invoke), message_pb2.DESCRIPTOR.services_by_name["SessionMessageController"]),
    )
    for servicer, descriptor in services:
        _register(server, servicer, descriptor)
    health_servicer = HealthServicer()
    for name in ("", COMMAND_SERVICE, QUERY_SERVICE, CHANGE_SERVICE, MESSAGE_SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection_servicer = reflection.ReflectionServicer(
        (
            COMMAND_SERVICE,
            QUERY_SERVICE,
            CHANGE_SERVICE,
            MESSAGE_SERVICE,
            health.SERVICE_NAME,
            reflection.SERVICE_NAME,
        )
    )
    # Registered like ours (not with grpcio's add_*_to_server), so that a body that does not
    # parse is INVALID_ARGUMENT there too, not INTERNAL with a logged traceback.
    for servicer, descriptor in (
        (health_servicer, health_pb2.DESCRIPTOR.services_by_name["Health"]),
        (reflection_servicer, reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]),
    ):
        _register(server, servicer, descriptor, refuse_undecodable=True)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc raises this when the address cannot be bound
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    if not port:
        raise OSError(f"cannot listen on {address}: address unavailable")
    server.start()
    host = address.rsplit(":", 1)[0]
    return RunningServer(server, f"{host}:{port}", port, health_servicer)
