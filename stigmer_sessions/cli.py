"""The ``stigmer-sessions`` command (and ``python server.py``): serve sessions over gRPC, and
look after the store (``check``, ``reindex``, ``export``, ``import``, ``migrate``)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pipeline.errors import ResourceError
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES
from pipeline.storage import CheckReport
from pipeline.storage_url import POSTGRES_SCHEMES
from pipeline.watch import DEFAULT_BOOKMARK_INTERVAL_S
from stigmer_sessions import workers
from stigmer_sessions.compactor import (
    DEFAULT_INTERVAL_S,
    DEFAULT_RETAIN_AGE_S,
    DEFAULT_RETAIN_CHANGES,
    ChangeCompactor,
)
from stigmer_sessions.config import (
    BUILTIN_LIFECYCLES,
    DEFAULT_MAX_ANNOTATIONS_BYTES,
    DEFAULT_MAX_MESSAGE_METADATA_BYTES,
    DEFAULT_MAX_SESSION_BYTES,
    DEFAULT_MAX_SPEC_METADATA_BYTES,
    SessionConfig,
    load_lifecycle,
)
from stigmer_sessions.controller.session_controller import SessionController
from stigmer_sessions.grpc_server import (
    DEFAULT_MAX_WATCHERS,
    DEFAULT_MAX_WATCHERS_PER_CLIENT,
    DEFAULT_MAX_WORKERS,
    start_server,
)
from stigmer_sessions.steps.append_message import DEFAULT_MAX_CONTENT_BYTES

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATA_DIR = "./data"
STORE_ENV = "STIGMER_SESSIONS_STORE"
DEFAULT_PG_POOL_SIZE = 8
DEFAULT_PG_STATEMENT_TIMEOUT_S = 30.0
DEFAULT_PG_CONNECT_TIMEOUT_S = 10.0
#: The issue's promise: an unreachable database is reported within at most 30 s.
MAX_PG_CONNECT_TIMEOUT_S = 30.0
#: More connections than this per process only queue in PostgreSQL (each is a backend process).
MAX_PG_POOL_SIZE = 1000
_log = logging.getLogger("stigmer_sessions")


@dataclass(frozen=True)
class StoreOptions:
    """Which store to open and how: the URL (``lmdb://...`` or a ``postgresql://`` DSN) and
    the PostgreSQL options (ignored for LMDB). The URL may carry a password: it is only
    ever handed to the backend, never logged (logs show the storage's ``description``)."""

    url: str
    pool_size: int = DEFAULT_PG_POOL_SIZE
    statement_timeout_s: float = DEFAULT_PG_STATEMENT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_PG_CONNECT_TIMEOUT_S
    migrate: bool = True

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike[str], **options: Any) -> StoreOptions:
        return cls(f"lmdb://{quote(os.path.abspath(data_dir))}", **options)

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(POSTGRES_SCHEMES)

    @property
    def data_dir(self) -> str | None:
        """The LMDB directory (absolute), or None for PostgreSQL."""
        if self.is_postgres:
            return None
        from urllib.parse import unquote  # noqa: PLC0415

        return os.path.abspath(os.path.expanduser(unquote(self.url.removeprefix("lmdb://"))))

    @property
    def description(self) -> str:
        """The store for logs and messages, without any password."""
        if self.is_postgres:
            from pipeline.storage.postgres.storage import describe  # noqa: PLC0415 - psycopg, lazily

            return describe(self.url)[1]
        return f"lmdb://{self.data_dir}"

    def backend_options(self, *, migrate: bool | None = None) -> dict[str, Any]:
        """What ``SessionController(store_options=...)`` passes to the backend."""
        if not self.is_postgres:
            return {}
        return {
            "pool_size": self.pool_size,
            "statement_timeout_s": self.statement_timeout_s,
            "connect_timeout_s": self.connect_timeout_s,
            "migrate": self.migrate if migrate is None else migrate,
        }

    def flags(self) -> list[str]:
        """The options as flags for a worker process (the URL goes by environment: a
        password on a command line is visible to every user of the machine in ``ps``)."""
        out = ["--pg-pool-size", str(self.pool_size)]
        out += ["--pg-statement-timeout", str(self.statement_timeout_s)]
        out += ["--pg-connect-timeout", str(self.connect_timeout_s)]
        return out if self.migrate else [*out, "--no-migrate"]


@dataclass(frozen=True)
class ServeCompaction:
    """Retention of the change feed, enforced by a background compactor."""

    keep_revisions: int | None = DEFAULT_RETAIN_CHANGES
    max_age_s: float | None = DEFAULT_RETAIN_AGE_S
    interval_s: float = DEFAULT_INTERVAL_S


@dataclass(frozen=True)
class ServeOptions:
    address: str = DEFAULT_ADDRESS
    durable: bool = True
    max_workers: int = DEFAULT_MAX_WORKERS
    max_watchers: int = DEFAULT_MAX_WATCHERS
    max_watchers_per_client: int = DEFAULT_MAX_WATCHERS_PER_CLIENT
    request_id_ttl_s: float = DEFAULT_TTL_NS / 1e9
    bookmark_interval_s: float = DEFAULT_BOOKMARK_INTERVAL_S
    compaction: ServeCompaction = field(default_factory=ServeCompaction)
    config: SessionConfig = field(default_factory=SessionConfig)
    recover: bool = True
    #: Set in each process of ``--workers N``: which one it is (0 runs recovery and
    #: compaction), the pipe to report readiness on, and whether to share the port.
    worker_index: int | None = None
    ready_fd: int | None = None
    reuse_port: bool = False
    watch_poll_s: float | None = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep by eye and to ship to a log store."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _positive_int(text: str) -> int:
    """argparse ``type`` for counts and byte limits: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _response_bytes(text: str) -> int:
    """``--max-response-bytes``: an integer of at least MIN_RESPONSE_BYTES."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < MIN_RESPONSE_BYTES:
        raise argparse.ArgumentTypeError(f"{value} is below the minimum of {MIN_RESPONSE_BYTES} bytes")
    return value


def _seconds(lo: float, hi: float) -> Callable[[str], float]:
    """argparse ``type``: a number of seconds with ``lo < value <= hi``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not lo < value <= hi:  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be more than {lo:g} and at most {hi:g}, not {text}")
        return value

    return parse


def _pool_size(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_PG_POOL_SIZE:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PG_POOL_SIZE}, not {value}")
    return value


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    """Which store a command works on: every command takes the same flags."""
    where = parser.add_argument_group("store")
    where.add_argument(
        "--data-dir",
        default=None,
        help=f"LMDB directory, short for --store lmdb://DIR (env STIGMER_SESSIONS_DATA_DIR; "
        f"default {DEFAULT_DATA_DIR})",
    )
    where.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help=f"lmdb:///path, or a PostgreSQL DSN postgresql://USER@HOST:PORT/DB (env {STORE_ENV}; "
        "not with --data-dir). Put a password in PGPASSWORD or ~/.pgpass rather than in the URL",
    )
    where.add_argument(
        "--pg-pool-size",
        type=_pool_size,
        default=DEFAULT_PG_POOL_SIZE,
        metavar="N",
        help=f"PostgreSQL connections per process (1..{MAX_PG_POOL_SIZE}; default {DEFAULT_PG_POOL_SIZE})",
    )
    where.add_argument(
        "--pg-statement-timeout",
        type=_seconds(0, 86400),
        default=DEFAULT_PG_STATEMENT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"PostgreSQL cancels a statement running longer (default {DEFAULT_PG_STATEMENT_TIMEOUT_S:g})",
    )
    where.add_argument(
        "--pg-connect-timeout",
        type=_seconds(0, MAX_PG_CONNECT_TIMEOUT_S),
        default=DEFAULT_PG_CONNECT_TIMEOUT_S,
        metavar="SECONDS",
        help="give up connecting to PostgreSQL after this long: at start, an unreachable database "
        f"is an error (at most {MAX_PG_CONNECT_TIMEOUT_S:g}; default {DEFAULT_PG_CONNECT_TIMEOUT_S:g})",
    )
    where.add_argument(
        "--no-migrate",
        dest="migrate",
        action="store_false",
        help="do not apply schema migrations at start (then an outdated schema is refused: run "
        "`stigmer-sessions migrate`)",
    )


def _store_options(args: argparse.Namespace) -> StoreOptions | str:
    """The store the parsed flags and the environment name, or a usage error's text.

    The command line beats the environment; ``--store`` with ``--data-dir`` is ambiguous
    (which one did the operator mean?) and refused; ``STIGMER_SESSIONS_STORE`` beats
    ``STIGMER_SESSIONS_DATA_DIR`` when both are set."""
    if args.store is not None and args.data_dir is not None:
        return "--store and --data-dir cannot be used together (--data-dir DIR means --store lmdb://DIR)"
    options: dict[str, Any] = {
        "pool_size": args.pg_pool_size,
        "statement_timeout_s": args.pg_statement_timeout,
        "connect_timeout_s": args.pg_connect_timeout,
        "migrate": args.migrate,
    }
    url = args.store if args.store is not None else None
    if url is None and args.data_dir is None:
        url = os.environ.get(STORE_ENV) or None
    if url is None:
        data_dir = args.data_dir or os.environ.get("STIGMER_SESSIONS_DATA_DIR") or DEFAULT_DATA_DIR
        return StoreOptions.for_data_dir(data_dir, **options)
    if not url.startswith(("lmdb://", *POSTGRES_SCHEMES)):
        scheme = url.split("://", 1)[0] if "://" in url else url
        return f"unknown store {scheme!r}: use lmdb:///path or postgresql://USER@HOST:PORT/DB"
    return StoreOptions(url, **options)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _store_arguments(common)
    common.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default=os.environ.get("STIGMER_SESSIONS_LOG_LEVEL", "INFO").upper(),
        help="DEBUG also logs every pipeline step with its duration (env STIGMER_SESSIONS_LOG_LEVEL)",
    )
    parser = argparse.ArgumentParser(prog="stigmer-sessions", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", parents=[common], help="serve the Session gRPC API (the default command)")
    serve.add_argument(
        "--address",
        default=os.environ.get("STIGMER_SESSIONS_ADDRESS", DEFAULT_ADDRESS),
        help="HOST:PORT to listen on; port 0 picks a free one (env STIGMER_SESSIONS_ADDRESS; "
        f"default {DEFAULT_ADDRESS})",
    )
    serve.add_argument(
        "--durability",
        choices=("durable", "relaxed"),
        default="durable",
        help="durable: fsync every commit (survives a machine crash); relaxed: leave flushing to the OS",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port (SO_REUSEPORT) and the store (default 1)",
    )
    serve.add_argument("--pin-cpus", action="store_true", help="with --workers: pin worker i to cpu i")
    serve.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS, help="threads for unary RPCs")
    serve.add_argument(
        "--max-watchers",
        type=int,
        default=DEFAULT_MAX_WATCHERS,
        help="concurrent watch streams (each holds a thread; more are RESOURCE_EXHAUSTED)",
    )
    serve.add_argument(
        "--lifecycle",
        default="default",
        help=f"session lifecycle: {', '.join(BUILTIN_LIFECYCLES)} or the path of a TOML definition",
    )
    serve.add_argument(
        "--max-sessions-per-org", type=int, default=None, metavar="N", help="(default: unlimited)"
    )
    serve.add_argument(
        "--max-sessions-per-owner", type=int, default=None, metavar="N", help="(default: unlimited)"
    )
    serve.add_argument(
        "--name-pattern",
        default=SessionConfig.name_pattern,
        help="name of a session created without one; {date} and {n} are filled in "
        f"(default {SessionConfig.name_pattern})",
    )
    serve.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_CONTENT_BYTES,
        help="message content limit (default 1 MiB); the server's gRPC receive limit follows the size limits",
    )
    for flag, default, what in (
        ("--max-message-metadata-bytes", DEFAULT_MAX_MESSAGE_METADATA_BYTES, "a message's metadata in total"),
        ("--max-annotations-bytes", DEFAULT_MAX_ANNOTATIONS_BYTES, "a session's annotations in total"),
        ("--max-spec-metadata-bytes", DEFAULT_MAX_SPEC_METADATA_BYTES, "a session's spec.metadata in total"),
        ("--max-session-bytes", DEFAULT_MAX_SESSION_BYTES, "a session as sent (serialized)"),
    ):
        serve.add_argument(
            flag, type=_positive_int, default=default, metavar="BYTES", help=f"{what} (default {default})"
        )
    serve.add_argument(
        "--max-watchers-per-client",
        type=_positive_int,
        default=DEFAULT_MAX_WATCHERS_PER_CLIENT,
        metavar="N",
        help="concurrent watch streams of one client (its x-actor-id, else its address; default "
        f"{DEFAULT_MAX_WATCHERS_PER_CLIENT}): without authentication this stops a buggy client, "
        "not a hostile one",
    )
    serve.add_argument(
        "--max-response-bytes",
        type=_response_bytes,
        default=DEFAULT_MAX_RESPONSE_BYTES,
        metavar="BYTES",
        help="pages and watch batches stop before this size, with at least one entry "
        f"(default {DEFAULT_MAX_RESPONSE_BYTES}: 3 MiB, under a default client's 4 MiB limit; "
        f"at least {MIN_RESPONSE_BYTES})",
    )
    serve.add_argument(
        "--no-recovery",
        dest="recover",
        action="store_false",
        help="at start, leave sessions in live phases as they are (despite a recovery phase)",
    )
    serve.add_argument(
        "--request-id-ttl",
        type=float,
        default=DEFAULT_TTL_NS / 1e9,
        metavar="SECONDS",
        help="how long an x-request-id is remembered for idempotent retries (default 86400: 24 h)",
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
    check = sub.add_parser("check", parents=[common], help="verify every index entry, counter and message")
    # internal, between _check_isolated and the child process it runs
    check.add_argument("--journal", help=argparse.SUPPRESS)
    check.add_argument("--avoid", action="append", default=[], help=argparse.SUPPRESS)
    sub.add_parser("reindex", parents=[common], help="rebuild every secondary index from the records")
    export = sub.add_parser("export", parents=[common], help="write a consistent JSONL snapshot")
    export.add_argument("file", help="where to write it ('-': standard output)")
    load = sub.add_parser("import", parents=[common], help="restore a snapshot into an empty store")
    load.add_argument("file", help="an export ('-': standard input)")
    sub.add_parser(
        "migrate",
        parents=[common],
        help="create or upgrade the PostgreSQL schema and print its version (serve does it at start)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in ("serve", "check", "reindex", "export", "import", "migrate"):
        args_list.insert(0, "serve")  # serve is the default command
    args = _parser().parse_args(args_list)
    store = _store_options(args)
    if isinstance(store, str):
        print(f"stigmer-sessions {args.command}: error: {store}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)
    if args.command != "serve":
        return _admin(args, args_list, store)
    if args.workers > 1 and args.worker_index is None:
        return _supervise(args, store)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        lifecycle = load_lifecycle(args.lifecycle)
    except (OSError, ValueError) as exc:
        print(f"stigmer-sessions: cannot load lifecycle {args.lifecycle!r}: {exc}", file=sys.stderr)
        return 2
    options = ServeOptions(
        address=args.address,
        durable=args.durability == "durable",
        max_workers=args.max_workers,
        max_watchers=args.max_watchers,
        max_watchers_per_client=args.max_watchers_per_client,
        request_id_ttl_s=args.request_id_ttl,
        bookmark_interval_s=args.bookmark_interval,
        compaction=ServeCompaction(args.retain_changes, args.retain_changes_age, args.compact_interval),
        config=SessionConfig(
            lifecycle=lifecycle,
            max_sessions_per_org=args.max_sessions_per_org,
            max_sessions_per_owner=args.max_sessions_per_owner,
            name_pattern=args.name_pattern,
            max_message_bytes=args.max_message_bytes,
            max_message_metadata_bytes=args.max_message_metadata_bytes,
            max_annotations_bytes=args.max_annotations_bytes,
            max_spec_metadata_bytes=args.max_spec_metadata_bytes,
            max_session_bytes=args.max_session_bytes,
            max_response_bytes=args.max_response_bytes,
        ),
        recover=args.recover,
        worker_index=args.worker_index,
        ready_fd=args.ready_fd,
        reuse_port=args.worker_index is not None,
        # LMDB workers cannot hear each other's commits: they poll; PostgreSQL ones LISTEN.
        watch_poll_s=0.02 if args.worker_index is not None and not store.is_postgres else None,
    )
    return serve(store, options)


def _supervise(args: argparse.Namespace, store: StoreOptions) -> int:
    """``--workers N``: migrate once here (a clear error before any worker starts, and no
    N-way queue on the schema row), then run the workers on the same store and options."""
    if store.is_postgres and store.migrate:
        if _migrate(store, quiet=True) != 0:
            return 1
        store = dataclasses.replace(store, migrate=False)
    return workers.run(
        _worker_args(args, store),
        args.workers,
        args.address,
        pin_cpus=args.pin_cpus,
        store=store.description,
        env={STORE_ENV: store.url},
    )


def _worker_args(args: argparse.Namespace, store: StoreOptions | None = None) -> list[str]:
    """The serve options, spelled out again for each worker process (the store's URL goes
    in the environment, see StoreOptions.flags)."""
    if store is None:
        resolved = _store_options(args)
        store = resolved if isinstance(resolved, StoreOptions) else None
    out = store.flags() if store is not None else []
    out += ["--log-level", args.log_level, "--durability", args.durability]
    out += ["--max-workers", str(args.max_workers), "--max-watchers", str(args.max_watchers)]
    out += ["--lifecycle", args.lifecycle, "--name-pattern", args.name_pattern]
    out += ["--max-message-bytes", str(args.max_message_bytes), "--request-id-ttl", str(args.request_id_ttl)]
    out += ["--max-message-metadata-bytes", str(args.max_message_metadata_bytes)]
    out += ["--max-annotations-bytes", str(args.max_annotations_bytes)]
    out += ["--max-spec-metadata-bytes", str(args.max_spec_metadata_bytes)]
    out += ["--max-session-bytes", str(args.max_session_bytes)]
    out += ["--max-watchers-per-client", str(args.max_watchers_per_client)]
    out += ["--max-response-bytes", str(args.max_response_bytes)]
    out += ["--bookmark-interval", str(args.bookmark_interval), "--retain-changes", str(args.retain_changes)]
    out += [
        "--retain-changes-age",
        str(args.retain_changes_age),
        "--compact-interval",
        str(args.compact_interval),
    ]
    for flag, value in (
        ("--max-sessions-per-org", args.max_sessions_per_org),
        ("--max-sessions-per-owner", args.max_sessions_per_owner),
    ):
        if value is not None:
            out += [flag, str(value)]
    if not args.recover:
        out.append("--no-recovery")
    return out


#: How ``check`` runs itself in a child process (a test points it elsewhere).
_CHECK_CHILD = [sys.executable, "-m", "stigmer_sessions.cli"]


def _check_isolated(argv: list[str]) -> int:
    """Run ``check`` in a child process, whose output streams through unchanged.

    LMDB aborts the process on some page damage (a failed assertion in the engine, no
    exception to catch). That must be a finding of check, not a crash of it: the child
    journals each read pass as it goes (its name, then its last key every few items), so
    when it is killed the spot is known, and check runs again stopping that pass there (and
    reading the table from its other end). A pass that aborts twice is skipped."""
    with tempfile.TemporaryDirectory(prefix="stigmer-check-") as tmp:
        journal = os.path.join(tmp, "journal")
        avoid: dict[str, str] = {}  # pass name -> hex key ("" to skip it)
        for _ in range(_MAX_CHECK_RUNS):
            open(journal, "w").close()
            flags = [f"--avoid={name}\t{key}" for name, key in avoid.items()]
            child = subprocess.run([*_CHECK_CHILD, *argv, "--journal", journal, *flags], check=False)
            if child.returncode >= 0:
                return child.returncode
            with open(journal, encoding="utf-8") as lines:
                entries = lines.read().splitlines()
            if not entries:
                break
            name, _, key = entries[-1].partition("\t")
            avoid[name] = "" if name in avoid else key
    try:
        how = signal.Signals(-child.returncode).name
    except ValueError:
        how = f"signal {-child.returncode}"
    print(
        f"the storage engine aborted ({how}) while reading the store: the store is corrupted "
        "beyond what check can read; restore it from a backup"
    )
    print("PROBLEMS: check was stopped by the storage engine")
    return 3


#: check runs itself at most this often (each engine abort costs a run; two passes per table).
_MAX_CHECK_RUNS = 32


def _check_here(store: StoreOptions, journal: str | None, avoid: list[str]) -> int:
    """The check itself, in this process: journals its read passes to ``journal`` and stops
    the passes in ``avoid`` ("name<TAB>hex key", no key: skip) there (see _check_isolated).
    Without a journal (PostgreSQL: a damaged page is the server's error, never our crash)
    it simply reads everything."""
    controller = _open(store, lambda: _controller(store, migrate=False))
    if controller is None:
        return 1
    if journal is None:
        with controller:
            return _report(controller.check())
    stops: dict[str, bytes | None] = {}
    for entry in avoid:
        name, _, key = entry.partition("\t")
        stops[name] = bytes.fromhex(key) if key else None
    with controller, open(journal, "a", encoding="utf-8") as out:

        def write(name: str, key: bytes | None) -> None:
            out.write(name if key is None else f"{name}\t{key.hex()}")
            out.write("\n")
            out.flush()  # the engine may abort the process at any moment

        report = controller.check(avoid=stops, journal=write)
    return _report(report)


def _report(report: CheckReport) -> int:
    for problem in report.problems:
        print(problem)
    print(
        f"{'ok' if report.ok else 'PROBLEMS'}: {report.records} sessions, {report.index_entries} "
        f"index entries, {len(report.problems)} problems"
    )
    return 0 if report.ok else 3


def _controller(store: StoreOptions, *, migrate: bool | None = None, **options: Any) -> SessionController:
    """A controller owning the store ``store`` names (``migrate`` overrides its option)."""
    return SessionController(store=store.url, store_options=store.backend_options(migrate=migrate), **options)


class _ConnectFailures(logging.Handler):
    """Keeps the pool's last "error connecting" reason (refused, unknown host, no such
    database, bad password) while it stays off the log: at start the user wants one line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.reason = text.split(": ", 1)[-1].split("\n", 1)[0].removeprefix("connection failed: ")


@contextlib.contextmanager
def _quiet_pool() -> Iterator[_ConnectFailures]:
    """While opening the store: the pool's connect retries are collected, not logged."""
    pool_log = logging.getLogger("psycopg.pool")
    failures = _ConnectFailures()
    saved = pool_log.propagate
    pool_log.addHandler(failures)
    pool_log.propagate = False
    try:
        yield failures
    finally:
        pool_log.removeHandler(failures)
        pool_log.propagate = saved


def _unavailable(exc: ResourceError, failures: _ConnectFailures) -> str:
    """The one line telling why the store cannot be opened (libpq's reason, if any, names
    host, port, user or database, never the password)."""
    reason = f" (last attempt: {failures.reason})" if failures.reason else ""
    return f"stigmer-sessions: {exc.message}{reason}"


def _open(store: StoreOptions, make: Callable[[], SessionController]) -> SessionController | None:
    """The controller, or None after telling the user, without a traceback, why the store
    cannot be opened and how to recover. Nothing is deleted or recreated over the old file."""
    with _quiet_pool() as failures:
        try:
            return make()
        except ResourceError as exc:
            if store.data_dir is None:  # PostgreSQL: the message names host:port and what to do
                print(_unavailable(exc, failures), file=sys.stderr)
                return None
            message = exc.message
    path = store.data_dir
    print(
        f"stigmer-sessions: {message}\n"
        f"The data in {path} was left untouched. To recover:\n"
        f"  - restore {path} from a backup, or\n"
        f"  - move it aside, then `stigmer-sessions import --data-dir {path} EXPORT.jsonl` "
        f"from an export made with `stigmer-sessions export`;\n"
        f"  - `stigmer-sessions check --data-dir DIR` verifies a store that opens, and "
        f"`stigmer-sessions reindex --data-dir DIR` rebuilds its indexes.",
        file=sys.stderr,
    )
    return None


def _migrate(store: StoreOptions, *, quiet: bool = False) -> int:
    """``migrate``: bring a PostgreSQL schema up to date and print its version (LMDB has no
    schema to migrate). Several starters at once are safe: they queue on the version row."""
    if not store.is_postgres:
        if not quiet:
            print(f"{store.description}: LMDB keeps its layout in the code, nothing to migrate")
        return 0
    from pipeline.storage.postgres import PostgresStorage  # noqa: PLC0415 - psycopg, lazily

    with _quiet_pool() as failures:
        try:
            storage = PostgresStorage(
                store.url,
                pool_size=1,
                statement_timeout_s=store.statement_timeout_s,
                connect_timeout_s=store.connect_timeout_s,
                migrate=True,
            )
        except ResourceError as exc:
            print(_unavailable(exc, failures), file=sys.stderr)
            return 1
    try:
        version = storage.schema_version()
    finally:
        storage.close()
    if not quiet:
        print(f"{storage.description}: schema version {version}")
    return 0


def _admin(args: argparse.Namespace, argv: list[str], store: StoreOptions) -> int:
    """The commands other than serve."""
    if args.command == "check":
        if args.journal or store.is_postgres:  # only LMDB can abort the process: isolate it
            return _check_here(store, args.journal, args.avoid)
        return _check_isolated(argv)
    if args.command == "migrate":
        return _migrate(store)
    return _maintain(args.command, store, getattr(args, "file", ""))


def _maintain(command: str, store: StoreOptions, file: str) -> int:
    # import fills an empty store: it may create the schema; the others only read or repair
    controller = _open(store, lambda: _controller(store, migrate=None if command == "import" else False))
    if controller is None:
        return 1
    with controller:
        if command == "reindex":
            print(f"reindexed {controller.reindex()} sessions")
            return 0
        if command == "export":
            if file == "-":
                counts = controller.export(sys.stdout)
            else:
                with open(file, "w", encoding="utf-8") as out:
                    counts = controller.export(out)
            print(f"exported {json.dumps(counts)}", file=sys.stderr)
            return 0
        try:
            if file == "-":
                counts = controller.import_(sys.stdin)
            else:
                with open(file, encoding="utf-8") as lines:
                    counts = controller.import_(lines)
        except ResourceError as exc:
            print(f"stigmer-sessions: import failed, nothing was written: {exc.message}", file=sys.stderr)
            return 1
        print(f"imported {json.dumps(counts)}", file=sys.stderr)
        return 0


def serve(store: StoreOptions | str, options: ServeOptions | None = None) -> int:
    """Run until SIGTERM/SIGINT, then drain in-flight requests and close the store
    (``store``: its options, or an LMDB directory)."""
    opts = options or ServeOptions()
    where = store if isinstance(store, StoreOptions) else StoreOptions.for_data_dir(store)
    controller = _open(
        where,
        lambda: _controller(
            where,
            durable=opts.durable,
            request_id_ttl_s=opts.request_id_ttl_s,
            bookmark_interval_s=opts.bookmark_interval_s,
            config=opts.config,
            watch_poll_s=opts.watch_poll_s,
        ),
    )
    if controller is None:
        return 1
    try:
        leader = opts.worker_index in (None, 0)  # one process recovers and compacts
        if opts.recover and leader:
            moved = controller.recover()
            if moved:
                _log.info(
                    "recovered live sessions",
                    extra={"fields": {"count": len(moved), "to_phase": opts.config.lifecycle.recovery_phase}},
                )
        try:
            running = start_server(
                controller,
                opts.address,
                max_workers=opts.max_workers,
                max_watchers=opts.max_watchers,
                max_watchers_per_client=opts.max_watchers_per_client,
                reuse_port=opts.reuse_port,
            )
        except OSError as exc:
            print(f"stigmer-sessions: {exc}", file=sys.stderr)
            return 1
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        _log.info(
            "serving" if opts.worker_index is None else "worker ready",
            extra={
                "fields": {
                    "address": running.address,
                    "store": controller.store.description,
                    **({"data_dir": where.data_dir} if where.data_dir is not None else {}),
                    "durability": "durable" if opts.durable else "relaxed",
                    "lifecycle": opts.config.lifecycle.name,
                    **({"worker": opts.worker_index} if opts.worker_index is not None else {}),
                }
            },
        )
        if opts.ready_fd is not None:
            os.write(opts.ready_fd, b"1")
            os.close(opts.ready_fd)
        compaction = None
        if leader:
            compaction = ChangeCompactor(
                controller,
                keep_revisions=opts.compaction.keep_revisions,
                max_age_s=opts.compaction.max_age_s,
                interval_s=opts.compaction.interval_s,
            ).start()
        stop.wait()
        _log.info("shutting down", extra={"fields": {"address": running.address}})
        running.stop()
        if compaction is not None:
            compaction.stop()
    finally:
        controller.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
