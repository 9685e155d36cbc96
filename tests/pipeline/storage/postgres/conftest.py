"""Fixtures for the PostgreSQL tier: a database from ``STIGMER_SESSIONS_TEST_PG``, a fresh schema
per test (isolation without a database per test: the backend writes every statement
unqualified and the DSN sets ``search_path``).

Start a cluster with ``eval "$(python tools/pg_cluster.py start)"``. Without the variable these
tests skip, except in CI (``CI=true``), where a missing database is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pipeline.storage.postgres import PostgresStorage

ENV = "STIGMER_SESSIONS_TEST_PG"


def admin_dsn() -> str:
    dsn = os.environ.get(ENV, "")
    if not dsn:
        reason = f"{ENV} is not set: start a cluster with tools/pg_cluster.py start"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return dsn


def admin(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the test database outside any schema under test."""
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []


def create_schema() -> tuple[str, str]:
    """(schema name, DSN that works in it): a fresh, empty schema of the test database."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin(f"CREATE SCHEMA {name}")
    return name, make_conninfo(admin_dsn(), options=f"-csearch_path={name}", application_name=name)


def drop_schema(name: str) -> None:
    admin(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, str]]:
    name, dsn = create_schema()
    yield name, dsn
    drop_schema(name)


@pytest.fixture
def pg_dsn(pg_schema: tuple[str, str]) -> str:
    return pg_schema[1]


StorageFactory = Callable[..., PostgresStorage]


@pytest.fixture
def open_storage(pg_dsn: str) -> Iterator[StorageFactory]:
    """Open storages on the test schema (options as for PostgresStorage); all closed after."""
    opened: list[PostgresStorage] = []

    def open_(**options: Any) -> PostgresStorage:
        options.setdefault("pool_size", 4)
        options.setdefault("connect_timeout_s", 5.0)
        storage = PostgresStorage(options.pop("dsn", pg_dsn), **options)
        opened.append(storage)
        return storage

    yield open_
    for storage in opened:
        storage.close()


@pytest.fixture
def pg(open_storage: StorageFactory) -> PostgresStorage:
    return open_storage()


def terminate_backends(application_name: str) -> int:
    """Cut every connection made with ``application_name`` (the DSN of :func:`create_schema`
    names its schema): what a database restart or failover does to a server's pool."""
    rows = admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid()",
        (application_name,),
    )
    return len(rows)
