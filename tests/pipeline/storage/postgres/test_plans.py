"""Every request-path statement reads through a B-tree on a loaded, analyzed database.

Checked both as planned for the given values and as the generic plan a prepared statement
ends up with (psycopg prepares a statement after a few executions), with the planner left
free to choose a sequential scan: the indexes have to be right.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from psycopg import sql as pgsql

from pipeline.keycodec import pack
from pipeline.storage.postgres import PostgresStorage, sql
from tests.pipeline.storage.postgres.conftest import StorageFactory, create_schema, drop_schema

ROWS = 3000


def load(conn: psycopg.Connection[Any]) -> None:
    """A few thousand rows per table, spread like real data: several kinds, orgs, parents."""
    ids = [f"id_{i:06d}" for i in range(ROWS)]
    data = b"x" * 600  # a record is a few hundred bytes, much wider than an index entry
    with conn.cursor() as cur:
        for kind in ("k", "other"):
            cur.executemany(
                "INSERT INTO records (kind, id, data) VALUES (%s, %s, %s)", [(kind, i, data) for i in ids]
            )
            cur.executemany(
                "INSERT INTO unique_entries (kind, idx, key, id) VALUES (%s, 'slug', %s, %s)",
                [(kind, pack("o1", i), i) for i in ids],
            )
            cur.executemany(
                "INSERT INTO index_entries (kind, idx, key, id) VALUES (%s, %s, %s, %s)",
                [(kind, idx, pack(f"o{n % 20}"), i) for n, i in enumerate(ids) for idx in ("org", "tag")],
            )
        cur.executemany(
            "INSERT INTO changes (revision, kind, resource_id, org, time_ns, data) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(n + 1, ("k", "other")[n % 2], ids[n % 300], pack(f"o{n % 20}"), n, data) for n in range(ROWS)],
        )
        cur.executemany(
            "INSERT INTO children (kind, parent_id, seq, data) VALUES ('k', %s, %s, %s)",
            [(ids[n % 100], n, data) for n in range(ROWS)],
        )
        cur.executemany(
            "INSERT INTO requests (kind, request_id, expires_at_ns, fingerprint, response) "
            "VALUES ('k', %s, %s, %s, %s)",
            [(f"r{n}".encode(), 10**18 + n, b"f" * 32, data) for n in range(ROWS)],
        )
        cur.executemany("INSERT INTO counters (name, value) VALUES (%s, 1)", [(pack(i),) for i in ids])
        cur.executemany("INSERT INTO locks (name) VALUES (%s)", [(pack("count", i),) for i in ids])
    settle(conn)


def settle(conn: psycopg.Connection[Any]) -> None:
    """VACUUM ANALYZE until every page is marked all-visible, the steady state autovacuum keeps
    a long-lived table in (a VACUUM that overlaps another snapshot, autovacuum's own ANALYZE
    for one, cannot mark the newest pages). Index-only scans depend on it."""
    for _ in range(50):
        conn.execute("VACUUM ANALYZE")
        behind = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relallvisible < c.relpages"
        ).fetchone()
        if behind == (0,):
            return
        time.sleep(0.1)
    raise AssertionError("the loaded tables never became all-visible")


@pytest.fixture(scope="module")
def loaded() -> Any:
    """One loaded schema for the whole module (loading is the slow part)."""
    name, dsn = create_schema()
    PostgresStorage(dsn, pool_size=1).close()
    conn = psycopg.connect(dsn, autocommit=True)
    load(conn)
    yield conn
    conn.close()
    drop_schema(name)


_TYPES = {str: "text", bytes: "bytea", int: "bigint"}


def plan(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...], *, generic: bool) -> str:
    """EXPLAIN of ``query``: planned for ``params``, or (``generic``) the plan a prepared
    statement uses for any parameters, which is what a hot request path may run."""
    conn.execute("BEGIN")
    try:
        if not generic:
            rows = conn.execute(f"EXPLAIN {query}", params, prepare=False).fetchall()
        else:
            numbered = query
            for n in range(1, len(params) + 1):
                numbered = numbered.replace("%s", f"${n}", 1)
            types = ", ".join(_TYPES[type(p)] for p in params)
            conn.execute(f"PREPARE plan_check ({types}) AS {numbered}", prepare=False)
            conn.execute("SET LOCAL plan_cache_mode = force_generic_plan", prepare=False)
            explain = pgsql.SQL("EXPLAIN EXECUTE plan_check ({})").format(
                pgsql.SQL(", ").join(pgsql.Literal(p) for p in params)
            )
            rows = conn.execute(explain, prepare=False).fetchall()
        return "\n".join(r[0] for r in rows)
    finally:
        conn.execute("ROLLBACK")
        if generic:
            conn.execute("DEALLOCATE plan_check", prepare=False)


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
@pytest.mark.parametrize("name", sorted(sql.REQUEST_PATH))
def test_request_path_statement_uses_an_index(
    loaded: psycopg.Connection[Any], name: str, generic: bool
) -> None:
    query, params = sql.REQUEST_PATH[name]
    text = plan(loaded, query, params, generic=generic)
    assert "Seq Scan" not in text, f"{name}:\n{text}"
    assert "Index" in text or "Result" in text, f"{name}:\n{text}"


def test_the_plan_check_sees_a_sequential_scan_when_there_is_one(loaded: psycopg.Connection[Any]) -> None:
    text = plan(loaded, "SELECT id FROM records WHERE data = %s", (b"x",), generic=False)
    assert "Seq Scan" in text


def test_every_table_is_loaded(loaded: psycopg.Connection[Any], open_storage: StorageFactory) -> None:
    del open_storage
    for table in (
        "records",
        "unique_entries",
        "index_entries",
        "changes",
        "children",
        "requests",
        "counters",
    ):
        assert loaded.execute(f"SELECT count(*) >= {ROWS} FROM {table}").fetchone() == (True,)
