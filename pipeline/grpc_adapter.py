"""Serving kinds over gRPC, driven by the service descriptors of the generated code.

Every method of a kind's gRPC services is served by the operation of the same name
(:class:`~pipeline.service.KindService`); a server-streaming ``watch`` by its change feed. No
servicer is written by hand: :func:`serve_kind` builds one handler per method from the
descriptors. :class:`RpcInvoker` is the single seam every call goes through: it reads the
call options from metadata, runs the operation, turns errors into statuses (via
:func:`pipeline.grpc_status.to_status`) and logs one structured line per request. Methods
are registered with a request decoder that never raises, so a body that does not parse
reaches the seam and is INVALID_ARGUMENT (grpcio itself would answer INTERNAL).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2

from pipeline import limits
from pipeline.auth import Principal
from pipeline.errors import Aborted, InvalidArgument, ResourceExhausted, Unauthenticated, quote
from pipeline.grpc_status import to_status
from pipeline.headers import (
    ACTOR_HEADER,
    CASCADE_HEADER,
    CAUSED_BY_HEADER,
    DRY_RUN_HEADER,
    IF_MATCH_HEADER,
    REQUEST_ID_HEADER,
)
from pipeline.keys import RESPONSE
from pipeline.service import KindService, Resources

__all__ = [
    "ACTOR_HEADER",
    "CASCADE_HEADER",
    "CAUSED_BY_HEADER",
    "DRY_RUN_HEADER",
    "IF_MATCH_HEADER",
    "REQUEST_ID_HEADER",
    "CallOptions",
    "RequestLog",
    "RpcInvoker",
    "register",
    "serve_kind",
]

#: Establishes who is calling from the call's metadata and peer; raises Unauthenticated.
Authenticator = Callable[[grpc.ServicerContext], Principal]

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")
#: Each open watch holds a server thread (sync gRPC), so their number is bounded separately
#: and the thread pool is sized max_workers + max_watchers: watchers never starve unary RPCs.
DEFAULT_MAX_WATCHERS = 32
#: One client (its x-actor-id, else its peer address) may hold at most this many of them, so
#: a client that opens streams and never reads cannot take every slot.
DEFAULT_MAX_WATCHERS_PER_CLIENT = 8
#: How much of an error message the per-request log line keeps.
LOG_ERROR_CHARS = 300
_OK = grpc.StatusCode.OK
#: The largest N of ``--request-log sample:N``: one line per million calls.
MAX_SAMPLE = 1_000_000


@dataclass(frozen=True)
class CallOptions:
    """What a caller says in metadata: who it is, and how a write should behave."""

    actor: str = ""
    expected_version: str = ""
    request_id: str = ""
    dry_run: bool = False
    caused_by: str = ""
    cascade: bool = False

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
        dry_run = _flag(found, DRY_RUN_HEADER)
        cascade = _flag(found, CASCADE_HEADER)
        limits.check((name, found.get(name, ""), bound) for name, bound in _HEADER_BOUNDS)
        return cls(
            actor=found.get(ACTOR_HEADER, ""),
            expected_version=found.get(IF_MATCH_HEADER, ""),
            request_id=found.get(REQUEST_ID_HEADER, ""),
            dry_run=dry_run,
            caused_by=found.get(CAUSED_BY_HEADER, ""),
            cascade=cascade,
        )


def _flag(found: dict[str, str], header: str) -> bool:
    value = found.get(header, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise InvalidArgument.for_field(
            header, f"must be true or false, not {quote(value)}", f"header.{header}"
        )
    return value in _TRUE


_NO_OPTIONS = CallOptions()
_HEADERS = frozenset(
    {ACTOR_HEADER, IF_MATCH_HEADER, REQUEST_ID_HEADER, DRY_RUN_HEADER, CAUSED_BY_HEADER, CASCADE_HEADER}
)
_HEADER_BOUNDS = (
    (ACTOR_HEADER, limits.MAX_ACTOR_BYTES),
    (REQUEST_ID_HEADER, limits.MAX_REQUEST_ID_BYTES),
    (CAUSED_BY_HEADER, limits.MAX_CAUSED_BY_BYTES),
    (IF_MATCH_HEADER, limits.MAX_VERSION_BYTES),
)


def authenticated(
    authenticate: Authenticator | None, log: logging.Logger, method: str, context: grpc.ServicerContext
) -> Principal | None:
    """Who is calling ``method`` (None without authentication: a trusted caller). A refusal
    is logged at WARNING with the method, the peer and the authenticator's ``reason`` (never
    the credential), then raised: the client learns only what it needs."""
    if authenticate is None:
        return None
    try:
        return authenticate(context)
    except Unauthenticated as exc:
        reason = str(getattr(exc, "reason", "")) or str(exc)
        log.warning(
            "unauthenticated", extra={"fields": {"method": method, "peer": context.peer(), "reason": reason}}
        )
        raise


def _line(method: str, code: grpc.StatusCode, start: float, error: str) -> dict[str, object]:
    """The head of a request's log line: method, code, duration, and the error message of a
    failed call (its first LOG_ERROR_CHARS characters); the caller adds its fields."""
    line: dict[str, object] = {
        "method": method,
        "code": code.name,
        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
    }
    if error:
        line["error"] = error if len(error) <= LOG_ERROR_CHARS else error[:LOG_ERROR_CHARS] + "..."
    return line


def _log_rpc(log: logging.Logger, line: dict[str, object], *, deferrable: bool = False) -> None:
    """Write the one structured line of a request. The record is made and handed to the
    handlers directly: ``Logger.info`` would also walk the stack for the caller's file and
    line, which no request line shows. ``deferrable`` (a successful call's line) tells a
    handler it may write the line a moment later, batched with others; an error's line and
    a watch's are not."""
    if not log.isEnabledFor(logging.INFO):  # handle() itself does not look at the level
        return
    extra = {"fields": line, "deferrable": deferrable}
    log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, "rpc", (), None, extra=extra))


@dataclass(frozen=True)
class RequestLog:
    """Which requests get their log line: ``all`` (``every`` 1), ``errors`` (0: only calls
    that end with a code other than OK), or ``sample:N`` (every Nth successful call, plus
    every error). Errors are always logged; so are refusals (the ``unauthenticated``
    WARNING) and watch streams, whatever the setting. A sampled line carries
    ``"sample": N``: it stands for N calls."""

    every: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.every <= MAX_SAMPLE:
            raise ValueError(f"RequestLog.every must be in 0..{MAX_SAMPLE:,}, not {self.every}")

    @classmethod
    def parse(cls, text: str) -> RequestLog:
        """``all``, ``errors`` or ``sample:N`` (1 <= N <= MAX_SAMPLE; ``sample:1`` is ``all``);
        ValueError saying what is allowed otherwise."""
        spelled = text.strip().lower()
        if spelled == "all":
            return cls(1)
        if spelled == "errors":
            return cls(0)
        head, _, count = spelled.partition(":")
        if head == "sample" and count.isascii() and count.isdigit() and 1 <= int(count) <= MAX_SAMPLE:
            return cls(int(count))
        raise ValueError(f"{text!r} is not all, errors or sample:N (N in 1..{MAX_SAMPLE:,})")

    def __str__(self) -> str:
        return "all" if self.every == 1 else "errors" if self.every == 0 else f"sample:{self.every}"


#: The default: a line for every request.
DEFAULT_REQUEST_LOG = RequestLog()


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


def _refusing(
    behavior: Callable[..., Any], request_streaming: bool, guard: Callable[[grpc.ServicerContext], None]
) -> Callable[..., Any]:
    """``behavior`` of a servicer that does not know :class:`Undecodable` (health,
    reflection): ``guard`` runs first (authentication, when the servicer needs it); then a
    body that does not parse ends the call with INVALID_ARGUMENT."""

    def check(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return _decoded(request)
        except InvalidArgument as exc:
            context.abort_with_status(to_status(exc))  # raises: ends the RPC with that status
            raise  # unreachable

    if request_streaming:

        def stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            guard(context)
            return behavior((check(request, context) for request in requests), context)

        return stream

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        guard(context)
        return behavior(check(request, context), context)

    return unary


_MAKE_HANDLER = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _add(server: grpc.Server, service: ServiceDescriptor, behaviors: dict[str, Callable[..., Any]]) -> None:
    """Register ``behaviors[method name]`` for every method of ``service``, as the generated
    ``add_*_to_server`` would, but with a request decoder that does not raise."""
    handlers = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        make: Any = _MAKE_HANDLER[method.client_streaming, method.server_streaming]
        handlers[method.name] = make(
            behaviors[method.name],
            request_deserializer=_lenient(request_type),
            response_serializer=response_type.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


def register(
    server: grpc.Server,
    servicer: object,
    service: ServiceDescriptor,
    *,
    authenticate: Authenticator | None = None,
    log: logging.Logger | None = None,
) -> None:
    """Register a servicer that does not know :class:`Undecodable` (health, reflection): a
    body that does not parse ends its call with INVALID_ARGUMENT before it runs. With
    ``authenticate``, a caller it refuses is UNAUTHENTICATED before anything else (refusals
    logged on ``log``), as for the kinds' services; reflection describes them, health does not."""
    behaviors = {}
    for m in service.methods:
        path = f"/{service.full_name}/{m.name}"
        behaviors[m.name] = _refusing(
            getattr(servicer, m.name), m.client_streaming, _guard(authenticate, log, path)
        )
    _add(server, service, behaviors)


def _guard(
    authenticate: Authenticator | None, log: logging.Logger | None, method: str
) -> Callable[[grpc.ServicerContext], None]:
    def guard(context: grpc.ServicerContext) -> None:
        if authenticate is None:
            return
        try:
            authenticated(authenticate, log or logging.getLogger("pipeline.rpc"), method, context)
        except Unauthenticated as exc:
            context.abort_with_status(to_status(exc))  # raises: ends the RPC with that status

    return guard


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
    """Runs one operation for one RPC; the only place RPC errors are mapped and logged.

    Metadata: ``x-actor-id`` (audit), ``x-request-id`` (idempotent retries), ``x-if-match``
    (expected version), ``x-dry-run: true`` (validate and report, write nothing),
    ``x-caused-by`` (recorded as the change's cause), ``x-cascade: true`` (a delete takes
    its dependents along, where the kind allows it)."""

    def __init__(
        self,
        resources: Resources,
        *,
        max_watchers: int = DEFAULT_MAX_WATCHERS,
        max_watchers_per_client: int = DEFAULT_MAX_WATCHERS_PER_CLIENT,
        log: logging.Logger | None = None,
        authenticate: Authenticator | None = None,
        request_log: RequestLog = DEFAULT_REQUEST_LOG,
    ) -> None:
        self.resources = resources
        #: Who is calling (raises Unauthenticated); None: no authentication, every caller
        #: is trusted as in-process code is.
        self.authenticate = authenticate
        self.max_watchers = max_watchers
        self.log = log or logging.getLogger("pipeline.rpc")
        #: Which successful unary calls are logged (errors always are): every one when
        #: ``_every`` is 1, none when 0, else each one ``next(_count)`` finds divisible by it.
        #: ``next`` on an ``itertools.count`` is one call into C under the GIL, so threads
        #: never draw the same number, and the count (not chance) makes the sample testable.
        self.request_log = request_log
        self._every = request_log.every
        self._count = itertools.count()
        self._watch_slots = _WatchSlots(max_watchers, max_watchers_per_client)

    def unary(
        self, kind: str, operation: str, method: str, request: Message, context: grpc.ServicerContext
    ) -> Any:
        """Run ``kind``'s ``operation`` for the RPC ``method`` (``/service/name``, for the log)."""
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        options = _NO_OPTIONS
        error = ""
        principal: Principal | None = None
        try:
            principal = authenticated(self.authenticate, self.log, method, context)
            options = CallOptions.of(context)
            ctx = self.resources.run(
                kind,
                operation,
                _decoded(request),
                actor=options.actor,
                request_id=options.request_id,
                expected_version=options.expected_version,
                dry_run=options.dry_run,
                caused_by=options.caused_by,
                cascade=options.cascade,
                principal=principal,
            )
            return ctx[RESPONSE]
        except Exception as exc:
            status = to_status(exc)
            code, error = status.code, status.details
            context.abort_with_status(status)  # raises: ends the RPC with that status
            raise  # unreachable: keeps type checkers and readers honest
        finally:
            # build the line only when it will be written; with ``all`` an OK call costs one
            # comparison more than before, a skipped one a counter step and no line at all
            every = self._every
            if (
                code is not _OK or every == 1 or (every and next(self._count) % every == 0)
            ) and self.log.isEnabledFor(logging.INFO):
                line = _line(method, code, start, error)
                line["actor"] = options.actor or "system"
                if principal is not None:
                    line["principal"] = principal.id
                if options.request_id:
                    line["request_id"] = options.request_id
                if options.dry_run:
                    line["dry_run"] = True
                if code is _OK and every > 1:
                    line["sample"] = every
                _log_rpc(self.log, line, deferrable=code is _OK)

    def watch(self, kind: str, method: str, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        """The streaming twin of :meth:`unary`: same error mapping, one log line at the end.

        Ends when the client goes away or the server shuts down (``add_callback`` stops the
        watch loop promptly), which is logged CANCELLED. At most ``max_watchers`` run at
        once, and ``max_watchers_per_client`` per client: its principal when authenticated,
        else its ``x-actor-id``, else its peer address (without authentication this stops a
        buggy client, not a hostile one, who can pick another actor id); more is
        RESOURCE_EXHAUSTED naming the limit.
        """
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        error = ""
        sent = 0
        stop = threading.Event()
        client = ""
        options = _NO_OPTIONS
        principal: Principal | None = None

        def on_done() -> None:
            stop.set()
            self.resources.hub.wake()

        context.add_callback(on_done)
        try:
            principal = authenticated(self.authenticate, self.log, method, context)
            options = CallOptions.of(context)
            watch_request = _decoded(request)
            key = _watch_client(principal, options, context)
            self._watch_slots.acquire(key)
            client = key  # from here on, the slot is ours to release
            items = self.resources.watch(
                kind, watch_request, stop=stop, principal=principal, actor=options.actor
            )
            for item in items:
                if principal is not None and not item.HasField("change"):
                    _still(principal, authenticated(self.authenticate, self.log, method, context))
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
            line = _line(method, code, start, error)
            line["actor"] = options.actor or "system"
            if principal is not None:
                line["principal"] = principal.id
            line["sent"] = sent
            _log_rpc(self.log, line)


def _still(principal: Principal, now: Principal | None) -> None:
    """A watch is authorized when it opens; at each bookmark its caller is authenticated
    again (a removed token, an expired JWT: UNAUTHENTICATED), and a caller whose roles
    changed is sent away to watch again under its new ones (ABORTED, resumable)."""
    if now != principal:
        raise Aborted("the caller's credentials or roles changed: watch again from the last revision")


def _watch_client(principal: Principal | None, options: CallOptions, context: grpc.ServicerContext) -> str:
    """Whose watch slots a watch takes: the authenticated principal's (who cannot pick
    another), else the x-actor-id's, else the connection's."""
    if principal is not None:
        return f"principal:{principal.id}"
    return f"actor:{options.actor}" if options.actor else f"peer:{context.peer()}"


def _behavior(invoke: RpcInvoker, kind: str, service: ServiceDescriptor, method: MethodDescriptor) -> Any:
    path = f"/{service.full_name}/{method.name}"
    if method.server_streaming:  # KindService has checked: the change feed's watch

        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            return invoke.watch(kind, path, request, context)

        return stream

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        return invoke.unary(kind, method.name, path, request, context)

    return unary


def serve_kind(server: grpc.Server, invoke: RpcInvoker, service: KindService) -> list[str]:
    """Serve every gRPC service of ``service`` (each method by the operation of its name);
    returns the full service names, for health and reflection."""
    names = []
    for descriptor in service.services:
        behaviors = {m.name: _behavior(invoke, service.kind.name, descriptor, m) for m in descriptor.methods}
        _add(server, descriptor, behaviors)
        names.append(descriptor.full_name)
    return names


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
