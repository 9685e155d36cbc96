"""The PostgreSQL backend: a connection pool, units of work with re-runs, migrations, a follower.

Isolation: a read is ``REPEATABLE READ READ ONLY`` (one snapshot for the whole callback, so a
scan fetched in keyset batches is consistent); a write is ``READ COMMITTED`` made atomic by
row locks (records read FOR UPDATE, the change-log head, quota lock rows, request claims)
and constraints (unique entries). Conflicts those leave (unique violations, deadlocks,
serialization failures) re-run the whole callback, which is re-runnable by contract.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import select
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from pipeline.errors import Aborted, FailedPrecondition, Internal, Unavailable
from pipeline.keycodec import pack
from pipeline.resource import ResourceKind
from pipeline.storage import CheckReport
from pipeline.storage.postgres import migrations, sql
from pipeline.storage.postgres.errors import is_retryable, translate
from pipeline.storage.postgres.stores import PgTx, Rerun

T = TypeVar("T")
log = logging.getLogger("pipeline.storage.postgres")

#: How many times a conflicting write is run again before giving up with ABORTED.
MAX_RERUNS = 20


def channel_for(schema: str) -> str:
    """The NOTIFY channel of the store in ``schema``: channels are per database, so two
    stores in one database (schemas) get their own, or each would wake the other's
    watchers. Hashed: a channel name is at most 63 bytes, a schema name may be as long."""
    return f"stigmer_changes_{hashlib.sha256(schema.encode()).hexdigest()[:16]}"


#: How long the listener sleeps on a quiet connection before it looks again: a safety net
#: only (a notification, a dropped connection or a stop each wake it at once).
_LISTEN_WAIT_S = 5.0
_TABLES = (
    ("records", "kind, id"),
    ("unique_entries", "kind, idx, key"),
    ("index_entries", "kind, idx, key, id"),
    ("changes", "revision"),
    ("change_head", "id"),
    ("children", "kind, parent_id, seq"),
    ("requests", "kind, request_id"),
    ("counters", "name"),
    ("locks", "name"),
    ("schema_version", "id"),
    ("index_sets", "kind"),
)


def describe(dsn: str) -> tuple[str, str]:
    """(``host:port``, ``postgresql://user@host:port/dbname``) of ``dsn``: never its password."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise FailedPrecondition("the PostgreSQL connection string is malformed") from exc
    host = str(info.get("host") or "localhost")
    where = f"{host}:{info.get('port') or 5432}"
    user = f"{info['user']}@" if info.get("user") else ""
    return where, f"postgresql://{user}{where}/{info.get('dbname') or ''}"


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))


class PostgresStorage:
    """A :class:`pipeline.storage.Storage` on a PostgreSQL database many processes may share."""

    poll_s: float | None = 1.0  # NOTIFY is only a wake-up; watchers poll the log too

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 8,
        statement_timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        migrate: bool = True,
    ) -> None:
        self._dsn = dsn
        self.where, self._description = describe(dsn)
        self.statement_timeout_s = statement_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._pool_size = pool_size
        self._followers: set[Callable[[], None]] = set()
        self._followers_lock = threading.Lock()
        timeout_ms = max(int(statement_timeout_s * 1000), 1)

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"SET statement_timeout = {timeout_ms}")

        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": max(int(connect_timeout_s), 1)}
        if "application_name" not in conninfo_to_dict(dsn):
            kwargs["application_name"] = "stigmer-sessions"  # so an operator can tell our sessions apart
        self._connect_kwargs = kwargs
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            kwargs=self._connect_kwargs,
            configure=configure,
            timeout=connect_timeout_s,
            # psycopg-pool backs reconnect attempts off exponentially until this long: kept short,
            # the next request starts a fresh attempt at once, so service resumes promptly
            # once the database is back instead of after a minutes-long backoff.
            reconnect_timeout=max(connect_timeout_s, 1.0),
            open=False,
            name="stigmer",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except PoolTimeout as exc:
            self._pool.close()
            raise Unavailable(
                f"the database at {self.where} is unavailable: no connection within {connect_timeout_s:g} s"
            ) from exc
        try:
            with self._pool.connection() as conn:
                row = conn.execute("SELECT current_schema()").fetchone()
            self.channel = channel_for(str(row[0]) if row and row[0] else "")
            if migrate:
                self.migrate()
            else:
                self._require_current_schema()
        except psycopg.Error as exc:
            self._pool.close()
            raise translate(exc, self.where, statement_timeout_s) from exc
        except BaseException:
            self._pool.close()
            raise

    @property
    def description(self) -> str:
        return self._description

    # -- units of work -------------------------------------------------------------------

    def read(self, fn: Callable[[PgTx], T]) -> T:
        return self._run(fn, write=False, begin="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def write(self, fn: Callable[[PgTx], T]) -> T:
        return self._run(fn, write=True, begin="BEGIN ISOLATION LEVEL READ COMMITTED")

    def _run(self, fn: Callable[[PgTx], T], *, write: bool, begin: str) -> T:
        stale = 0
        attempt = 0
        while True:
            try:
                with self._pool.connection() as conn:
                    try:
                        conn.execute(begin)
                    except psycopg.OperationalError as exc:
                        # A pooled connection the database dropped (restart, failover): nothing ran
                        # yet, so take another; the pool replaces the broken one.
                        stale += 1
                        if stale > self._pool_size:
                            raise translate(exc, self.where, self.statement_timeout_s) from exc
                        continue
                    tx = PgTx(conn, self, write=write)
                    outcome = self._attempt(conn, tx, fn)
            except PoolTimeout as exc:
                raise Unavailable(
                    f"the database at {self.where} is unavailable: no connection within "
                    f"{self._connect_timeout_s:g} s; retry later"
                ) from exc
            if outcome is not _RERUN:
                return outcome  # type: ignore[return-value]
            attempt += 1
            if attempt >= MAX_RERUNS:
                raise Aborted(
                    f"the transaction conflicted with concurrent writes {MAX_RERUNS} times in a row; retry it"
                )
            _backoff(attempt)

    def _attempt(self, conn: psycopg.Connection[Any], tx: PgTx, fn: Callable[[PgTx], T]) -> object:
        try:
            result = fn(tx)
        except BaseException as exc:
            _rollback(conn)
            if isinstance(exc, Exception) and (tx.rerun is not None or isinstance(exc, Rerun)):
                return _RERUN
            raise
        if tx.rerun is not None:  # the callback swallowed the conflict: still a re-run
            _rollback(conn)
            return _RERUN
        if tx.failed is not None:  # ... or swallowed an error: COMMIT would silently roll back
            _rollback(conn)
            raise tx.failed
        try:
            conn.execute("COMMIT")
        except psycopg.Error as exc:
            _rollback(conn)
            if is_retryable(exc):
                return _RERUN
            raise translate(exc, self.where, self.statement_timeout_s) from exc
        return result

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema up to :data:`migrations.LATEST` in one transaction; concurrent
        starters queue on the ``schema_version`` row. Returns the version now in place."""
        for attempt in range(MAX_RERUNS):
            try:
                with self._pool.connection() as conn:
                    return self._migrate_once(conn)
            except psycopg.Error as exc:
                if not is_retryable(exc):  # two starters creating schema_version at once: retry
                    raise translate(exc, self.where, self.statement_timeout_s) from exc
                _backoff(attempt)
            except PoolTimeout as exc:
                raise Unavailable(f"the database at {self.where} is unavailable") from exc
        raise Aborted("the schema migration kept conflicting with another starter; retry it")

    def _migrate_once(self, conn: psycopg.Connection[Any]) -> int:
        conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(id smallint PRIMARY KEY CHECK (id = 1), version int NOT NULL)"
            )
            conn.execute("INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING")
            row = conn.execute("SELECT version FROM schema_version WHERE id = 1 FOR UPDATE").fetchone()
            version = int(row[0]) if row else 0
            self._refuse_newer(version)
            for number, name in migrations.MIGRATIONS:
                if number > version:
                    log.info("applying schema migration %s to %s", name, self._description)
                    conn.execute(migrations.sql(name).encode())
                    conn.execute("UPDATE schema_version SET version = %s WHERE id = 1", (number,))
                    version = number
            conn.execute("COMMIT")
            return version
        except BaseException:
            _rollback(conn)
            raise

    def schema_version(self) -> int:
        """The schema version in the database (0: none yet)."""

        def get(tx: PgTx) -> int:
            exists = tx.one("SELECT to_regclass('schema_version') IS NOT NULL")[0]
            if not exists:
                return 0
            row = tx.one("SELECT version FROM schema_version WHERE id = 1")
            return 0 if row is None else int(row[0])

        return self.read(get)

    def _require_current_schema(self) -> None:
        version = self.schema_version()
        self._refuse_newer(version)
        if version < migrations.LATEST:
            raise FailedPrecondition(
                f"the database schema is version {version}; this stigmer-sessions needs "
                f"{migrations.LATEST}: run `stigmer-sessions migrate`"
            )

    @staticmethod
    def _refuse_newer(version: int) -> None:
        if version > migrations.LATEST:
            raise FailedPrecondition(
                f"the database schema is version {version}; this stigmer-sessions knows up to "
                f"{migrations.LATEST}: upgrade stigmer-sessions"
            )

    # -- watchers ------------------------------------------------------------------------

    def follow(self, on_revision: Callable[[int], None]) -> Callable[[], None]:
        """LISTEN on a dedicated connection in a daemon thread; reconnect with backoff when
        the database goes away, and after reconnecting announce the current revision (what
        was notified meanwhile is lost, the log is not). The returned stopper (and
        :meth:`close`) ends the listener at once: it waits on its socket and on a wake-up
        pipe together, so stopping never waits out a poll interval."""
        stop = threading.Event()
        wake_r, wake_w = os.pipe()
        thread = threading.Thread(
            target=self._listen, args=(on_revision, stop, wake_r), name="stigmer-pg-follow", daemon=True
        )

        def stopper() -> None:
            with self._followers_lock:
                if stopper not in self._followers:
                    return  # stopped already
                self._followers.discard(stopper)
            stop.set()
            os.write(wake_w, b"x")
            thread.join(timeout=5.0)
            os.close(wake_w)
            if not thread.is_alive():
                os.close(wake_r)

        with self._followers_lock:
            self._followers.add(stopper)
        thread.start()
        return stopper

    def _listen(self, on_revision: Callable[[int], None], stop: threading.Event, wake: int) -> None:
        delay = 0.1
        connected_before = False
        while not stop.is_set():
            try:
                with psycopg.connect(self._dsn, **self._connect_kwargs) as conn:
                    conn.execute(f"LISTEN {self.channel}")  # a hex name: nothing to quote
                    if connected_before:
                        row = conn.execute("SELECT current FROM change_head WHERE id = 1").fetchone()
                        _announce(on_revision, int(row[0]) if row else 0)
                    connected_before, delay = True, 0.1
                    while not stop.is_set():
                        # Drain first: notifications that came with a reply are buffered
                        # by psycopg and never make the socket readable again.
                        for notice in conn.notifies(timeout=0):
                            _announce(on_revision, int(notice.payload))
                        readable, _, _ = select.select([conn.fileno(), wake], [], [], _LISTEN_WAIT_S)
                        if wake in readable:
                            return
            except psycopg.Error as exc:
                log.warning("change listener lost the database at %s: %s", self.where, exc)
            stop.wait(delay)
            delay = min(delay * 2, 5.0)

    # -- maintenance ---------------------------------------------------------------------

    def check(
        self, kinds: Iterable[ResourceKind[Any]], progress: Callable[[int], None] | None = None
    ) -> CheckReport:
        kinds = list(kinds)
        return self.read(lambda tx: _check(tx, kinds, progress))

    def reindex(
        self, kinds: Iterable[ResourceKind[Any]], progress: Callable[[int], None] | None = None
    ) -> int:
        """Rebuild the entries of ``kinds`` from their records. The records are locked FOR
        SHARE as they are read, so no writer changes one under the rebuild."""
        kinds = list(kinds)
        return self.write(lambda tx: _reindex(tx, kinds, progress))

    @property
    def shared(self) -> bool:
        return True

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        def rows(tx: PgTx) -> dict[str, list[tuple[Any, ...]]]:
            return {
                table: [
                    tuple(row) for row in tx.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
                ]
                for table, order in _TABLES
            }

        return self.read(rows)

    def is_empty(self) -> bool:
        return self.read(lambda tx: tx.is_empty())

    def close(self) -> None:
        """Stop every listener still following (a follower left running would reconnect
        on its own connection forever), then close the pool."""
        with self._followers_lock:
            followers = list(self._followers)
        for stop in followers:
            stop()
        self._pool.close()


_RERUN = object()


def _announce(on_revision: Callable[[int], None], revision: int) -> None:
    """A failing watcher callback must not stop the listener for every other watcher."""
    try:
        on_revision(revision)
    except Exception:
        log.exception("a change listener callback failed on revision %d", revision)


def _rollback(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):  # a broken connection: the pool discards it
        conn.execute("ROLLBACK")


def _expected_entries(kind: ResourceKind[Any], record: Any) -> set[tuple[str, bytes, str, bool]]:
    return {
        (index.name, pack(*values), record.metadata.id, index.unique)
        for index in kind.indexes
        for values in set(index.values(record))
    }


class _Progress:
    """The protocol's ``progress(n)``: n more items done (an admin command's bar adds them
    up), batched so that a large table costs a callback per thousand items, not per item."""

    EVERY = 1000

    def __init__(self, report: Callable[[int], None] | None) -> None:
        self._report, self._pending = report, 0

    def add(self, n: int = 1) -> None:
        self._pending += n
        if self._pending >= self.EVERY:
            self.flush()

    def flush(self) -> None:
        if self._report is not None and self._pending:
            self._report(self._pending)
        self._pending = 0


def _check(tx: PgTx, kinds: list[ResourceKind[Any]], progress: Callable[[int], None] | None) -> CheckReport:
    """Progress counts records and child records read, as LMDB's check does."""
    report = CheckReport()
    done = _Progress(progress)
    for kind in kinds:
        _check_kind(tx, kind, report, done)
    names = {k.name for k in kinds}
    for kind_name, parent_id, count in tx.children.parents():
        report.children += count
        done.add(count)
        if kind_name in names:
            row = tx.one("SELECT 1 FROM records WHERE kind = %s AND id = %s", (kind_name, parent_id))
            if row is None:
                report.problems.append(f"{count} children of missing {kind_name} {parent_id}")
    _check_changes(tx, report)
    report.requests = int(tx.one("SELECT count(*) FROM requests")[0])
    done.flush()
    return report


def _check_kind(tx: PgTx, kind: ResourceKind[Any], report: CheckReport, done: _Progress) -> None:
    """Parse every record of ``kind`` and compare the entries it implies with those stored:
    records and entries are streamed in id order and merged, so memory stays at one record's
    entries however large the table is."""
    entries = tx.stream(
        "SELECT id, idx, key, true FROM unique_entries WHERE kind = %s UNION ALL "
        "SELECT id, idx, key, false FROM index_entries WHERE kind = %s ORDER BY 1",
        (kind.name, kind.name),
    )
    pending: tuple[Any, ...] | None = next(entries, None)

    def stored_up_to(record_id: str | None) -> set[tuple[str, bytes, str, bool]]:
        """Entries of ids before ``record_id`` are stray; returns those of ``record_id``."""
        nonlocal pending
        own: set[tuple[str, bytes, str, bool]] = set()
        while pending is not None and (record_id is None or pending[0] <= record_id):
            entry_id, idx, key, unique = pending
            report.index_entries += 1
            if entry_id == record_id:
                own.add((idx, bytes(key), entry_id, unique))
            else:
                report.problems.append(f"{kind.name} {entry_id}: stray entry {bytes(key)!r} in index {idx}")
            pending = next(entries, None)
        return own

    for record_id, data in tx.stream(
        "SELECT id, data FROM records WHERE kind = %s ORDER BY id", (kind.name,)
    ):
        report.records += 1
        actual = stored_up_to(record_id)
        try:
            record = kind.message_type.FromString(data)
        except Exception as exc:  # DecodeError
            report.problems.append(f"{kind.name} {record_id}: unreadable record ({exc})")
            continue
        if record.metadata.id != record_id:
            report.problems.append(f"{kind.name} {record_id}: stored under another id than its own")
        expected = _expected_entries(kind, record)
        for idx, key, _, _ in sorted(expected - actual):
            report.problems.append(f"{kind.name} {record_id}: missing entry {key!r} in index {idx}")
        for idx, key, _, _ in sorted(actual - expected):
            report.problems.append(f"{kind.name} {record_id}: stray entry {key!r} in index {idx}")
        done.add()
    stored_up_to(None)


def _check_changes(tx: PgTx, report: CheckReport) -> None:
    """The retained log is exactly oldest..current, without a gap; a gap is reported with
    the first revisions it lacks (what an operator restoring them needs), as LMDB does."""
    count, high = tx.one("SELECT count(*), max(revision) FROM changes")
    current, oldest = tx.one("SELECT current, oldest FROM change_head WHERE id = 1")
    oldest = max(int(oldest), 1)
    report.changes = int(count)
    (outside,) = tx.one(
        "SELECT count(*) FROM changes WHERE revision < %s OR revision > %s", (oldest, current)
    )
    missing = max(current - oldest + 1, 0) - (count - outside)
    if missing:
        # Each gap lies between a revision and the next one; the window's ends count as
        # revisions so that gaps at either end are found. One pass over the primary key.
        gaps = tx.execute(
            "SELECT prev + 1, next - 1 FROM ("
            " SELECT revision AS prev, lead(revision) OVER (ORDER BY revision) AS next FROM ("
            "  SELECT revision FROM changes WHERE revision BETWEEN %s AND %s"
            "  UNION ALL SELECT %s::bigint - 1 UNION ALL SELECT %s::bigint + 1) AS r) AS g "
            "WHERE next > prev + 1 ORDER BY prev LIMIT %s",
            (oldest, current, oldest, current, _MISSING_SHOWN),
        ).fetchall()
        first = [r for start, end in gaps for r in range(start, min(end, start + _MISSING_SHOWN) + 1)]
        shown = ", ".join(map(str, first[:_MISSING_SHOWN])) + (", ..." if missing > _MISSING_SHOWN else "")
        report.problems.append(
            f"change log: {missing} revisions missing between {oldest} and {current}: {shown}"
        )
    if outside:
        report.problems.append(
            f"change log: {outside} entries outside the window {oldest}..{current} "
            f"(the current marker does not match the last entry {high})"
        )


#: How many missing revisions a check names (the count says how many there are in all).
_MISSING_SHOWN = 10


def _reindex(tx: PgTx, kinds: list[ResourceKind[Any]], progress: Callable[[int], None] | None) -> int:
    """Delete the entries of each kind, then insert those its records imply, streaming the
    records (locked FOR SHARE as read: no writer changes one under the rebuild) and writing
    entries in pipelined batches. A writer that slips an entry in meanwhile at worst makes
    the whole unit re-run; two records claiming one unique entry stop it with a clear error."""
    done = 0
    told = _Progress(progress)
    for kind in kinds:
        tx.execute("DELETE FROM unique_entries WHERE kind = %s", (kind.name,))
        tx.execute("DELETE FROM index_entries WHERE kind = %s", (kind.name,))
        holders: dict[tuple[str, bytes], str] = {}
        unique: list[tuple[str, str, bytes, str]] = []
        plain: list[tuple[str, str, bytes, str]] = []
        query = "SELECT id, data FROM records WHERE kind = %s ORDER BY id FOR SHARE"
        for record_id, data in tx.stream(query, (kind.name,)):
            try:
                record = kind.message_type.FromString(data)
            except Exception as exc:  # DecodeError
                raise Internal(f"cannot reindex: {kind.name} {record_id} is unreadable ({exc})") from exc
            for idx, key, _, is_unique in _expected_entries(kind, record):
                if is_unique:
                    other = holders.setdefault((idx, key), record_id)
                    if other != record_id:
                        raise FailedPrecondition(
                            f"cannot reindex: {kind.name} {other} and {record_id} share {idx} {key!r}"
                        )
                (unique if is_unique else plain).append((kind.name, idx, key, record_id))
            done += 1
            told.add()
            if len(unique) + len(plain) >= 1000:
                _flush_entries(tx, unique, plain)
        _flush_entries(tx, unique, plain)
        tx.index_sets.put(kind.name, tuple(i.name for i in kind.indexes))
    told.flush()
    return done


def _flush_entries(
    tx: PgTx, unique: list[tuple[str, str, bytes, str]], plain: list[tuple[str, str, bytes, str]]
) -> None:
    tx.execute_many(sql.UNIQUE_INSERT, unique)
    tx.execute_many(sql.INDEX_INSERT, plain)
    unique.clear()
    plain.clear()


__all__ = ["MAX_RERUNS", "PostgresStorage"]
