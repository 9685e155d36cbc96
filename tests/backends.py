"""The storage backends the tests run against: LMDB always, PostgreSQL when one is given.

PostgreSQL comes from ``STIGMER_SESSIONS_TEST_PG`` (a DSN; ``.ci/run`` starts a throwaway
cluster and sets it, see ``tools/pg_cluster.py``). Each test gets a schema of its own, so
tests never see each other's rows. Without the variable the PostgreSQL cases are skipped
with a reason, except in CI (``CI=true``), where a missing database is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pipeline.storage import Storage
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.postgres import PostgresStorage

BACKENDS = ("lmdb", "postgres")
PG_ENV = "STIGMER_SESSIONS_TEST_PG"


def pg_dsn() -> str:
    """The test cluster's DSN; skips (or, in CI, fails) when there is none."""
    dsn = os.environ.get(PG_ENV, "")
    if not dsn:
        message = f"no PostgreSQL for the tests: set {PG_ENV} (python tools/pg_cluster.py start)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs PostgreSQL: {message}")
        pytest.skip(message)
    return dsn


@contextmanager
def pg_schema() -> Iterator[str]:
    """A DSN whose connections use a fresh, empty schema (dropped afterwards)."""
    dsn = pg_dsn()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{separator}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@contextmanager
def open_backend(name: str, tmp_path: Path, **options: Any) -> Iterator[Storage]:
    """A fresh, empty store of backend ``name``, closed afterwards."""
    if name == "lmdb":
        lmdb_storage = LmdbStorage(tmp_path / "db", durable=options.pop("durable", False), **options)
        try:
            yield lmdb_storage
        finally:
            lmdb_storage.close()
        return
    with pg_schema() as dsn:
        pg_storage = PostgresStorage(dsn, **options)
        try:
            yield pg_storage
        finally:
            pg_storage.close()


#: The password of the role ``pg_database`` creates: tests assert it never shows up.
PG_PASSWORD = "s3cret-Never-Logged"


@contextmanager
def pg_database() -> Iterator[str]:
    """A DSN (with a password) for a fresh database owned by a fresh role; both dropped
    afterwards. A database of its own lets a test refuse and cut its connections
    (``ALTER DATABASE ... ALLOW_CONNECTIONS false``) without touching other tests. The
    test cluster trusts local connections, so the password is carried but not checked."""
    admin = pg_dsn()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{PG_PASSWORD}'")
        conn.execute(f"CREATE DATABASE {name} OWNER {name}")
    info = psycopg.conninfo.conninfo_to_dict(admin)
    try:
        yield f"postgresql://{name}:{PG_PASSWORD}@{info.get('host')}:{info.get('port')}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {name}")


def pg_admin(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement as the test cluster's superuser; its rows (if any)."""
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        cur = conn.execute(sql.encode(), params or None)
        return list(cur.fetchall()) if cur.description else []


#: Runs a test that reaches the ``backend`` fixture (through ``storage``, ``store``,
#: ``controller``, ``run_step``, ``server``, ``stubs``, ...) on LMDB alone, for tests of what
#: only LMDB has (its raw tables, engine faults, page journal); its id stays ``[lmdb]``.
LMDB_ONLY = pytest.mark.parametrize("backend", ["lmdb"])
