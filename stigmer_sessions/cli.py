"""The ``stigmer-sessions`` command (and ``python server.py``): serve sessions over gRPC, and
look after the store (``check``, ``reindex``, ``export``, ``import``, ``migrate``)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import ipaddress
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote

from tqdm import tqdm

from pipeline.authn import DEFAULT_LEEWAY_S, DEFAULT_ROLES_CLAIM, Authenticate, JwtVerifier, TokenFile
from pipeline.errors import FailedPrecondition, InvalidArgument, ResourceError
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES
from pipeline.steps.resolve_slug import slug_from_name
from pipeline.storage import CheckReport
from pipeline.storage_url import POSTGRES_SCHEMES
from pipeline.watch import DEFAULT_BOOKMARK_INTERVAL_S
from stigmer_sessions import data_dir_lock, workers
from stigmer_sessions.compactor import (
    DEFAULT_INTERVAL_S,
    DEFAULT_RETAIN_AGE_S,
    DEFAULT_RETAIN_CHANGES,
    ChangeCompactor,
)
from stigmer_sessions.config import (
    BUILTIN_LIFECYCLES,
    DEFAULT_MAX_ANNOTATIONS_BYTES,
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_BATCH_MESSAGES,
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
    DEFAULT_REQUEST_LOG,
    RequestLog,
    start_server,
)
from stigmer_sessions.reloads import Reloads
from stigmer_sessions.resource import SESSION
from stigmer_sessions.steps.append_message import DEFAULT_MAX_CONTENT_BYTES
from stigmer_sessions.tls import ServerTls, TlsError

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_DATA_DIR = "./data"
COMMANDS = ("serve", "check", "reindex", "export", "import", "migrate")
STORE_ENV = "STIGMER_SESSIONS_STORE"
DEFAULT_PG_POOL_SIZE = 8
DEFAULT_PG_STATEMENT_TIMEOUT_S = 30.0
DEFAULT_PG_CONNECT_TIMEOUT_S = 10.0
#: The issue's promise: an unreachable database is reported within at most 30 s.
MAX_PG_CONNECT_TIMEOUT_S = 30.0
#: More connections than this per process only queue in PostgreSQL (each is a backend process).
MAX_PG_POOL_SIZE = 1000
_log = logging.getLogger("stigmer_sessions")


# --- Flag values ------------------------------------------------------------------------
# One validator per kind of value, used as argparse ``type=``: a bad value is a one-line
# usage error (exit 2) naming the flag and the allowed range, never a traceback or a server
# that starts and misbehaves. argparse also runs them on string defaults, so the
# STIGMER_SESSIONS_* environment variables are checked the same way.

#: Bookmarks are liveness signals: 20 a second per watch is already more than any client
#: needs, and below this the server spends its time on bookmarks (0 sent ~9,600/s).
MIN_BOOKMARK_INTERVAL_S = 0.05
#: Each compaction pass is a write transaction; more often than once a second buys nothing.
MIN_COMPACT_INTERVAL_S = 1.0
#: Retries within this window are answered from the remembered response; below a second
#: a client's own retry would already find it forgotten.
MIN_REQUEST_ID_TTL_S = 1.0
YEAR_S = 366 * 86400.0
MAX_WORKERS = 256  # processes (--workers)
MAX_THREADS = 4096  # threads (--max-workers, --max-watchers)
MAX_MESSAGE_BYTES = 1 << 30  # gRPC cannot carry 2 GiB; a message of 1 GiB is already absurd


def _bounds(lo: float, hi: float | None) -> str:
    return f"at least {lo}" if hi is None else f"between {lo} and {hi}"


def _int_in(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer with ``lo <= value <= hi`` (no upper bound if hi is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {_bounds(lo, hi)}")
        return value

    return parse


#: The Session kind's optional indexes (``reindex --optional-indexes``).
OPTIONAL_INDEXES = tuple(i.name for i in SESSION.optional_indexes)


def _optional_indexes(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in OPTIONAL_INDEXES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"no optional index {', '.join(unknown)} (there are: {', '.join(OPTIONAL_INDEXES)})"
        )
    return names


def _float_in(lo: float, hi: float | None = None) -> Callable[[str], float]:
    """argparse type: a finite number with ``lo <= value <= hi``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {_bounds(lo, hi)}")
        return value

    return parse


def _address(text: str) -> str:
    """argparse type: HOST:PORT with a port in 0..65535 (0: pick a free one); an IPv6 host
    in brackets, ``[::1]:0``. gRPC would otherwise take ``:70000`` modulo 65536."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:50051, [::1]:0)")
    if host.startswith("[") or host.endswith("]"):
        try:
            ipaddress.IPv6Address(host.removeprefix("[").removesuffix("]"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{host!r} in {text!r} is not an IPv6 address") from None
        if not (host.startswith("[") and host.endswith("]")):
            raise argparse.ArgumentTypeError(f"unbalanced brackets in {text!r}")
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"write an IPv6 host in brackets: [{host}]:{port}")
    if int(port) > 65535:
        raise argparse.ArgumentTypeError(f"port {port} in {text!r} is out of range: must be 0..65535")
    return text


def _name_pattern(text: str) -> str:
    """argparse type: a generated-name pattern; it must format with ``{date}`` and ``{n}``
    and give different names for different n (GenerateName counts n up until the name is
    free: without {n} it would never find one)."""
    try:
        names = [text.format(date="2026-01-31", n=n) for n in (1, 2)]
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} does not format with {{date}} and {{n}} ({type(exc).__name__}: {exc})"
        ) from None
    slugs = [slug_from_name(name) for name in names]
    if not slugs[0] or slugs[0] == slugs[1]:
        raise argparse.ArgumentTypeError(f"{text!r} must use {{n}} so that generated names differ")
    return text


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise argparse.ArgumentTypeError(f"{text!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return level


def _request_log(text: str) -> RequestLog:
    """argparse type: ``all``, ``errors`` or ``sample:N``."""
    try:
        return RequestLog.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _version() -> str:
    try:
        return metadata.version("stigmer-sessions")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


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
    #: Which successful requests are logged (--request-log); errors always are.
    request_log: RequestLog = DEFAULT_REQUEST_LOG
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
    #: The TLS files, already loaded and checked (None: plaintext), and whether to serve
    #: server reflection.
    tls: ServerTls | None = None
    reflection: bool = True
    #: Who is calling (--auth-tokens, --jwt-*); None: every caller is trusted.
    authenticator: Authenticate | None = None


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is written, not when the handler was
    made: a thread that outlives a redirection of stderr (an embedding application's, or a
    test runner's capture) then never writes to a closed stream.

    A record marked ``deferrable`` (a successful call's request line) is written up to
    ``FLUSH_S`` later, together with the others of that moment, in one write: a write per
    line costs a busy server a system call that hands the GIL to another thread (measured in
    docs/benchmarks.md, "One-core gRPC path"). Any other record is written at once, after
    the deferred ones, so the order is kept; so is everything at exit (``logging.shutdown``
    flushes), but a killed process loses its last ``FLUSH_S`` of deferred lines."""

    FLUSH_S = 0.1
    #: More deferred lines than this are written at once, without waiting.
    MAX_PENDING = 256

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []
        self._due = threading.Event()
        self._flusher: threading.Thread | None = None

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        del value  # always sys.stderr

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        try:
            line = self.format(record) + self.terminator
            if getattr(record, "deferrable", False) and len(self._pending) < self.MAX_PENDING:
                self._pending.append(line)
                if len(self._pending) == 1:
                    self._wake_flusher()
                return
            self._pending.append(line)
            self.flush()
        except RecursionError:
            raise
        except Exception:  # as logging.StreamHandler does: report, never raise into the caller
            self.handleError(record)

    def flush(self) -> None:
        with self.lock if self.lock is not None else contextlib.nullcontext():
            if self._pending:
                text, self._pending = "".join(self._pending), []
                self.stream.write(text)
            super().flush()

    def _wake_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_when_due, name="log-flush", daemon=True)
            self._flusher.start()
        self._due.set()

    def _flush_when_due(self) -> None:
        while True:
            self._due.wait()
            time.sleep(self.FLUSH_S)
            self._due.clear()
            try:
                self.flush()
            except Exception:  # a closed stderr: nothing to write to, and no one to tell
                self._pending = []


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep by eye and to ship to a log store.

    Written once per request, so it is kept cheap: the timestamp's date and time are
    formatted once a second (only the milliseconds change within one), and one encoder is
    reused (``json.dumps`` with an option builds a new one per call)."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # one tuple: a thread reads both or neither

    def format(self, record: logging.LogRecord) -> str:
        second, stamp = self._second
        if second != int(record.created):
            second = int(record.created)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, stamp)
        line: dict[str, Any] = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _encode(line)


_encode = json.JSONEncoder(ensure_ascii=False).encode


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
        type=_int_in(1, MAX_PG_POOL_SIZE),
        default=DEFAULT_PG_POOL_SIZE,
        metavar="N",
        help=f"PostgreSQL connections per process (1..{MAX_PG_POOL_SIZE}; default {DEFAULT_PG_POOL_SIZE})",
    )
    where.add_argument(
        "--pg-statement-timeout",
        type=_float_in(0.001, 86400),
        default=DEFAULT_PG_STATEMENT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"PostgreSQL cancels a statement running longer (default {DEFAULT_PG_STATEMENT_TIMEOUT_S:g})",
    )
    where.add_argument(
        "--pg-connect-timeout",
        type=_float_in(1, MAX_PG_CONNECT_TIMEOUT_S),
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
        type=_log_level,
        default=os.environ.get("STIGMER_SESSIONS_LOG_LEVEL", "INFO"),
        help="DEBUG also logs every pipeline step with its duration (env STIGMER_SESSIONS_LOG_LEVEL)",
    )
    parser = argparse.ArgumentParser(
        prog="stigmer-sessions",
        description=__doc__,
        epilog="Without a command, serve. `stigmer-sessions COMMAND --help` shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    serve = sub.add_parser("serve", parents=[common], help="serve the Session gRPC API (the default command)")
    serve.add_argument(
        "--address",
        type=_address,
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
        type=_int_in(1, MAX_WORKERS),
        default=1,
        metavar="N",
        help=f"server processes sharing the port (SO_REUSEPORT) and the store (1..{MAX_WORKERS}; default 1)",
    )
    serve.add_argument("--pin-cpus", action="store_true", help="with --workers: pin worker i to cpu i")
    serve.add_argument(
        "--worker-index", type=_int_in(0, MAX_WORKERS - 1), default=None, help=argparse.SUPPRESS
    )
    serve.add_argument("--ready-fd", type=_int_in(0), default=None, help=argparse.SUPPRESS)
    serve.add_argument("--cpu", type=_int_in(0), default=None, help=argparse.SUPPRESS)
    serve.add_argument(
        "--max-workers",
        type=_int_in(1, MAX_THREADS),
        default=DEFAULT_MAX_WORKERS,
        metavar="N",
        help=f"threads for unary RPCs (1..{MAX_THREADS}; default {DEFAULT_MAX_WORKERS})",
    )
    serve.add_argument(
        "--max-watchers",
        type=_int_in(0, MAX_THREADS),
        default=DEFAULT_MAX_WATCHERS,
        metavar="N",
        help="concurrent watch streams (each holds a thread; more are RESOURCE_EXHAUSTED; 0 disables "
        f"watch; default {DEFAULT_MAX_WATCHERS})",
    )
    serve.add_argument(
        "--lifecycle",
        default="default",
        help=f"session lifecycle: {', '.join(BUILTIN_LIFECYCLES)} or the path of a TOML definition",
    )
    serve.add_argument(
        "--max-sessions-per-org",
        type=_int_in(1),
        default=None,
        metavar="N",
        help="(>= 1; default: unlimited)",
    )
    serve.add_argument(
        "--max-sessions-per-owner",
        type=_int_in(1),
        default=None,
        metavar="N",
        help="(>= 1; default: unlimited)",
    )
    serve.add_argument(
        "--name-pattern",
        type=_name_pattern,
        default=SessionConfig.name_pattern,
        help="name of a session created without one; {date} and {n} are filled in "
        f"(default {SessionConfig.name_pattern})",
    )
    serve.add_argument(
        "--max-message-bytes",
        type=_int_in(1, MAX_MESSAGE_BYTES),
        default=DEFAULT_MAX_CONTENT_BYTES,
        metavar="N",
        help=f"message content plus payload limit (1..{MAX_MESSAGE_BYTES}; default 1 MiB); the server's gRPC "
        "receive limit follows the size limits",
    )
    for flag, default, what in (
        ("--max-message-metadata-bytes", DEFAULT_MAX_MESSAGE_METADATA_BYTES, "a message's metadata in total"),
        ("--max-annotations-bytes", DEFAULT_MAX_ANNOTATIONS_BYTES, "a session's annotations in total"),
        ("--max-spec-metadata-bytes", DEFAULT_MAX_SPEC_METADATA_BYTES, "a session's spec.metadata in total"),
        ("--max-session-bytes", DEFAULT_MAX_SESSION_BYTES, "a session as sent (serialized)"),
    ):
        serve.add_argument(
            flag, type=_int_in(1), default=default, metavar="BYTES", help=f"{what} (default {default})"
        )
    for flag, most, default, unit, what in (
        ("--max-batch-messages", DEFAULT_MAX_BATCH_MESSAGES, DEFAULT_MAX_BATCH_MESSAGES, "N", "messages"),
        ("--max-batch-bytes", MAX_MESSAGE_BYTES, DEFAULT_MAX_BATCH_BYTES, "BYTES", "content plus metadata"),
    ):
        serve.add_argument(
            flag,
            type=_int_in(1, most),
            default=default,
            metavar=unit,
            help=f"{what} of one appendMessages in total (1..{most}; default {default}); the receive "
            "limit follows the byte budget",
        )
    serve.add_argument(
        "--request-log",
        type=_request_log,
        default=os.environ.get("STIGMER_SESSIONS_REQUEST_LOG", "all"),
        metavar="all|errors|sample:N",
        help="which requests get their INFO log line: all, errors (any code but OK), or sample:N "
        "(one in N successful requests, each line says sample N); errors are always logged "
        "(env STIGMER_SESSIONS_REQUEST_LOG; default all)",
    )
    serve.add_argument(
        "--max-watchers-per-client",
        type=_int_in(1),
        default=DEFAULT_MAX_WATCHERS_PER_CLIENT,
        metavar="N",
        help="concurrent watch streams of one client (its x-actor-id, else its address; default "
        f"{DEFAULT_MAX_WATCHERS_PER_CLIENT}): without authentication this stops a buggy client, "
        "not a hostile one",
    )
    serve.add_argument(
        "--max-response-bytes",
        type=_int_in(MIN_RESPONSE_BYTES),
        default=DEFAULT_MAX_RESPONSE_BYTES,
        metavar="BYTES",
        help="pages and watch batches stop before this size, with at least one entry "
        f"(default {DEFAULT_MAX_RESPONSE_BYTES}: 3 MiB, under a default client's 4 MiB limit; "
        f"at least {MIN_RESPONSE_BYTES})",
    )
    serve.add_argument(
        "--require-agent-instance",
        action="store_true",
        help="a session's spec.agent_instance_id must name an agent instance of its org "
        "(FAILED_PRECONDITION otherwise), and an agent instance with sessions is deleted only with "
        "x-cascade: true (off by default, as in Stigmer)",
    )
    serve.add_argument(
        "--no-recovery",
        dest="recover",
        action="store_false",
        help="at start, leave sessions in live phases as they are (despite a recovery phase)",
    )
    serve.add_argument(
        "--request-id-ttl",
        type=_float_in(MIN_REQUEST_ID_TTL_S, YEAR_S),
        default=DEFAULT_TTL_NS / 1e9,
        metavar="SECONDS",
        help="how long an x-request-id is remembered for idempotent retries "
        f"({MIN_REQUEST_ID_TTL_S:g}..{YEAR_S:g}; default 86400: 24 h)",
    )
    serve.add_argument(
        "--bookmark-interval",
        type=_float_in(MIN_BOOKMARK_INTERVAL_S, 3600),
        default=DEFAULT_BOOKMARK_INTERVAL_S,
        metavar="SECONDS",
        help=f"a quiet watch sends a bookmark this often ({MIN_BOOKMARK_INTERVAL_S:g}..3600; default 5)",
    )
    serve.add_argument(
        "--retain-changes",
        type=_int_in(1),
        default=DEFAULT_RETAIN_CHANGES,
        metavar="N",
        help="keep at most the newest N changes in the change feed (>= 1; default 1,000,000)",
    )
    serve.add_argument(
        "--retain-changes-age",
        type=_float_in(1.0),
        default=DEFAULT_RETAIN_AGE_S,
        metavar="SECONDS",
        help="drop changes older than this (>= 1; default 604800: 7 days)",
    )
    serve.add_argument(
        "--compact-interval",
        type=_float_in(MIN_COMPACT_INTERVAL_S, 86400),
        default=DEFAULT_INTERVAL_S,
        metavar="SECONDS",
        help=f"how often the compactor runs ({MIN_COMPACT_INTERVAL_S:g}..86400; default 60)",
    )
    _transport_arguments(serve)
    _auth_arguments(serve)
    check = sub.add_parser(
        "check", parents=[common], help="verify every index entry, counter and message (read-only)"
    )
    # internal, between _check_isolated and the child process it runs
    check.add_argument("--journal", help=argparse.SUPPRESS)
    check.add_argument("--avoid", action="append", default=[], help=argparse.SUPPRESS)
    reindex = sub.add_parser(
        "reindex", parents=[common], help="rebuild every secondary index from the records (server stopped)"
    )
    reindex.add_argument(
        "--optional-indexes",
        type=_optional_indexes,
        default=None,
        metavar="NAMES",
        help=f"keep exactly these optional session indexes, comma-separated ({', '.join(OPTIONAL_INDEXES)}; "
        "'' for none); default: those the store holds. A server builds the ones its flags need at start",
    )
    export = sub.add_parser(
        "export", parents=[common], help="write a consistent JSONL snapshot (safe beside a running server)"
    )
    export.add_argument("file", help="where to write it ('-': standard output)")
    load = sub.add_parser(
        "import", parents=[common], help="restore a snapshot into an empty store (server stopped)"
    )
    load.add_argument("file", help="an export ('-': standard input)")
    sub.add_parser(
        "migrate",
        parents=[common],
        help="create or upgrade the PostgreSQL schema and print its version (serve does it at start)",
    )
    return parser


def _transport_arguments(serve: argparse.ArgumentParser) -> None:
    """How ``serve`` is reached: TLS, mutual TLS, reflection, and consent to exposure."""
    group = serve.add_argument_group("transport")
    group.add_argument(
        "--tls-cert",
        metavar="FILE",
        default=None,
        help="serve TLS only, with this PEM certificate chain (with --tls-key; re-read on SIGHUP)",
    )
    group.add_argument("--tls-key", metavar="FILE", default=None, help="the certificate's PEM private key")
    group.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        default=None,
        help="mutual TLS: every client must present a certificate signed by this PEM CA "
        "(needs --tls-cert and --tls-key)",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback address without TLS and authentication anyway (logged as a "
        "WARNING); without it, such a start is refused",
    )
    group.add_argument(
        "--no-reflection",
        dest="reflection",
        action="store_false",
        help="do not serve gRPC server reflection (clients then need the protos)",
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as in ``--address``: an IP, ``[IPv6]`` or a name) reaches this
    machine only: 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and ``localhost``. Any other name
    counts as exposed without being resolved: what it resolves to can change after the check,
    and ``0.0.0.0`` / ``[::]`` are every interface."""
    name = host.removeprefix("[").removesuffix("]")
    if name.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _authenticates(args: argparse.Namespace) -> bool:
    """Whether the flags configure an authenticator (the exposure check asks)."""
    return args.auth_tokens is not None or args.jwt_jwks is not None


def _exposed(args: argparse.Namespace) -> list[str]:
    """What serving ``--address`` would leave open to the network: nothing on loopback, or
    with both TLS and an authenticator; else the missing protections, as flag advice."""
    if is_loopback(args.address.rpartition(":")[0]):
        return []
    missing = [] if args.tls_cert else ["TLS (--tls-cert FILE --tls-key FILE)"]
    if not _authenticates(args):
        missing.append("authentication (--auth-tokens FILE or --jwt-jwks FILE)")
    return missing


def _transport(args: argparse.Namespace) -> ServerTls | str | None:
    """The TLS files the flags name, read and checked (None: plaintext), or a usage
    error's text: an incomplete set of TLS flags, a file missing or not what it should be, or
    an exposed address without ``--insecure``."""
    if (args.tls_cert is None) != (args.tls_key is None):
        return "--tls-cert and --tls-key go together: give both or neither"
    if args.tls_client_ca is not None and args.tls_cert is None:
        return "--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key"
    missing = _exposed(args)
    if missing and not args.insecure:
        return (
            f"refusing to serve {args.address}, not a loopback address, without {' and '.join(missing)}: "
            "configure them, or pass --insecure to serve it exposed anyway"
        )
    if args.tls_cert is None:
        return None
    try:
        return ServerTls(args.tls_cert, args.tls_key, args.tls_client_ca)
    except TlsError as exc:
        return str(exc)


#: The most clock skew --jwt-leeway accepts: more would keep expired tokens alive.
MAX_JWT_LEEWAY_S = 300.0


def _auth_arguments(serve: argparse.ArgumentParser) -> None:
    """The authentication flags of ``serve`` (see docs/security.md)."""
    group = serve.add_argument_group("authentication (docs/security.md)")
    group.add_argument(
        "--auth-tokens",
        metavar="FILE",
        default=None,
        help="TOML file of principals: bearer tokens as SHA-256 digests, roles per org; also the "
        "roles of client-certificate principals; re-read on SIGHUP",
    )
    group.add_argument(
        "--jwt-jwks",
        metavar="FILE",
        default=None,
        help="JWKS file of the JWT issuer's "
        "public keys (re-read on SIGHUP); needs --jwt-issuer and --jwt-audience",
    )
    group.add_argument("--jwt-issuer", metavar="ISS", default=None, help="the iss every JWT must carry")
    group.add_argument("--jwt-audience", metavar="AUD", default=None, help="the aud every JWT must carry")
    group.add_argument(
        "--jwt-roles-claim",
        metavar="NAME",
        default=DEFAULT_ROLES_CLAIM,
        help=f"the JWT claim holding the org -> role map (default {DEFAULT_ROLES_CLAIM})",
    )
    group.add_argument(
        "--jwt-leeway",
        type=_float_in(0.0, MAX_JWT_LEEWAY_S),
        default=DEFAULT_LEEWAY_S,
        metavar="SECONDS",
        help=f"clock skew allowed on exp and nbf (0..{MAX_JWT_LEEWAY_S:g}; default {DEFAULT_LEEWAY_S:g})",
    )


def _authenticator(args: argparse.Namespace) -> Authenticate | str | None:
    """The authenticator the flags ask for (None: no authentication), or the one-line reason
    they cannot work: a missing companion flag, a file that does not read or parse."""
    jwt_flags = {
        "--jwt-jwks": args.jwt_jwks,
        "--jwt-issuer": args.jwt_issuer,
        "--jwt-audience": args.jwt_audience,
    }
    given = [flag for flag, value in jwt_flags.items() if value is not None]
    if given and len(given) < len(jwt_flags):
        missing = [flag for flag in jwt_flags if flag not in given]
        return f"{given[0]} needs {' and '.join(missing)}"
    if any(value == "" for value in jwt_flags.values()):
        return "--jwt-jwks, --jwt-issuer and --jwt-audience must not be empty"
    if args.auth_tokens is None and not given:
        return None
    try:
        tokens = TokenFile(args.auth_tokens) if args.auth_tokens is not None else None
        verifier = None
        if given:
            verifier = JwtVerifier(
                args.jwt_jwks,
                issuer=args.jwt_issuer,
                audience=args.jwt_audience,
                roles_claim=args.jwt_roles_claim,
                leeway_s=args.jwt_leeway,
            )
    except OSError as exc:
        return f"cannot read {exc.filename}: {exc.strerror}"
    except InvalidArgument as exc:
        return str(exc)
    # a client certificate names a principal only when grpc verified it (mutual TLS)
    certificates = args.tls_client_ca is not None  # grpc hands over only verified certificates
    return Authenticate(tokens, verifier, certificates=certificates)


def _auth_worker_args(args: argparse.Namespace) -> list[str]:
    """The authentication flags again, for each worker of ``--workers N``."""
    out = _given(
        ("--auth-tokens", args.auth_tokens),
        ("--jwt-jwks", args.jwt_jwks),
        ("--jwt-issuer", args.jwt_issuer),
        ("--jwt-audience", args.jwt_audience),
    )
    return [*out, "--jwt-roles-claim", args.jwt_roles_claim, "--jwt-leeway", str(args.jwt_leeway)]


def _given(*flags: tuple[str, object]) -> list[str]:
    """``[flag, value, ...]`` for each flag whose value was given (not None)."""
    return [part for flag, value in flags if value is not None for part in (flag, str(value))]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, with ``serve`` as the default command; a bad value exits 2."""
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        argv = ["serve", *argv]
    return _parser().parse_args(argv)


def _security(args: argparse.Namespace) -> tuple[ServerTls | None, Authenticate | None] | str:
    """The TLS files and the authenticator the serve flags ask for, loaded and checked; or
    the one line that says what is wrong with them."""
    tls = _transport(args)
    if isinstance(tls, str):
        return f"stigmer-sessions serve: error: {tls}"
    authenticator = _authenticator(args)
    if isinstance(authenticator, str):
        return f"stigmer-sessions: {authenticator}"
    return tls, authenticator


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(args_list)
    store = _store_options(args)
    if isinstance(store, str):
        print(f"stigmer-sessions {args.command}: error: {store}", file=sys.stderr)
        return 2
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)
    if args.command != "serve":
        return _admin_command(args, args_list, store)
    security = _security(args)  # a bad TLS or credentials file stops here, before any worker
    if isinstance(security, str):
        print(security, file=sys.stderr)
        return 2
    tls, authenticator = security
    _warn_exposed(args)
    stop = stop_on_signals()  # before anything slow: a stop during start-up is not lost
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
        request_log=args.request_log,
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
            max_batch_messages=args.max_batch_messages,
            max_batch_bytes=args.max_batch_bytes,
            max_annotations_bytes=args.max_annotations_bytes,
            max_spec_metadata_bytes=args.max_spec_metadata_bytes,
            max_session_bytes=args.max_session_bytes,
            max_response_bytes=args.max_response_bytes,
            require_agent_instance=args.require_agent_instance,
        ),
        recover=args.recover,
        worker_index=args.worker_index,
        ready_fd=args.ready_fd,
        reuse_port=args.worker_index is not None,
        # LMDB workers cannot hear each other's commits: they poll; PostgreSQL ones LISTEN.
        watch_poll_s=0.02 if args.worker_index is not None and not store.is_postgres else None,
        tls=tls,
        reflection=args.reflection,
        authenticator=authenticator,
    )
    return serve(store, options, stop=stop)


def _warn_exposed(args: argparse.Namespace) -> None:
    """With ``--insecure``, say at start what the address leaves open (the supervisor of
    ``--workers`` says it once, not each worker)."""
    missing = _exposed(args)
    if not missing or args.worker_index is not None:
        return
    what = []
    if not args.tls_cert:
        what.append("in plaintext: anyone on the network path can read and alter every request")
    if not _authenticates(args):
        what.append("without authentication: anyone who can connect may read and write every org")
    _log.warning(
        f"--insecure: {args.address} is not a loopback address and is served {'; and '.join(what)}",
        extra={"fields": {"address": args.address, "missing": missing}},
    )


def _supervise(args: argparse.Namespace, store: StoreOptions) -> int:
    """``--workers N``: claim the LMDB directory (the workers serve under the parent's
    claim), or migrate a PostgreSQL schema once here (a clear error before any worker
    starts, and no N-way queue on the schema row); then run the workers."""
    claim: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if store.data_dir is not None:
        try:
            claim = _claim(store.data_dir, "serve")
        except (FailedPrecondition, OSError) as exc:
            print(f"stigmer-sessions: {_reason(exc)}", file=sys.stderr)
            return 1
    elif store.migrate:
        if _migrate(store, quiet=True) != 0:
            return 1
        store = dataclasses.replace(store, migrate=False)
    with claim:
        return workers.run(
            _worker_args(args, store),
            args.workers,
            args.address,
            pin_cpus=args.pin_cpus,
            store=store.description,
            env={STORE_ENV: store.url},
        )


def stop_on_signals() -> threading.Event:
    """An event the first SIGTERM or SIGINT sets (call it from the main thread)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _wait(stop: threading.Event) -> None:
    """Wait for ``stop`` in short slices. A signal may be delivered to any thread; Python
    runs its handler in the main thread only once that thread runs bytecode again, so an
    untimed wait there could sleep through a SIGINT forever."""
    while not stop.wait(0.2):
        pass


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
    out += ["--max-batch-messages", str(args.max_batch_messages)]
    out += ["--max-batch-bytes", str(args.max_batch_bytes)]
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
    out += _given(
        ("--max-sessions-per-org", args.max_sessions_per_org),
        ("--max-sessions-per-owner", args.max_sessions_per_owner),
        ("--request-log", args.request_log),
    )
    if not args.recover:
        out.append("--no-recovery")
    if args.require_agent_instance:
        out.append("--require-agent-instance")
    return out + _transport_worker_args(args) + _auth_worker_args(args)


def _transport_worker_args(args: argparse.Namespace) -> list[str]:
    """The transport flags for a worker (paths made absolute: a worker checks them again)."""
    out = _given(
        *(
            (flag, None if path is None else os.path.abspath(path))
            for flag, path in (
                ("--tls-cert", args.tls_cert),
                ("--tls-key", args.tls_key),
                ("--tls-client-ca", args.tls_client_ca),
            )
        )
    )
    if args.insecure:
        out.append("--insecure")
    if not args.reflection:
        out.append("--no-reflection")
    return out


#: How ``check`` runs itself in a child process (a test points it elsewhere).
_CHECK_CHILD = [sys.executable, "-m", "stigmer_sessions.cli"]


def _admin_command(args: argparse.Namespace, argv: list[str], store: StoreOptions) -> int:
    """The commands other than serve."""
    if args.command == "check":
        return _check(args, argv, store)
    if args.command == "migrate":
        return _migrate(store)
    return _admin(args.command, store, getattr(args, "file", ""), getattr(args, "optional_indexes", None))


def _check(args: argparse.Namespace, argv: list[str], store: StoreOptions) -> int:
    """``check``: of an existing store only, in a child process (or, inside it, here).
    Only LMDB can abort the process on damaged data: PostgreSQL is checked right here."""
    if store.data_dir is None:
        return _check_here(store, None, [])
    try:
        _require_store(store.data_dir)
    except FailedPrecondition as exc:
        print(f"stigmer-sessions: check failed: {_reason(exc)}", file=sys.stderr)
        return 1
    return _check_here(store, args.journal, args.avoid) if args.journal else _check_isolated(argv)


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
    controller = _open(store, lambda: _controller(store, migrate=False, as_stored=True))
    if controller is None:
        return 1
    if journal is None:
        with controller:
            try:
                with _progress("check", _check_total(controller)) as progress:
                    return _report(controller.check(progress=progress))
            except ResourceError as exc:
                print(f"stigmer-sessions: check failed: {_reason(exc)}", file=sys.stderr)
                return 1
    stops: dict[str, bytes | None] = {}
    for entry in avoid:
        name, _, key = entry.partition("\t")
        stops[name] = bytes.fromhex(key) if key else None
    with controller, open(journal, "a", encoding="utf-8") as out:

        def write(name: str, key: bytes | None) -> None:
            out.write(name if key is None else f"{name}\t{key.hex()}")
            out.write("\n")
            out.flush()  # the engine may abort the process at any moment

        with _progress("check", _check_total(controller)) as progress:
            report = controller.check(progress=progress, avoid=stops, journal=write)
    return _report(report)


def _check_total(controller: SessionController) -> int | None:
    try:
        sizes = controller.sizes()
    except ResourceError:  # a damaged store: the check says what it can read, no total
        return None
    return sizes.records + sizes.children


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


def _reason(exc: BaseException) -> str:
    """One line for the user: a ResourceError's message, an OSError's text with its path."""
    if isinstance(exc, ResourceError):
        return exc.message
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def _claim(data_dir: str, command: str) -> data_dir_lock.DataDirLock:
    """This process's claim on ``data_dir``, creating the directory (as the store would)."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return data_dir_lock.claim(data_dir, command)


def _require_store(data_dir: str) -> None:
    """Admin commands other than import work on an existing store: opening a missing one
    would create an empty store and report on that."""
    path = os.path.abspath(data_dir)
    if not os.path.isdir(path):
        raise FailedPrecondition(f"no store at {path}: the directory does not exist")
    if not os.path.isfile(os.path.join(path, "data.mdb")):
        raise FailedPrecondition(f"no store at {path}: it has no data.mdb")


@contextlib.contextmanager
def _progress(command: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar (count, rate, ETA when the total is known) on stderr if it is a
    terminal; nothing at all otherwise (tqdm's ``disable=None``)."""
    with tqdm(total=total, desc=command, unit=" items", file=sys.stderr, disable=None, leave=False) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        yield advance


class _Lines:
    """The lines of a binary stream as text, each decoded on its own so that bad bytes are
    reported at their line; iterating again starts over (the store re-runs an import's
    write transaction when the map must grow)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._buffered: list[bytes] | None = None if stream.seekable() else stream.readlines()

    def __iter__(self) -> Iterator[str]:
        if self._buffered is None:
            self._stream.seek(0)
        for number, raw in enumerate(self._stream if self._buffered is None else self._buffered, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidArgument(f"line {number}: not UTF-8 text") from None

    def count(self) -> int | None:
        """How many lines there are (counting newlines: cheap), or None for a pipe."""
        if self._buffered is not None:
            return len(self._buffered)
        size = sum(chunk.count(b"\n") for chunk in iter(lambda: self._stream.read(1 << 20), b""))
        self._stream.seek(0)
        return size


def _export_to(file: str, write: Callable[[IO[str]], dict[str, int]]) -> dict[str, int]:
    """Write the export through a temp file beside ``file``, renamed over it only once
    complete: a failed export leaves no partial file (and an older export intact)."""
    target = Path(file)
    if target.is_dir():
        raise IsADirectoryError(21, "is a directory", file)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    except OSError as exc:  # name the file the user gave, not the temp file
        raise OSError(exc.errno, exc.strerror, file) from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # what open(file, "w") would have given it
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            counts = write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return counts


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


def _admin(
    command: str, store: StoreOptions, file: str, optional_indexes: tuple[str, ...] | None = None
) -> int:
    """Run an admin command but check (see _check_isolated): 0 on success, 1 for anything
    that went wrong, always with one clear line on stderr and never a traceback."""
    created = False
    claim: data_dir_lock.DataDirLock | None = None
    data_dir = store.data_dir  # None: PostgreSQL, where writers coexist and nothing is a directory
    try:
        if command == "import":
            lines = _Lines(sys.stdin.buffer if file == "-" else open(file, "rb"))  # noqa: SIM115
            # an import may create its store, nothing else
            created = data_dir is not None and not os.path.exists(data_dir)
        elif data_dir is not None:
            _require_store(data_dir)
        if command in ("reindex", "import") and data_dir is not None:  # not beside a server
            claim = _claim(data_dir, command)
        # import fills an empty store: it may create the schema; the others only read or repair
        # maintenance reads the store with the indexes it holds, whatever the serve flags
        migrate = None if command == "import" else False
        controller = _open(store, lambda: _controller(store, migrate=migrate, as_stored=True))
        if controller is None:
            return 1
        with controller:
            code = _run_admin(
                command, controller, file, lines if command == "import" else None, optional_indexes
            )
        created = created and code != 0
        return code
    except (ResourceError, OSError) as exc:
        what = "import failed, nothing was written" if command == "import" else f"{command} failed"
        print(f"stigmer-sessions: {what}: {_reason(exc)}", file=sys.stderr)
        return 1
    finally:
        if claim is not None:
            claim.release()
        if created and data_dir is not None:  # a failed import into a new directory leaves no store
            shutil.rmtree(data_dir, ignore_errors=True)


def _run_admin(
    command: str,
    controller: SessionController,
    file: str,
    lines: _Lines | None,
    optional_indexes: tuple[str, ...] | None = None,
) -> int:
    sizes = controller.sizes()  # check runs in a child process of its own: see _check_isolated
    if command == "reindex":
        with _progress("reindex", sizes.records) as progress:
            count = controller.reindex(progress=progress, optional_indexes=optional_indexes)
        kept = ", ".join(sorted(controller.kinds[0].with_optional(optional_indexes or ()).optional_kept))
        print(
            f"reindexed {count} sessions"
            + (f" (optional indexes: {kept or 'none'})" if optional_indexes is not None else "")
        )
        return 0
    if command == "export":
        with _progress("export", sizes.records + sizes.children + sizes.changes) as progress:
            if file == "-":
                counts = controller.export(sys.stdout, progress=progress)
            else:
                counts = _export_to(file, lambda out: controller.export(out, progress=progress))
        print(f"exported {json.dumps(counts)}", file=sys.stderr)
        return 0
    assert lines is not None
    total = lines.count()
    with _progress("import", None if total is None else max(total - 1, 0)) as progress:
        counts = controller.import_(lines, progress=progress)
    print(f"imported {json.dumps(counts)}", file=sys.stderr)
    return 0


def serve(
    store: StoreOptions | str, options: ServeOptions | None = None, *, stop: threading.Event | None = None
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop`` is set), then drain in-flight requests and
    close the store (``store``: its options, or an LMDB directory). Refuses a data dir
    another server (or a writing admin command) holds; the workers of ``--workers N``
    serve under their parent's claim. Replicas on one PostgreSQL database need no claim."""
    opts = options or ServeOptions()
    stop = stop or stop_on_signals()
    where = store if isinstance(store, StoreOptions) else StoreOptions.for_data_dir(store)
    data_dir = where.data_dir
    claim: data_dir_lock.DataDirLock | None = None
    try:
        if data_dir is None:
            pass
        elif opts.worker_index is None:
            claim = _claim(data_dir, "serve")
        elif not data_dir_lock.held_by(data_dir, os.getppid()):
            raise FailedPrecondition(f"worker of a server that does not hold {data_dir}")
    except (FailedPrecondition, OSError) as exc:
        print(f"stigmer-sessions: {_reason(exc)}", file=sys.stderr)
        return 1
    _log.info("starting", extra={"fields": {"store": where.description}})
    try:
        return _serve(where, opts, stop)
    finally:
        if claim is not None:
            claim.release()


def _serve(where: StoreOptions, opts: ServeOptions, stop: threading.Event) -> int:
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
        if opts.recover and leader and not stop.is_set():
            moved = controller.recover()
            if moved:
                _log.info(
                    "recovered live sessions",
                    extra={"fields": {"count": len(moved), "to_phase": opts.config.lifecycle.recovery_phase}},
                )
        if stop.is_set():
            _log.info("stopped during start-up")
            return 0
        _reloads(opts)
        try:
            running = start_server(
                controller,
                opts.address,
                max_workers=opts.max_workers,
                max_watchers=opts.max_watchers,
                max_watchers_per_client=opts.max_watchers_per_client,
                request_log=opts.request_log,
                reuse_port=opts.reuse_port,
                tls=opts.tls,
                reflection=opts.reflection,
                authenticator=opts.authenticator,
            )
        except OSError as exc:
            print(f"stigmer-sessions: {exc}", file=sys.stderr)
            return 1
        _log.info(
            "serving" if opts.worker_index is None else "worker ready",
            extra={
                "fields": {
                    "address": running.address,
                    "store": controller.store.description,
                    **({"data_dir": where.data_dir} if where.data_dir is not None else {}),
                    "durability": "durable" if opts.durable else "relaxed",
                    "lifecycle": opts.config.lifecycle.name,
                    "tls": "off" if opts.tls is None else "mutual" if opts.tls.mutual else "on",
                    "authentication": opts.authenticator.mechanisms if opts.authenticator else "off",
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
        _wait(stop)
        _log.info("shutting down", extra={"fields": {"address": running.address}})
        running.stop()
        if compaction is not None:
            compaction.stop()
    finally:
        controller.close()
        for handler in logging.getLogger().handlers:  # the batched request lines of the last calls
            handler.flush()
    return 0


def _reloads(opts: ServeOptions) -> Reloads:
    """What SIGHUP re-reads while serving, installed when serving from the main thread (a
    server embedded in a thread leaves the process's signals alone). Installed even with
    nothing to re-read: SIGHUP's default would end the server."""
    reloads = Reloads()
    if opts.authenticator is not None:
        for what, callback in opts.authenticator.reloads():
            reloads.add(what, callback)
    tls = opts.tls
    if tls is not None:

        def reload_tls() -> None:
            material = tls.reload()
            _log.info(
                "TLS certificate loaded",
                extra={"fields": {"serial": f"{material.serial:x}", "sha256": material.fingerprint}},
            )

        reloads.add("TLS certificate", reload_tls)
    if threading.current_thread() is threading.main_thread():
        reloads.on_sighup()
    return reloads


if __name__ == "__main__":
    sys.exit(main())
