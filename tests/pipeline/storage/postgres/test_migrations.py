"""Schema migrations: fresh, idempotent, safe with concurrent starters, refusing newer schemas."""

from __future__ import annotations

import pytest

from pipeline.errors import FailedPrecondition
from pipeline.storage.postgres import PostgresStorage
from pipeline.storage.postgres.migrations import LATEST
from tests.conftest import race
from tests.pipeline.storage.postgres.conftest import StorageFactory, admin

TABLES = {
    "records",
    "unique_entries",
    "index_entries",
    "changes",
    "change_head",
    "children",
    "requests",
    "counters",
    "locks",
    "schema_version",
    "index_sets",
}


def tables(schema: str) -> set[str]:
    rows = admin("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
    return {r[0] for r in rows}


def test_a_fresh_database_gets_every_table_and_the_latest_version(
    pg_schema: tuple[str, str], open_storage: StorageFactory
) -> None:
    assert tables(pg_schema[0]) == set()
    storage = open_storage()
    assert tables(pg_schema[0]) == TABLES
    assert storage.schema_version() == LATEST
    snapshot = storage.snapshot()
    assert snapshot["change_head"] == [(1, 0, 1)]
    assert snapshot["schema_version"] == [(1, LATEST)]
    assert storage.is_empty()


def test_migrating_again_changes_nothing(open_storage: StorageFactory) -> None:
    first = open_storage()
    first.write(lambda tx: tx.counters.add(("kept",), 5))
    before = first.snapshot()
    second = open_storage()
    assert second.migrate() == LATEST
    assert second.snapshot() == before


def test_concurrent_starters_all_start_on_one_schema(
    pg_schema: tuple[str, str], open_storage: StorageFactory
) -> None:
    results = race(6, lambda _: open_storage(pool_size=1))
    assert all(isinstance(r, PostgresStorage) for r in results), results
    assert tables(pg_schema[0]) == TABLES
    assert results[0].snapshot()["schema_version"] == [(1, LATEST)]
    assert results[0].snapshot()["change_head"] == [(1, 0, 1)]


def test_a_schema_newer_than_the_code_is_refused(
    pg_schema: tuple[str, str], open_storage: StorageFactory
) -> None:
    open_storage()
    admin(f"UPDATE {pg_schema[0]}.schema_version SET version = %s", (LATEST + 1,))
    for migrate in (True, False):
        with pytest.raises(FailedPrecondition) as err:
            open_storage(migrate=migrate)
        assert err.value.message == (
            f"the database schema is version {LATEST + 1}; this stigmer-sessions knows up to "
            f"{LATEST}: upgrade stigmer-sessions"
        )


def test_without_migrate_an_unmigrated_database_is_refused(
    pg_schema: tuple[str, str], open_storage: StorageFactory
) -> None:
    with pytest.raises(FailedPrecondition, match="stigmer-sessions migrate"):
        open_storage(migrate=False)
    assert tables(pg_schema[0]) == set()
