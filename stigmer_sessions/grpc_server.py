"""Serving a controller's kinds over gRPC, plus health and reflection.

No servicer is written by hand: :func:`pipeline.grpc_adapter.serve_kind` serves every method
of each kind's gRPC services by the operation of the same name, through one
:class:`~pipeline.grpc_adapter.RpcInvoker` (the error seam, the call options and the log
line). Health and reflection are registered the same way, so a body that does not parse is
INVALID_ARGUMENT there too.
"""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection as reflection_module
from grpc_reflection.v1alpha import reflection_pb2

from pipeline.grpc_adapter import (
    ACTOR_HEADER,
    CASCADE_HEADER,
    CAUSED_BY_HEADER,
    DEFAULT_MAX_WATCHERS,
    DEFAULT_MAX_WATCHERS_PER_CLIENT,
    DEFAULT_REQUEST_LOG,
    DRY_RUN_HEADER,
    IF_MATCH_HEADER,
    REQUEST_ID_HEADER,
    Authenticator,
    HealthServicer,
    RequestLog,
    RpcInvoker,
    register,
    serve_kind,
)
from stigmer_sessions.controller.session_controller import SessionController
from stigmer_sessions.session import SERVICES as SESSION_SERVICES
from stigmer_sessions.tls import ServerTls

__all__ = [
    "ACTOR_HEADER",
    "CASCADE_HEADER",
    "CAUSED_BY_HEADER",
    "DEFAULT_MAX_WATCHERS",
    "DEFAULT_MAX_WATCHERS_PER_CLIENT",
    "DEFAULT_MAX_WORKERS",
    "DEFAULT_REQUEST_LOG",
    "DRY_RUN_HEADER",
    "IF_MATCH_HEADER",
    "REQUEST_ID_HEADER",
    "RequestLog",
    "RunningServer",
    "start_server",
]

COMMAND_SERVICE, QUERY_SERVICE, MESSAGE_SERVICE, CHANGE_SERVICE = (s.full_name for s in SESSION_SERVICES)
#: Threads that unary RPCs always have (the pool adds max_watchers more, which unary calls
#: also take while no watch holds them). 32 by measurement: a durable write joins the group
#: commit of the threads writing with it, so at 64 clients 8 threads made 0.65-0.70x the
#: creates/s of 32 to 64, and reads were the same from 4 to 64 (docs/benchmarks.md,
#: "One-core gRPC path").
DEFAULT_MAX_WORKERS = 32

_log = logging.getLogger("stigmer_sessions.rpc")


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
    request_log: RequestLog = DEFAULT_REQUEST_LOG,
    reuse_port: bool = False,
    authenticator: Authenticator | None = None,
    tls: ServerTls | None = None,
    reflection: bool = True,
) -> RunningServer:
    """Bind ``address`` (port 0 picks a free port), register every service, and start.

    SO_REUSEPORT is off unless ``reuse_port``: with it, grpc would let a second server bind
    a port already in use and silently share its traffic. Only ``--workers`` wants that.
    The receive limit follows the controller's size limits (``SessionConfig.receive_limit``):
    with gRPC's fixed 4 MiB, a larger configured limit could never be reached.
    ``authenticator`` establishes every caller of the kinds' services and of reflection
    (none: all trusted); health stays open. ``tls`` serves TLS only (mutual TLS if it has a
    client CA), with credentials that pick up ``tls.reload()`` at the next handshake; without
    it the port is plaintext. ``reflection`` False leaves server reflection out altogether
    (its methods are UNIMPLEMENTED). ``request_log`` says which successful calls get their
    INFO line (errors always do).
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
        controller.resources,
        max_watchers=max_watchers,
        max_watchers_per_client=max_watchers_per_client,
        log=_log,
        authenticate=authenticator,
        request_log=request_log,
    )
    names = [
        name for kind in controller.resources.kinds.values() for name in serve_kind(server, invoke, kind)
    ]
    health_servicer = HealthServicer()
    for name in ("", *names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    register(server, health_servicer, health_pb2.DESCRIPTOR.services_by_name["Health"])
    # health stays open (load balancers and orchestrators probe it without credentials);
    # reflection describes every service, so it asks for the same credentials they do
    if reflection:
        reflection_servicer = reflection_module.ReflectionServicer(
            (*names, health.SERVICE_NAME, reflection_module.SERVICE_NAME)
        )
        descriptor = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]
        register(server, reflection_servicer, descriptor, authenticate=authenticator, log=_log)
    try:
        port = (
            server.add_insecure_port(address)
            if tls is None
            else server.add_secure_port(address, tls.credentials())
        )
    except RuntimeError as exc:  # grpc raises this when the address cannot be bound
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    if not port:
        raise OSError(f"cannot listen on {address}: address unavailable")
    server.start()
    host = address.rsplit(":", 1)[0]
    return RunningServer(server, f"{host}:{port}", port, health_servicer)
