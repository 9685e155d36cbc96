"""Serving the SessionController over gRPC: thin servicers, health, reflection.

The servicers only name the operation; :class:`RpcInvoker` is the single seam that runs it,
reads the caller from metadata, turns errors into statuses (via
:func:`pipeline.grpc_status.to_status`) and logs one structured line per request.
"""

from __future__ import annotations

import logging
import time
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from pipeline.errors import InvalidArgument
from pipeline.grpc_status import to_status
from pipeline.keys import RESPONSE
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    command_pb2,
    command_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
)
from stigmer_sessions.controller.session_controller import SessionController

ACTOR_HEADER = "x-actor-id"
IF_MATCH_HEADER = "x-if-match"
REQUEST_ID_HEADER = "x-request-id"
DRY_RUN_HEADER = "x-dry-run"
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")
COMMAND_SERVICE = command_pb2.DESCRIPTOR.services_by_name["SessionCommandController"].full_name
QUERY_SERVICE = query_pb2.DESCRIPTOR.services_by_name["SessionQueryController"].full_name
DEFAULT_MAX_WORKERS = 8

_log = logging.getLogger("stigmer_sessions.rpc")


@dataclass(frozen=True)
class CallOptions:
    """What a caller says in metadata: who it is, and how a write should behave."""

    actor: str = ""
    expected_version: str = ""
    request_id: str = ""
    dry_run: bool = False

    @classmethod
    def of(cls, context: grpc.ServicerContext) -> CallOptions:
        headers = {key: str(value) for key, value in context.invocation_metadata() or ()}
        dry_run = headers.get(DRY_RUN_HEADER, "").strip().lower()
        if dry_run not in _TRUE + _FALSE:
            raise InvalidArgument.for_field(
                DRY_RUN_HEADER, f"must be true or false, not {dry_run!r}", "header.x-dry-run"
            )
        return cls(
            actor=headers.get(ACTOR_HEADER, ""),
            expected_version=headers.get(IF_MATCH_HEADER, ""),
            request_id=headers.get(REQUEST_ID_HEADER, ""),
            dry_run=dry_run in _TRUE,
        )


class RpcInvoker:
    """Runs one controller operation for one RPC; the only place RPC errors are mapped.

    Metadata: ``x-actor-id`` (audit), ``x-request-id`` (idempotent retries), ``x-if-match``
    (expected version), ``x-dry-run: true`` (validate and report, write nothing)."""

    def __init__(self, controller: SessionController) -> None:
        self.controller = controller

    def __call__(self, service: str, operation: str, request: Message, context: grpc.ServicerContext) -> Any:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        options = CallOptions()
        try:
            options = CallOptions.of(context)
            ctx = self.controller.run(
                operation,
                request,
                actor=options.actor,
                request_id=options.request_id,
                expected_version=options.expected_version,
                dry_run=options.dry_run,
            )
            return ctx[RESPONSE]
        except Exception as exc:
            status = to_status(exc)
            code = status.code
            context.abort_with_status(status)  # raises: ends the RPC with that status
            raise  # unreachable: keeps type checkers and readers honest
        finally:
            _log.info(
                "rpc",
                extra={
                    "fields": {
                        "method": f"/{service}/{operation}",
                        "code": code.name,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                        "actor": options.actor or "system",
                        **({"request_id": options.request_id} if options.request_id else {}),
                        **({"dry_run": True} if options.dry_run else {}),
                    }
                },
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


@dataclass
class RunningServer:
    """A started server: its bound address and what is needed to stop it gracefully."""

    server: grpc.Server
    address: str
    port: int
    health: health.HealthServicer

    def stop(self, grace: float | None = 5.0) -> None:
        """Report NOT_SERVING, finish in-flight RPCs (up to ``grace`` seconds), then stop."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_server(
    controller: SessionController, address: str = "127.0.0.1:50051", *, max_workers: int = DEFAULT_MAX_WORKERS
) -> RunningServer:
    """Bind ``address`` (port 0 picks a free port), register every service, and start."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rpc"))
    invoke = RpcInvoker(controller)
    command_pb2_grpc.add_SessionCommandControllerServicer_to_server(  # type: ignore[no-untyped-call]
        SessionCommandServicer(invoke), server
    )
    query_pb2_grpc.add_SessionQueryControllerServicer_to_server(  # type: ignore[no-untyped-call]
        SessionQueryServicer(invoke), server
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", COMMAND_SERVICE, QUERY_SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (COMMAND_SERVICE, QUERY_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc raises this when the address cannot be bound
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    if not port:
        raise OSError(f"cannot listen on {address}: address unavailable")
    server.start()
    host = address.rsplit(":", 1)[0]
    return RunningServer(server, f"{host}:{port}", port, health_servicer)
