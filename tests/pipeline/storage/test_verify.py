"""maintenance.verify on every backend: a supervisor's journal and avoid list are taken by the
backend that can abort a check (LMDB) and ignored by the others, never an error."""

from __future__ import annotations

from pipeline import maintenance
from pipeline.storage import Storage
from stigmer_sessions.resource import SESSION
from tests.pipeline.storage.test_contract import put, record


def test_verify_takes_a_supervisors_journal_on_every_backend(storage: Storage) -> None:
    put(storage, record(1), record(2))
    heard: list[tuple[str, bytes | None]] = []
    report = maintenance.verify(
        storage, [SESSION], avoid={}, journal=lambda name, key: heard.append((name, key))
    )
    assert report.ok and report.records == 2, report.problems
    if storage.description.startswith("lmdb://"):
        assert heard, "LMDB's check journals each pass it starts"
