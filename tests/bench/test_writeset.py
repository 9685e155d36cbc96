"""bench/writeset.py: the engine counters and the io counters count what a write does."""

from pathlib import Path

import pytest

from bench import writeset
from bench.__main__ import _sections_kept
from bench.suite import session
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import RawTx
from stigmer_sessions import SessionController


def test_a_create_moves_the_engine_counters_per_table_and_only_while_counting(tmp_path: Path) -> None:
    original = RawTx.put
    with LmdbStorage(tmp_path / "s", durable=False) as store, SessionController(store=store) as c:
        c.create(session(1))
        with writeset.counting() as counts:
            c.create(session(2))
        seen = dict(counts)
        c.create(session(3))  # after the block: not counted
    assert RawTx.put is original
    assert seen[("put", "records")] == 1
    assert seen[("put", "index")] >= 1
    assert dict(counts) == seen


def test_counting_sees_every_method_it_wraps(tmp_path: Path) -> None:
    with LmdbStorage(tmp_path / "s", durable=False) as store, SessionController(store=store) as c:
        sid = c.create(session(1)).metadata.id
        with writeset.counting() as counts:
            c.append_message(sid, "user", "hello")
            c.delete(sid)
    methods = {method for method, _ in counts}
    assert methods == {"get", "put", "delete", "scan"}


@pytest.mark.skipif(writeset.io_counters() is None, reason="no /proc/self/io here")
def test_measure_reports_bytes_and_store_operations_per_durable_create(tmp_path: Path) -> None:
    with LmdbStorage(tmp_path / "s", durable=True) as store, SessionController(store=store) as c:
        c.create(session(0))
        row = writeset.measure(
            "ours", "create", 3, lambda: [c.create(session(i)) for i in range(1, 4)], count=True
        )
    assert row.wchar is not None and row.wchar > 0  # every durable commit writes pages
    assert row.write_bytes is not None
    assert row.ops_per_call() >= row.ops_per_call(("put",)) >= 1
    assert "records: " in row.by_table()


def test_the_targets_read_against_write_bytes() -> None:
    rows = [
        writeset.Row("stigmer-sessions", "create", 10, None, 5 * 1024.0, 30 * 1024.0, 0.1),
        writeset.Row("stigmer-sessions", "append", 10, None, 20 * 1024.0, 4 * 1024.0, 0.1),
    ]
    table = writeset._targets(rows)
    create, append = (line for line in table.splitlines() if line.startswith("| bytes per"))
    assert "missed by 50%" in create  # 30 KiB of write_bytes against 20, although wchar is 5
    assert append.endswith("| met |")


def test_a_full_run_keeps_the_sections_only_their_own_runs_measure() -> None:
    doc = "intro\n<!-- results -->\n\n### A\n\nold a\n\n### Only\n\nits figures\n\n### B\n\nold b\n"
    assert _sections_kept(doc, ["Only"]) == "\n### Only\n\nits figures\n"
    assert _sections_kept(doc, ["B"]) == "\n### B\n\nold b\n"  # the last one, to the end
    assert _sections_kept(doc, ["Missing"]) == ""
