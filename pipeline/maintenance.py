"""Store maintenance: verify indexes against records, rebuild them, export and import.

``verify`` and ``export`` each run in ONE read transaction, so they see a consistent
snapshot while the server keeps writing. ``reindex`` rebuilds every secondary index and
counter of a kind from its records in one write transaction. ``import_`` loads an export
into an empty store and rebuilds the indexes from what it loaded.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from google.protobuf import json_format

from pipeline import children, events, idempotency
from pipeline.errors import FailedPrecondition, Internal, InvalidArgument, ResourceError
from pipeline.keycodec import pack
from pipeline.records import Records
from pipeline.resource import ResourceKind
from pipeline.store import Store, Table, Transaction

EXPORT_FORMAT = "stigmer-sessions-export/1"
_COUNTER = struct.Struct("<q")  # as the store keeps counters
_log = logging.getLogger(__name__)
#: verify lists at most this many problems of one kind, then how many more there are.
MAX_PROBLEMS_PER_KIND = 20


def _expected(
    kind: ResourceKind[Any], records: Iterable[Any]
) -> tuple[dict[bytes, bytes], dict[bytes, int], int]:
    """The index, unique and counter entries ``records`` should have (keys as stored)."""
    prefix = pack(kind.name)
    entries: dict[bytes, bytes] = {}
    counters: Counter[bytes] = Counter()
    n = 0
    for record in records:
        n += 1
        record_id = record.metadata.id
        for index in kind.indexes:
            for values in set(index.values(record)):
                key = prefix + pack(index.name, *values)
                if index.unique:
                    entries[b"u" + key] = record_id.encode()
                else:
                    entries[b"i" + key + pack(record_id)] = record_id.encode()
                    counters[key] += 1
    if n:
        counters[prefix] = n
    return entries, dict(counters), n


@dataclass
class Report:
    """What ``verify`` found: counts, and one line per problem (empty: healthy)."""

    records: int = 0
    index_entries: int = 0
    children: int = 0
    changes: int = 0
    requests: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


#: What ``verify`` tells a supervisor as it reads: (pass name, None) when a pass starts,
#: then (pass name, last key read) every JOURNAL_EVERY items.
Journal = Callable[[str, bytes | None], None]
JOURNAL_EVERY = 64


class _EngineAborted(Internal):
    """A pass reached the point where the engine aborted the process in an earlier run."""


@dataclass
class _Scan:
    """One table range, read item by item into ``visit``. When the engine fails mid-way (a
    damaged page), the rest is read backwards from the far end in a new transaction, so only
    the damaged stretch goes unread. Remembers where it got to, so a re-run (the store
    retries a read after a map resize) goes on instead of visiting items twice."""

    label: str
    table: Table
    prefix: bytes
    visit: Callable[[bytes, bytes], None]
    backwards: bool = False
    forward_last: bytes | None = None
    backward_last: bytes | None = None
    problem: str = ""

    @property
    def pass_name(self) -> str:
        return f"{self.label} ({'backward' if self.backwards else 'forward'})"

    def run(
        self, txn: Transaction, progress: Callable[[int], None], journal: Journal, stop: bytes | None
    ) -> None:
        """The current pass, from where it got to; it ends early (raising) past ``stop``."""
        forward = not self.backwards
        after = self.forward_last if forward else self.backward_last
        items = txn.scan(self.table, self.prefix, after=after, reverse=self.backwards)
        for read, (key, value) in enumerate(items, start=1):
            if not forward and self.forward_last is not None and key <= self.forward_last:
                return  # met what the forward pass read
            if stop is not None and (key > stop if forward else key < stop):
                raise _EngineAborted("the storage engine aborted the process reading past this key")
            self.visit(key, value)
            if forward:
                self.forward_last = key
            else:
                self.backward_last = key
            progress(1)
            if read % JOURNAL_EVERY == 0:
                journal(self.pass_name, key)

    def failed(self, exc: Exception) -> bool:
        """Set :attr:`problem` for ``exc``; True when a backward pass is still to try."""
        reason = exc.message if isinstance(exc, ResourceError) else f"unexpected error {exc!r}"
        if not self.backwards:
            where = f"after key {self.forward_last!r}" if self.forward_last is not None else "from its start"
            self.problem = f"{self.label}: cannot read {where}: {reason}"
            self.backwards = True
            return True
        where = f"before key {self.backward_last!r}" if self.backward_last is not None else "from its end"
        self.problem = f"{self.label}: cannot read {where}: {reason}"
        return False


def _read_all(
    store: Store,
    scans: list[_Scan],
    report: Report,
    *,
    progress: Callable[[int], None],
    avoid: Mapping[str, bytes | None],
    journal: Journal,
) -> None:
    """Run every scan in ONE read transaction (a consistent snapshot) unless the engine
    fails: a failed read transaction is unusable, so the rest goes on in a new one. A pass
    in ``avoid`` stops after the key given (None: is skipped), and that is reported."""
    pending = deque(scans)

    def run(txn: Transaction) -> None:
        while pending:
            scan = pending[0]
            name = scan.pass_name
            if name in avoid and avoid[name] is None:
                report.problems.append(f"{name}: not read: the storage engine aborted the process reading it")
                if scan.backwards:
                    pending.popleft()
                scan.backwards = True
                continue
            journal(name, None)
            scan.run(txn, progress, journal, avoid.get(name))
            pending.popleft()

    while pending:
        try:
            store.read(run)
        except Exception as exc:  # corruption is a finding, never a crash
            scan = pending[0]
            if not isinstance(exc, ResourceError):  # a bug, or the engine misbehaving: keep the trace
                _log.error("check: reading %s failed", scan.label, exc_info=exc)
            if not scan.failed(exc):
                pending.popleft()
            report.problems.append(scan.problem)


class _KindCheck:
    """Collects one kind's records, index entries and counters as they are read, then
    compares what the records imply with what is stored."""

    def __init__(self, kind: ResourceKind[Any], report: Report) -> None:
        self.kind = kind
        self.report = report
        self.ids: set[str] = set()
        self.expected: dict[bytes, bytes] = {}
        self.expected_counts: Counter[bytes] = Counter()
        self.stored: dict[bytes, bytes] = {}
        self.stored_counts: dict[bytes, int] = {}

    def scans(self) -> list[_Scan]:
        name, prefix = self.kind.name, self.kind.key_prefix
        return [
            _Scan(f"{name} records", Table.RECORDS, prefix, self.visit_record),
            _Scan(f"{name} unique index", Table.UNIQUE, prefix, self.visit_unique),
            _Scan(f"{name} index", Table.INDEX, prefix, self.visit_index),
            _Scan(f"{name} counters", Table.COUNTERS, prefix, self.visit_counter),
        ]

    def visit_record(self, key: bytes, raw: bytes) -> None:
        name = self.kind.name
        try:
            record: Any = self.kind.message_type.FromString(raw)
        except Exception:  # DecodeError: a damaged value
            self.report.problems.append(f"{name}: record {key!r} cannot be parsed")
            return
        record_id = record.metadata.id
        if key != self.kind.key_prefix + pack(record_id):
            self.report.problems.append(f"{name}: record {key!r} holds id {record_id!r}")
            return
        self.report.records += 1
        self.ids.add(record_id)
        expected, counts, _ = _expected(self.kind, [record])
        self.expected.update(expected)
        self.expected_counts.update(counts)

    def visit_unique(self, key: bytes, value: bytes) -> None:
        self.stored[b"u" + key] = value

    def visit_index(self, key: bytes, value: bytes) -> None:
        self.stored[b"i" + key] = value

    def visit_counter(self, key: bytes, value: bytes) -> None:
        if key.startswith(self.kind.generated_names_prefix):  # not derived from records
            return
        if len(value) != _COUNTER.size:
            self.report.problems.append(f"{self.kind.name}: counter {key!r} is corrupt ({value!r})")
            return
        self.stored_counts[key] = int(_COUNTER.unpack(value)[0])

    def finish(self) -> list[list[str]]:
        """The problems found, grouped by kind of problem."""
        name, expected, stored = self.kind.name, self.expected, self.stored
        self.report.index_entries += len(stored)
        counts, stored_counts = self.expected_counts, self.stored_counts
        return [
            [
                f"{name}: index entry without a matching record: {key[1:]!r}"
                for key in sorted(stored.keys() - expected.keys())
            ],
            [
                f"{name}: record {expected[key].decode()} is missing index entry {key[1:]!r}"
                for key in sorted(expected.keys() - stored.keys())
            ],
            [
                f"{name}: index entry {key[1:]!r} points to {stored[key]!r}"
                for key in sorted(expected.keys() & stored.keys())
                if expected[key] != stored[key]
            ],
            [
                f"{name}: counter {key!r} is {stored_counts.get(key, 0)}, records say {counts.get(key, 0)}"
                for key in sorted(counts.keys() | stored_counts.keys())
                if counts.get(key, 0) != stored_counts.get(key, 0)
            ],
        ]


def _capped(lines: list[str]) -> list[str]:
    """At most MAX_PROBLEMS_PER_KIND of one kind of problem, then how many more: one
    damaged page can cause thousands of the same finding, which would bury the others."""
    if len(lines) <= MAX_PROBLEMS_PER_KIND:
        return lines
    rest = len(lines) - MAX_PROBLEMS_PER_KIND
    return [*lines[:MAX_PROBLEMS_PER_KIND], f"... and {rest} more like the line above"]


class _ChildrenCheck:
    """Reads every child record (its value included) and counts them per parent."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.parents: Counter[tuple[str, str]] = Counter()

    def visit(self, key: bytes, value: bytes) -> None:
        try:
            kind, parent_id, _ = children.parse_key(key)
        except (ValueError, UnicodeDecodeError):
            self.report.problems.append(f"child records: malformed key {key!r}")
            return
        self.report.children += 1
        self.parents[(kind, parent_id)] += 1


def verify(
    store: Store,
    kinds: Iterable[ResourceKind[Any]],
    *,
    progress: Callable[[int], None] | None = None,
    avoid: Mapping[str, bytes | None] | None = None,
    journal: Journal | None = None,
) -> Report:
    """Read everything the store can reach and check it: every record parses and is fully
    indexed, every index entry points to a record that has it, every counter is right,
    every child record has a parent, the change log parses and its revision chain is whole,
    and remembered requests parse and match their expiry index. Damage the engine reports
    (a corrupt page) is a problem line too, and the check goes on past it: it never raises
    for what it finds. ``progress(n)`` is called as items are read (n more).

    On some damage LMDB aborts the whole process: ``journal`` and ``avoid`` let a supervisor
    run the check again around the spot that killed it (the CLI does). Each table is read in
    a forward pass and, after damage, a backward one; ``journal`` hears of each pass as it
    starts and of its progress (see :data:`Journal`); a pass in ``avoid`` (name -> the last
    key journaled before the abort, or None) stops at that key (None: is skipped), and the
    table is then read from its other end."""
    report = Report()
    kinds = list(kinds)
    checks = [_KindCheck(kind, report) for kind in kinds]
    child_check = _ChildrenCheck(report)
    log_check = events.LogCheck({k.name: k.event_type for k in kinds if k.event_type is not None})
    requests_check = idempotency.RequestsCheck()
    scans = [scan for check in checks for scan in check.scans()]
    scans += [
        _Scan("child records", Table.CHILDREN, b"", child_check.visit),
        _Scan("change log", Table.EVENTS, b"", log_check.visit),
        _Scan("remembered requests", Table.REQUESTS, b"", requests_check.visit),
    ]
    _read_all(
        store,
        scans,
        report,
        progress=progress or (lambda n: None),
        avoid=avoid or {},
        journal=journal or (lambda name, key: None),
    )
    groups: list[list[str]] = []
    for check in checks:
        groups += check.finish()
        groups.append(
            [
                f"{parent_kind}: {count} child records of missing {parent_id}"
                for (parent_kind, parent_id), count in sorted(child_check.parents.items())
                if parent_kind == check.kind.name and parent_id not in check.ids
            ]
        )
    groups += log_check.finish() + requests_check.finish()
    for lines in groups:
        report.problems += _capped(lines)
    report.changes, report.requests = log_check.entries, requests_check.entries
    return report


def reindex(store: Store, kinds: Iterable[ResourceKind[Any]]) -> int:
    """Drop and rebuild every index entry and counter from the records; returns how many
    records were indexed. One write transaction: readers see the old or the new indexes."""

    def rebuild(txn: Transaction) -> int:
        total = 0
        for kind in kinds:
            prefix = pack(kind.name)
            names_prefix = kind.generated_names_prefix
            for table in (Table.INDEX, Table.UNIQUE, Table.COUNTERS):
                for key in [k for k, _ in txn.scan(table, prefix)]:
                    if not key.startswith(names_prefix):
                        txn.delete(table, key)
            records = Records(txn, kind)
            for record in list(records.scan()):
                records.put(record, None)
                total += 1
        return total

    return store.write(rebuild)


def export(store: Store, kinds: Iterable[ResourceKind[Any]], out: IO[str]) -> dict[str, int]:
    """Write a consistent JSONL snapshot: a header line, then records, child records and the
    change log (each line one JSON object). Remembered request ids are not exported."""
    counts: Counter[str] = Counter()

    def dump(txn: Transaction) -> None:
        out.write(json.dumps({"format": EXPORT_FORMAT, "revision": events.current_revision(txn)}) + "\n")
        for kind in kinds:
            for record in Records(txn, kind).scan():
                out.write(json.dumps({"kind": kind.name, "record": json_format.MessageToDict(record)}) + "\n")
                counts["records"] += 1
                for sequence, data in children.scan(txn, kind.name, record.metadata.id):
                    line = {"child_of": [kind.name, record.metadata.id], "sequence": sequence}
                    line["data"] = base64.b64encode(data).decode()
                    out.write(json.dumps(line) + "\n")
                    counts["children"] += 1
            if kind.event_type is not None:
                for change in events.scan(txn, kind.event_type):
                    out.write(
                        json.dumps({"change": kind.name, "event": json_format.MessageToDict(change)}) + "\n"
                    )
                    counts["changes"] += 1

    store.read(dump)
    return dict(counts)


def import_(store: Store, kinds: Iterable[ResourceKind[Any]], lines: Iterable[str]) -> dict[str, int]:
    """Load an :func:`export` into an EMPTY store (FailedPrecondition otherwise), in one write
    transaction: records with their indexes and counters, child records, and the change log
    at its original revisions."""
    by_name = {k.name: k for k in kinds}
    counts: Counter[str] = Counter()

    def load(txn: Transaction) -> None:
        if any(True for _ in txn.scan(Table.RECORDS, b"")) or events.current_revision(txn):
            raise FailedPrecondition("import needs an empty store; this one already has data")
        it = iter(lines)
        header = json.loads(next(it, "") or "{}")
        if header.get("format") != EXPORT_FORMAT:
            raise InvalidArgument(f"not a {EXPORT_FORMAT} file (header: {header})")
        first_revision = 0
        for number, line in enumerate(it, start=2):
            if not line.strip():
                continue
            try:
                revision = _load_line(txn, by_name, json.loads(line), counts)
            except (KeyError, ValueError, json_format.ParseError) as exc:
                raise InvalidArgument(f"line {number}: cannot import ({exc})") from exc
            first_revision = first_revision or revision
        current = max(int(header.get("revision", 0)), events.current_revision(txn))
        events.set_window(txn, oldest=first_revision or current + 1, current=current)

    store.write(load)
    return dict(counts)


def _load_line(
    txn: Transaction, by_name: dict[str, ResourceKind[Any]], item: Any, counts: Counter[str]
) -> int:
    """Store one export line; returns the change's revision for a change line, else 0."""
    if "record" in item:
        kind = by_name[item["kind"]]
        Records(txn, kind).put(json_format.ParseDict(item["record"], kind.message_type()), None)
        counts["records"] += 1
        return 0
    elif "child_of" in item:
        parent_kind, parent_id = item["child_of"]
        children.append(txn, parent_kind, parent_id, int(item["sequence"]), base64.b64decode(item["data"]))
        counts["children"] += 1
        return 0
    elif "change" in item:
        kind = by_name[item["change"]]
        if kind.event_type is None:
            raise ValueError(f"{kind.name} records no changes")
        change: Any = json_format.ParseDict(item["event"], kind.event_type())
        events.append(
            txn,
            change,
            kind=kind.name,
            resource_id=change.resource_id,
            org=change.org,
            revision=change.revision,
        )
        counts["changes"] += 1
        return int(change.revision)
    raise ValueError("unknown line")
