"""A benchmark server process: ``python -m bench.target sessions|echo DATA_DIR CPU``.

``sessions`` is the real server (same start_server as production); ``echo`` is the same
gRPC server model and thread pool with one handler that returns its request, the ceiling
any handler on this machine can reach. Prints the bound address on stdout, then serves
until its stdin closes.
"""

from __future__ import annotations

import sys
from concurrent import futures
from typing import Any

import grpc

from bench.stats import pin
from stigmer_sessions import SessionController
from stigmer_sessions.api import Session
from stigmer_sessions.grpc_server import DEFAULT_MAX_WORKERS, start_server

ECHO_METHOD = "/bench.Echo/echo"


def _echo_server() -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=DEFAULT_MAX_WORKERS))

    def echo(request: Session, context: Any) -> Session:
        return request

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo",
        {
            "echo": grpc.unary_unary_rpc_method_handler(
                echo, request_deserializer=Session.FromString, response_serializer=Session.SerializeToString
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def main() -> None:
    mode, data_dir, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pinned = pin(cpu)
    if mode == "echo":
        server, port = _echo_server()
        print(f"127.0.0.1:{port} {pinned}", flush=True)
        sys.stdin.read()
        server.stop(None)
        return
    durable = mode == "sessions-durable"
    with SessionController(data_dir, durable=durable) as controller:
        running = start_server(controller, "127.0.0.1:0")
        print(f"{running.address} {pinned}", flush=True)
        sys.stdin.read()
        running.stop(None)


if __name__ == "__main__":
    main()
