"""The ``stigmer-sessions`` command (and ``python server.py``): serve sessions over gRPC."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ResourceError
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.watch import DEFAULT_BOOKMARK_INTERVAL_S
from stigmer_sessions.compactor import (
    DEFAULT_INTERVAL_S,
    DEFAULT_RETAIN_AGE_S,
    DEFAULT_RETAIN_CHANGES,
    ChangeCompactor,
)
from stigmer_sessions.controller.session_controller import SessionController
from stigmer_sessions.grpc_server import DEFAULT_MAX_WATCHERS, DEFAULT_MAX_WORKERS, start_server

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATA_DIR = "./data"
_COMMANDS = ("serve",)
_log = logging.getLogger("stigmer_sessions")


@dataclass(frozen=True)
class ServeCompaction:
    """Retention of the change feed, enforced by a background compactor."""

    keep_revisions: int | None = DEFAULT_RETAIN_CHANGES
    max_age_s: float | None = DEFAULT_RETAIN_AGE_S
    interval_s: float = DEFAULT_INTERVAL_S


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep by eye and to ship to a log store."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stigmer-sessions", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the Session gRPC API (default)")
    serve.add_argument(
        "--address",
        default=os.environ.get("STIGMER_SESSIONS_ADDRESS", DEFAULT_ADDRESS),
        help="HOST:PORT to listen on; port 0 picks a free one (env STIGMER_SESSIONS_ADDRESS; "
        f"default {DEFAULT_ADDRESS})",
    )
    serve.add_argument(
        "--data-dir",
        default=os.environ.get("STIGMER_SESSIONS_DATA_DIR", DEFAULT_DATA_DIR),
        help=f"LMDB directory (env STIGMER_SESSIONS_DATA_DIR; default {DEFAULT_DATA_DIR})",
    )
    serve.add_argument(
        "--durability",
        choices=("durable", "relaxed"),
        default="durable",
        help="durable: fsync every commit (survives a machine crash); relaxed: leave flushing to the OS",
    )
    serve.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS, help="threads for unary RPCs")
    serve.add_argument(
        "--max-watchers",
        type=int,
        default=DEFAULT_MAX_WATCHERS,
        help="concurrent watch streams (each holds a thread; more are RESOURCE_EXHAUSTED)",
    )
    serve.add_argument(
        "--bookmark-interval",
        type=float,
        default=DEFAULT_BOOKMARK_INTERVAL_S,
        metavar="SECONDS",
        help="a quiet watch sends a bookmark this often (default 5)",
    )
    serve.add_argument(
        "--retain-changes",
        type=int,
        default=DEFAULT_RETAIN_CHANGES,
        metavar="N",
        help="keep at most the newest N changes in the change feed (default 1,000,000)",
    )
    serve.add_argument(
        "--retain-changes-age",
        type=float,
        default=DEFAULT_RETAIN_AGE_S,
        metavar="SECONDS",
        help="drop changes older than this (default 604800: 7 days)",
    )
    serve.add_argument(
        "--compact-interval", type=float, default=DEFAULT_INTERVAL_S, metavar="SECONDS", help="(default 60)"
    )
    serve.add_argument(
        "--request-id-ttl",
        type=float,
        default=DEFAULT_TTL_NS / 1e9,
        metavar="SECONDS",
        help="how long an x-request-id is remembered for idempotent retries (default 86400: 24 h)",
    )
    serve.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default=os.environ.get("STIGMER_SESSIONS_LOG_LEVEL", "INFO").upper(),
        help="DEBUG also logs every pipeline step with its duration (env STIGMER_SESSIONS_LOG_LEVEL)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in _COMMANDS:
        args_list.insert(0, "serve")  # serve is the default command
    args = _parser().parse_args(args_list)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)
    return serve(
        args.address,
        args.data_dir,
        durable=args.durability == "durable",
        max_workers=args.max_workers,
        request_id_ttl_s=args.request_id_ttl,
        max_watchers=args.max_watchers,
        bookmark_interval_s=args.bookmark_interval,
        compactor=ServeCompaction(args.retain_changes, args.retain_changes_age, args.compact_interval),
    )


def serve(
    address: str,
    data_dir: str,
    *,
    durable: bool = True,
    max_workers: int = DEFAULT_MAX_WORKERS,
    request_id_ttl_s: float = DEFAULT_TTL_NS / 1e9,
    max_watchers: int = DEFAULT_MAX_WATCHERS,
    bookmark_interval_s: float = DEFAULT_BOOKMARK_INTERVAL_S,
    compactor: ServeCompaction | None = None,
) -> int:
    """Run until SIGTERM/SIGINT, then drain in-flight requests and close the store."""
    try:
        controller = SessionController(
            data_dir,
            durable=durable,
            request_id_ttl_s=request_id_ttl_s,
            bookmark_interval_s=bookmark_interval_s,
        )
    except ResourceError as exc:
        print(f"stigmer-sessions: {exc.message}", file=sys.stderr)
        return 1
    try:
        try:
            running = start_server(controller, address, max_workers=max_workers, max_watchers=max_watchers)
        except OSError as exc:
            print(f"stigmer-sessions: {exc}", file=sys.stderr)
            return 1
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        _log.info(
            "serving",
            extra={
                "fields": {
                    "address": running.address,
                    "data_dir": os.path.abspath(data_dir),
                    "durability": "durable" if durable else "relaxed",
                }
            },
        )
        settings = compactor or ServeCompaction()
        compaction = ChangeCompactor(
            controller,
            keep_revisions=settings.keep_revisions,
            max_age_s=settings.max_age_s,
            interval_s=settings.interval_s,
        ).start()
        stop.wait()
        _log.info("shutting down", extra={"fields": {"address": running.address}})
        running.stop()
        compaction.stop()
    finally:
        controller.close()
    return 0
