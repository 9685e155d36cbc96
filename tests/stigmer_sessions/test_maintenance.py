"""check, reindex, export and import."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipeline.errors import FailedPrecondition, InvalidArgument
from pipeline.store import LmdbStore, Table
from stigmer_sessions import SessionController
from tests.conftest import make_session


def populate(controller: SessionController) -> None:
    for i in range(6):
        s = controller.create(make_session(f"s{i}", tags=("t", f"t{i % 2}"), agent=f"ain-{i % 3}"))
        s.metadata.labels["env"] = "prod"
        controller.update(s)
        for j in range(i):
            controller.append_message(s.metadata.id, "user", f"{i}.{j}")
    controller.pin(controller.list(page_size=1).entries[0].metadata.id)
    controller.delete(controller.list(page_size=1, order_by="create_time").entries[0].metadata.id)


def test_a_healthy_store_checks_clean(controller: SessionController) -> None:
    populate(controller)
    report = controller.check()
    assert (report.ok, report.records) == (True, 5)
    assert report.index_entries > 5


def test_check_finds_damage_and_reindex_repairs_it(controller: SessionController, store: LmdbStore) -> None:
    populate(controller)
    keys = store.read(lambda txn: [k for k, _ in txn.scan(Table.INDEX, b"")])
    counter = store.read(lambda txn: next(k for k, _ in txn.scan(Table.COUNTERS, b"")))

    def damage(txn: object) -> None:
        for key in keys[::4]:
            txn.delete(Table.INDEX, key)  # type: ignore[attr-defined]
        txn.put(Table.INDEX, keys[1] + b"x", b"ses-ghost")  # type: ignore[attr-defined]
        txn.add(Table.COUNTERS, counter, 7)  # type: ignore[attr-defined]

    store.write(damage)
    report = controller.check()
    assert not report.ok
    assert any("missing index entry" in p for p in report.problems)
    assert any("without a matching record" in p for p in report.problems)
    assert any("counter" in p for p in report.problems)
    assert controller.reindex() == 5
    assert controller.check().ok
    assert controller.list(tags=["t"]).total_size == 5


def test_export_import_round_trip_is_equal(controller: SessionController, tmp_path: Path) -> None:
    populate(controller)
    first = io.StringIO()
    counts = controller.export(first)
    # messages: session i has i of them (0+1+...+5); the deleted oldest, s0, had none
    assert counts == {"records": 5, "children": 15, "changes": len(list(controller.events()))}
    with SessionController(tmp_path / "restored") as restored:
        assert restored.import_(io.StringIO(first.getvalue())) == counts
        again = io.StringIO()
        restored.export(again)
        assert again.getvalue() == first.getvalue()
        assert restored.check().ok
        original_ids = [s.metadata.id for s in controller.list().entries]
        assert [s.metadata.id for s in restored.list().entries] == original_ids
        assert restored.resume(original_ids[0]) == controller.resume(original_ids[0])
        next_change = restored.create(make_session("after import"))
        assert list(restored.events())[-1].revision == list(controller.events())[-1].revision + 1
        assert next_change.metadata.slug == "after-import"


def test_import_needs_an_empty_store_and_a_valid_file(controller: SessionController, tmp_path: Path) -> None:
    populate(controller)
    dump = io.StringIO()
    controller.export(dump)
    with pytest.raises(FailedPrecondition, match="empty store"):
        controller.import_(io.StringIO(dump.getvalue()))
    with SessionController(tmp_path / "x") as empty:
        with pytest.raises(InvalidArgument, match="not a stigmer-sessions-export"):
            empty.import_(io.StringIO('{"format": "other"}\n'))
        lines = dump.getvalue().splitlines()
        with pytest.raises(InvalidArgument, match="line 3"):
            empty.import_(io.StringIO("\n".join([*lines[:2], '{"kind": "session", "record": {"bogus": 1}}'])))
        assert empty.list().total_size == 0  # nothing half-imported


class Tally:
    """A ``progress`` callback that adds up what it is told."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, n: int) -> None:
        self.calls.append(n)

    @property
    def total(self) -> int:
        return sum(self.calls)


def test_progress_counts_every_item_and_sizes_predicts_it(
    controller: SessionController, store: LmdbStore
) -> None:
    populate(controller)
    sizes = controller.sizes()
    # 5 sessions left; messages 1+2+3+4+5; changes: 6 created, 6 updated, 15 appended, 1 pinned, 1 deleted
    assert (sizes.records, sizes.children, sizes.changes) == (5, 15, 29)
    check, reindex, export = Tally(), Tally(), Tally()
    assert controller.check(progress=check).ok
    assert check.total == sizes.records + sizes.children
    assert controller.reindex(progress=reindex) == 5
    assert reindex.total == sizes.records
    out = io.StringIO()
    controller.export(out, progress=export)
    assert (
        export.total == sizes.records + sizes.children + sizes.changes == len(out.getvalue().splitlines()) - 1
    )
    load = Tally()
    with SessionController(store=LmdbStore(store.path.parent / "copy", durable=False)) as copy:
        copy.import_(out.getvalue().splitlines(keepends=True), progress=load)
        assert load.total == export.total
        assert copy.sizes() == sizes


@pytest.mark.parametrize(
    "first_line",
    ["", "garbage\n", "[1, 2]\n", '{"format": "something else"}\n', '"a string"\n'],
)
def test_import_of_a_file_that_is_not_an_export_names_line_1(
    controller: SessionController, store: LmdbStore, first_line: str
) -> None:
    with pytest.raises(InvalidArgument, match=r"^line 1: not a stigmer-sessions-export/1 file"):
        controller.import_([first_line, '{"kind": "session"}\n'])
    assert sum(store.stat().values()) == 0


@pytest.mark.parametrize("bad", ["{not json\n", "[1]\n", "7\n", '{"kind": "session"}\n', '{"x": 1}\n'])
def test_import_of_a_bad_line_names_its_number_and_writes_nothing(
    controller: SessionController, store: LmdbStore, bad: str
) -> None:
    populate(controller)
    out = io.StringIO()
    controller.export(out)
    lines = out.getvalue().splitlines(keepends=True)
    lines[4] = bad
    with SessionController(store=LmdbStore(Path(store.path).parent / "copy", durable=False)) as copy:
        with pytest.raises(InvalidArgument, match=r"^line 5: cannot import"):
            copy.import_(lines)
        assert sum(copy.store.stat().values()) == 0  # type: ignore[attr-defined]
