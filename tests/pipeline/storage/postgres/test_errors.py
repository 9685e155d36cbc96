"""Engine failures become library errors with safe messages; the pool recovers by itself."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import uuid
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pipeline.errors import Internal, ResourceError, Unavailable
from pipeline.storage.postgres import PostgresStorage
from pipeline.storage.postgres.stores import PgTx
from tests.pipeline.storage.postgres.conftest import StorageFactory, admin, admin_dsn, terminate_backends


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_an_unreachable_database_is_unavailable_naming_host_and_port_not_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    dsn = f"postgresql://alice:s3cret-pw@127.0.0.1:{port}/sessions"
    outcome: list[BaseException] = []

    def start() -> None:
        try:
            PostgresStorage(dsn, connect_timeout_s=1.0)
        except BaseException as exc:
            outcome.append(exc)

    caplog.set_level(logging.DEBUG)
    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    thread.join(timeout=60)  # a bound against hanging forever, far above the 1 s connect timeout
    assert not thread.is_alive(), "start-up ignored its connect timeout"
    assert len(outcome) == 1
    assert isinstance(outcome[0], Unavailable)
    assert f"127.0.0.1:{port}" in outcome[0].message
    assert "s3cret-pw" not in outcome[0].message
    assert "s3cret-pw" not in caplog.text


def test_description_names_user_host_port_and_database_only(pg_dsn: str) -> None:
    dsn = make_conninfo(pg_dsn, password="s3cret-pw")
    storage = PostgresStorage(dsn, pool_size=1)
    try:
        info = conninfo_to_dict(pg_dsn)
        assert (
            storage.description
            == f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"
        )
        assert "s3cret-pw" not in storage.description
    finally:
        storage.close()


def test_a_statement_timeout_is_unavailable(open_storage: StorageFactory) -> None:
    storage = open_storage(statement_timeout_s=0.05)
    with pytest.raises(Unavailable, match=r"timed out after 0\.05 s"):
        storage.read(lambda tx: tx.execute("SELECT pg_sleep(5)"))
    assert storage.read(lambda tx: tx.changes.current_revision()) == 0  # the pool is fine


def test_an_engine_error_is_internal_with_its_text_only_in_the_log(
    pg: PostgresStorage, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(Internal) as err:
        pg.read(lambda tx: tx.execute("SELECT * FROM no_such_table"))
    assert "no_such_table" not in err.value.message
    assert any(r.levelno == logging.ERROR and "no_such_table" in r.getMessage() for r in caplog.records)


def test_a_swallowed_engine_error_still_fails_the_write_and_writes_nothing(pg: PostgresStorage) -> None:
    def sloppy(tx: PgTx) -> str:
        tx.counters.add(("a",), 1)
        # a callback must not be able to turn a failed transaction into a "success"
        with contextlib.suppress(ResourceError):
            tx.execute("SELECT * FROM no_such_table")
        return "done"

    before = pg.snapshot()
    with pytest.raises(Internal):
        pg.write(sloppy)
    assert pg.snapshot() == before


def test_cut_connections_are_replaced_without_an_error(
    pg_schema: tuple[str, str], pg: PostgresStorage
) -> None:
    pg.write(lambda tx: tx.counters.add(("n",), 1))
    assert terminate_backends(pg_schema[0]) >= 1
    assert pg.write(lambda tx: tx.counters.add(("n",), 1)) == 2


def test_a_database_lost_while_serving_is_unavailable_then_recovers(open_storage: StorageFactory) -> None:
    db = f"stigmer_lost_{uuid.uuid4().hex[:12]}"  # parallel runs on one cluster must not collide
    admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    admin(f"CREATE DATABASE {db}")
    try:
        storage = open_storage(dsn=make_conninfo(admin_dsn(), dbname=db), connect_timeout_s=1.0)
        storage.write(lambda tx: tx.counters.add(("n",), 1))
        admin(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
        admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db,))

        def add(tx: PgTx) -> Any:
            return tx.counters.add(("n",), 1)

        with pytest.raises(Unavailable, match="unavailable") as err:
            storage.write(add)
        assert storage.where in err.value.message
        admin(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
        assert _eventually(lambda: storage.write(add)) == 2  # recovered, no restart needed
        storage.close()
    finally:
        admin(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
        admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _eventually(fn: Any, attempts: int = 120) -> Any:
    """``fn()`` once it stops raising Unavailable (a bound, not a speed claim)."""
    for _ in range(attempts - 1):
        try:
            return fn()
        except Unavailable:
            time.sleep(0.25)
    return fn()
