"""check, reindex, export and import."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from pipeline import maintenance
from pipeline.errors import FailedPrecondition, Internal, InvalidArgument
from pipeline.keycodec import pack
from pipeline.storage import CheckReport, Storage
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb import check as lmdb_check
from pipeline.storage.lmdb.engine import RawTx, Table
from pipeline.storage.lmdb.stores import BY_ORG, CURRENT, LOG, REV
from stigmer_sessions import SessionController
from stigmer_sessions.resource import SESSION
from tests.backends import LMDB_ONLY
from tests.conftest import OpenStore, make_session


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


@LMDB_ONLY
def test_check_finds_damage_and_reindex_repairs_it(controller: SessionController, store: LmdbStorage) -> None:
    populate(controller)
    keys = store.read_raw(lambda txn: [k for k, _ in txn.scan(Table.INDEX, b"")])
    counter = store.read_raw(lambda txn: next(k for k, _ in txn.scan(Table.COUNTERS, b"")))

    def damage(txn: object) -> None:
        for key in keys[::4]:
            txn.delete(Table.INDEX, key)  # type: ignore[attr-defined]
        txn.put(Table.INDEX, keys[1] + b"x", b"ses-ghost")  # type: ignore[attr-defined]
        txn.add(Table.COUNTERS, counter, 7)  # type: ignore[attr-defined]

    store.write_raw(damage)
    report = controller.check()
    assert not report.ok
    assert any("missing index entry" in p for p in report.problems)
    assert any("without a matching record" in p for p in report.problems)
    assert any("counter" in p for p in report.problems)
    assert controller.reindex() == 5
    assert controller.check().ok
    assert controller.list(tags=["t"]).total_size == 5


def test_export_import_round_trip_is_equal(controller: SessionController, open_store: OpenStore) -> None:
    populate(controller)
    first = io.StringIO()
    counts = controller.export(first)
    # messages: session i has i of them (0+1+...+5); the deleted oldest, s0, had none
    assert counts == {"records": 5, "children": 15, "changes": len(list(controller.events()))}
    with SessionController(store=open_store()) as restored:
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


def test_import_needs_an_empty_store_and_a_valid_file(
    controller: SessionController, open_store: OpenStore
) -> None:
    populate(controller)
    dump = io.StringIO()
    controller.export(dump)
    with pytest.raises(FailedPrecondition, match="empty store"):
        controller.import_(io.StringIO(dump.getvalue()))
    with SessionController(store=open_store()) as empty:
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
    controller: SessionController, open_store: OpenStore
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
    with SessionController(store=open_store()) as copy:
        copy.import_(out.getvalue().splitlines(keepends=True), progress=load)
        assert load.total == export.total
        assert copy.sizes() == sizes


@pytest.mark.parametrize(
    "first_line",
    ["", "garbage\n", "[1, 2]\n", '{"format": "something else"}\n', '"a string"\n'],
)
def test_import_of_a_file_that_is_not_an_export_names_line_1(
    controller: SessionController, store: Storage, first_line: str
) -> None:
    before = store.snapshot()
    with pytest.raises(InvalidArgument, match=r"^line 1: not a stigmer-sessions-export/1 file"):
        controller.import_([first_line, '{"kind": "session"}\n'])
    assert store.snapshot() == before


@pytest.mark.parametrize("bad", ["{not json\n", "[1]\n", "7\n", '{"kind": "session"}\n', '{"x": 1}\n'])
def test_import_of_a_bad_line_names_its_number_and_writes_nothing(
    controller: SessionController, open_store: OpenStore, bad: str
) -> None:
    populate(controller)
    out = io.StringIO()
    controller.export(out)
    lines = out.getvalue().splitlines(keepends=True)
    lines[4] = bad
    with SessionController(store=open_store()) as copy:
        before = copy.store.snapshot()
        with pytest.raises(InvalidArgument, match=r"^line 5: cannot import"):
            copy.import_(lines)
        assert copy.store.snapshot() == before


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("org", "o" * 600, "metadata.org"),
        ("labels", {"a@b": "c"}, "metadata.labels"),
        ("labels", {"team": "a@b.c"}, "metadata.labels"),
    ],
)
def test_import_refuses_a_record_no_write_could_store(
    controller: SessionController, open_store: OpenStore, field: str, value: object, says: str
) -> None:
    populate(controller)
    out = io.StringIO()
    controller.export(out)
    lines = out.getvalue().splitlines(keepends=True)
    number, item = next((n, json.loads(line)) for n, line in enumerate(lines) if '"record"' in line)
    item["record"]["metadata"][field] = value
    lines[number] = json.dumps(item) + "\n"
    with SessionController(store=open_store()) as copy:
        before = copy.store.snapshot()
        with pytest.raises(
            InvalidArgument, match=rf"^line {number + 1}: cannot import \(invalid Session: {says}"
        ):
            copy.import_(lines)
        assert copy.store.snapshot() == before


def test_import_names_the_line_of_a_second_record_with_a_taken_slug(
    controller: SessionController, open_store: OpenStore
) -> None:
    populate(controller)
    out = io.StringIO()
    controller.export(out)
    lines = out.getvalue().splitlines(keepends=True)
    numbers = [n for n, line in enumerate(lines) if '"record"' in line]
    first, second = (json.loads(lines[n]) for n in numbers[:2])
    second["record"]["metadata"]["slug"] = first["record"]["metadata"]["slug"]
    lines[numbers[1]] = json.dumps(second) + "\n"
    with SessionController(store=open_store()) as copy:
        before = copy.store.snapshot()
        with pytest.raises(
            InvalidArgument, match=rf"^line {numbers[1] + 1}: cannot import \(.*already has slug"
        ):
            copy.import_(lines)
        assert copy.store.snapshot() == before


def _damage(store: LmdbStorage, fn: Callable[[RawTx], object]) -> None:
    store.write_raw(fn)


def _one_problem_like(report: CheckReport, text: str) -> str:
    found = [p for p in report.problems if text in p]
    assert found, report.problems
    return found[0]


@LMDB_ONLY
def test_a_record_overwritten_with_garbage_is_reported(
    controller: SessionController, store: LmdbStorage
) -> None:
    populate(controller)
    key = store.read_raw(lambda txn: next(k for k, _ in txn.scan(Table.RECORDS, b"")))
    _damage(store, lambda txn: txn.put(Table.RECORDS, key, b"\xff\xff\xff garbage"))
    report = controller.check()
    assert _one_problem_like(report, "cannot be parsed").startswith("session: record ")
    assert report.records == 4


@LMDB_ONLY
def test_a_record_under_another_id_is_reported(controller: SessionController, store: LmdbStorage) -> None:
    populate(controller)
    _, value = store.read_raw(lambda txn: next(iter(txn.scan(Table.RECORDS, b""))))
    _damage(store, lambda txn: txn.put(Table.RECORDS, pack(SESSION.name) + pack("ses-elsewhere"), value))
    _one_problem_like(controller.check(), "holds id")


@LMDB_ONLY
def test_a_deleted_change_log_entry_breaks_the_chain(
    controller: SessionController, store: LmdbStorage
) -> None:
    populate(controller)
    _damage(store, lambda txn: txn.delete(Table.EVENTS, _entry_key(txn, 3)))
    report = controller.check()
    assert "1 revisions missing between 1 and" in _one_problem_like(report, "revisions missing")
    _one_problem_like(report, "points to missing revision 3")


@LMDB_ONLY
def test_a_garbage_change_log_entry_and_a_wrong_current_marker_are_reported(
    controller: SessionController, store: LmdbStorage
) -> None:
    populate(controller)
    current = store.read(lambda tx: tx.changes.current_revision())

    def damage(txn: RawTx) -> None:
        txn.put(Table.EVENTS, _entry_key(txn, 2), b"\xff\xff\xff")
        # the marker is a floor under the newest entry: one above it promises missing changes
        txn.put(Table.EVENTS, CURRENT, REV.pack(current + 2))

    _damage(store, damage)
    report = controller.check()
    _one_problem_like(report, "change log: entry 2 cannot be parsed")
    assert f"2 revisions missing between 1 and {current + 2}" in _one_problem_like(
        report, "revisions missing"
    )


def _entry_key(txn: RawTx, revision: int) -> bytes:
    """The key of the change-log entry at ``revision``, whatever its kind."""
    return next(k for k, _ in txn.scan(Table.EVENTS, LOG) if k.endswith(REV.pack(revision)))


@LMDB_ONLY
def test_a_change_without_its_index_entries_is_reported(
    controller: SessionController, store: LmdbStorage
) -> None:
    populate(controller)
    org_key = store.read_raw(lambda txn: next(k for k, _ in txn.scan(Table.EVENTS, BY_ORG)))
    _damage(store, lambda txn: txn.delete(Table.EVENTS, org_key))
    _one_problem_like(controller.check(), "is missing its index entry")


@LMDB_ONLY
def test_remembered_requests_are_parsed_and_matched_with_their_expiry(
    controller: SessionController, store: LmdbStorage
) -> None:
    controller.create(make_session("a"), request_id="req-a")
    controller.create(make_session("b"), request_id="req-b")
    assert controller.check().ok and controller.check().requests == 2
    entry_a = pack("req", "session", "req-a")
    expiry_b = store.read_raw(
        lambda txn: next(k for k, _ in txn.scan(Table.REQUESTS, pack("exp"), reverse=True))
    )

    def damage(txn: RawTx) -> None:
        txn.put(Table.REQUESTS, entry_a, b"\x09short")
        txn.delete(Table.REQUESTS, expiry_b)

    _damage(store, damage)
    report = controller.check()
    _one_problem_like(report, "remembered request 'req-a' of session is corrupt")
    _one_problem_like(report, "has no matching expiry key")


@LMDB_ONLY
def test_malformed_child_keys_and_corrupt_counters_are_reported(
    controller: SessionController, store: LmdbStorage
) -> None:
    populate(controller)

    def damage(txn: RawTx) -> None:
        txn.put(Table.CHILDREN, b"\x01bogus", b"x")
        txn.put(Table.COUNTERS, pack(SESSION.name), b"\x01")

    _damage(store, damage)
    report = controller.check()
    _one_problem_like(report, "child records: malformed key")
    _one_problem_like(report, "counter b'\\x02session\\x00\\x01' is corrupt")


class _DamagedPage:
    """A store whose RECORDS table cannot be read at ``bad`` (as if its page were
    overwritten): every scan that reaches it raises, as the real store does on
    MDB_CORRUPTED, and the transaction stays unusable afterwards."""

    def __init__(self, store: LmdbStorage, bad: bytes) -> None:
        self.store, self.bad, self.reads = store, bad, 0

    def read_raw(self, fn: Callable[[RawTx], Any]) -> Any:
        self.reads += 1
        return self.store.read_raw(lambda txn: fn(_DamagedTxn(txn, self.bad)))  # type: ignore[arg-type]

    def check(self, kinds: Any, progress: Any = None) -> CheckReport:
        """The LMDB check, reading through the damaged page."""
        return lmdb_check.check(self, kinds, progress=progress)  # type: ignore[arg-type]


class _DamagedTxn:
    def __init__(self, txn: RawTx, bad: bytes) -> None:
        self.txn, self.bad, self.broken = txn, bad, False

    def __getattr__(self, name: str) -> Any:
        if self.broken:
            raise Internal("store read failed: the store is corrupted")
        return getattr(self.txn, name)

    def scan(self, table: Table, prefix: bytes, **kw: Any) -> Any:
        for key, value in self.txn.scan(table, prefix, **kw):
            if (table is Table.RECORDS and key == self.bad) or self.broken:
                self.broken = True
                raise Internal("store read failed: the store is corrupted")
            yield key, value


@LMDB_ONLY
def test_engine_damage_is_a_problem_and_the_check_reads_on_past_it(
    controller: SessionController, store: LmdbStorage
) -> None:
    populate(controller)
    keys = store.read_raw(lambda txn: [k for k, _ in txn.scan(Table.RECORDS, b"")])
    damaged = _DamagedPage(store, keys[2])
    seen: list[int] = []
    report = maintenance.verify(damaged, [SESSION], progress=seen.append)  # type: ignore[arg-type]
    assert f"session records: cannot read after key {keys[1]!r}" in report.problems[0]
    assert f"session records: cannot read before key {keys[3]!r}" in report.problems[1]
    assert report.records == 4  # all but the damaged one: the rest was read backwards
    assert damaged.reads == 3  # one snapshot, then a fresh one per failure
    _one_problem_like(report, "index entry without a matching record")  # the unread record's entries
    healthy = maintenance.verify(store, [SESSION], progress=seen.append)
    assert healthy.ok
    # progress counted the records and child records each run read
    assert sum(seen) == report.records + report.children + healthy.records + healthy.children


@LMDB_ONLY
def test_passes_are_journaled_and_can_be_stopped_or_skipped(
    controller: SessionController, store: LmdbStorage
) -> None:
    populate(controller)
    journal: list[tuple[str, bytes | None]] = []
    report = maintenance.verify(store, [SESSION], journal=lambda name, key: journal.append((name, key)))
    assert report.ok
    assert ("session records (forward)", None) in journal and ("change log (forward)", None) in journal
    assert any(key is not None for _, key in journal)  # progress, every JOURNAL_EVERY items

    keys = store.read_raw(lambda txn: [k for k, _ in txn.scan(Table.RECORDS, b"")])
    stopped = maintenance.verify(store, [SESSION], avoid={"session records (forward)": keys[1]})
    assert stopped.problems == [
        f"session records: cannot read after key {keys[1]!r}: "
        "the storage engine aborted the process reading past this key"
    ]
    assert stopped.records == 5  # the rest was read from the other end

    both = ["child records (forward)", "child records (backward)"]
    skipped = maintenance.verify(store, [SESSION], avoid=dict.fromkeys(both))
    assert skipped.problems == [
        f"{name}: not read: the storage engine aborted the process reading it" for name in both
    ]
