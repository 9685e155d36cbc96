"""A benchmark server process: ``python -m bench.target MODE DATA_DIR CPU``.

MODE is ``echo`` (the same gRPC server model and thread pool with one handler that returns
its request: the ceiling any handler can reach here), ``durable`` (the real server),
``durable-nogc`` (durable without group commit) or ``relaxed``. Prints the bound address
and how it was pinned on stdout, then serves until its stdin closes.
"""

from __future__ import annotations

import sys
from concurrent import futures
from typing import Any

import grpc

from bench.stats import pin
from pipeline.storage.lmdb import LmdbStorage
from stigmer_sessions import SessionController
from stigmer_sessions.api import Session
from stigmer_sessions.grpc_server import DEFAULT_MAX_WATCHERS, DEFAULT_MAX_WORKERS, start_server

ECHO_METHOD = "/bench.Echo/echo"


def _echo_server() -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=DEFAULT_MAX_WORKERS + DEFAULT_MAX_WATCHERS))

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
    store = LmdbStorage(
        data_dir, durable=mode != "relaxed", group_commit=False if mode == "durable-nogc" else None
    )
    controller = SessionController(store=store)
    running = start_server(controller, "127.0.0.1:0")
    print(f"{running.address} {pinned}", flush=True)
    sys.stdin.read()
    running.stop(None)
    store.close()


if __name__ == "__main__":
    main()
