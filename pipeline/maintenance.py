"""Store maintenance: verify indexes against records, rebuild them, export and import.

``verify`` and ``export`` each run in ONE read transaction, so they see a consistent
snapshot while the server keeps writing. ``reindex`` rebuilds every secondary index and
counter of a kind from its records in one write transaction. ``import_`` loads an export
into an empty store and rebuilds the indexes from what it loaded.

Each takes an optional ``progress(n)`` callback, called with "n more items done" (records,
child records, changes), so a command line can show a progress bar; :func:`sizes` counts
what there is to do.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from google.protobuf import json_format

from pipeline import children, events
from pipeline.errors import FailedPrecondition, InvalidArgument
from pipeline.keycodec import pack
from pipeline.records import Records
from pipeline.resource import ResourceKind
from pipeline.store import Store, Table, Transaction

EXPORT_FORMAT = "stigmer-sessions-export/1"

#: ``progress(n)``: n more items (records, child records, changes) processed.
Progress = Callable[[int], None]


def _ignore(_n: int) -> None:
    pass


@dataclass(frozen=True)
class Sizes:
    """How many items a store holds, for progress totals."""

    records: int
    children: int
    changes: int


def sizes(store: Store, kinds: Iterable[ResourceKind[Any]]) -> Sizes:
    """Records (their counters) and retained changes (the revision window) in O(1); child
    records by one scan of their keys, far cheaper than the work they stand for."""

    def count(txn: Transaction) -> Sizes:
        records = sum(txn.counter(Table.COUNTERS, pack(kind.name)) for kind in kinds)
        current = events.current_revision(txn)
        changes = current - events.oldest_revision(txn) + 1 if current else 0
        return Sizes(records, sum(n for _, _, n in children.parents(txn)), max(changes, 0))

    return store.read(count)


@dataclass
class Report:
    """What ``verify`` found: counts, and one line per problem (empty: healthy)."""

    records: int = 0
    index_entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


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


def _stored(txn: Transaction, kind: ResourceKind[Any]) -> tuple[dict[bytes, bytes], dict[bytes, int]]:
    prefix = pack(kind.name)
    entries = {b"u" + k: v for k, v in txn.scan(Table.UNIQUE, prefix)}
    entries.update({b"i" + k: v for k, v in txn.scan(Table.INDEX, prefix)})
    counters = {k: txn.counter(Table.COUNTERS, k) for k, _ in txn.scan(Table.COUNTERS, prefix)}
    # generated-name counters live beside index counters but are not derived from records
    names = kind.generated_names_prefix
    counters = {k: v for k, v in counters.items() if not k.startswith(names)}
    return entries, counters


def _counted(items: Iterable[Any], progress: Progress) -> Iterator[Any]:
    for item in items:
        yield item
        progress(1)


def verify(store: Store, kinds: Iterable[ResourceKind[Any]], *, progress: Progress | None = None) -> Report:
    """Every index entry points to a record that has it, every record is fully indexed,
    every counter is right, and every child record has a parent. ``progress`` counts
    records and child records."""
    report = Report()
    done = progress or _ignore

    def check(txn: Transaction) -> None:
        for kind in kinds:
            expected, expected_counts, n = _expected(kind, _counted(Records(txn, kind).scan(), done))
            stored, stored_counts = _stored(txn, kind)
            report.records += n
            report.index_entries += len(stored)
            for key in sorted(stored.keys() - expected.keys()):
                report.problems.append(f"{kind.name}: index entry without a matching record: {key[1:]!r}")
            for key in sorted(expected.keys() - stored.keys()):
                report.problems.append(
                    f"{kind.name}: record {expected[key].decode()} is missing index entry {key[1:]!r}"
                )
            for key in sorted(expected.keys() & stored.keys()):
                if expected[key] != stored[key]:
                    report.problems.append(f"{kind.name}: index entry {key[1:]!r} points to {stored[key]!r}")
            for key in sorted(expected_counts.keys() | stored_counts.keys()):
                if expected_counts.get(key, 0) != stored_counts.get(key, 0):
                    report.problems.append(
                        f"{kind.name}: counter {key!r} is {stored_counts.get(key, 0)}, "
                        f"records say {expected_counts.get(key, 0)}"
                    )
            records = Records(txn, kind)
            for parent_kind, parent_id, count in children.parents(txn):
                if parent_kind == kind.name:
                    done(count)
                if parent_kind == kind.name and records.get(parent_id) is None:
                    report.problems.append(f"{kind.name}: {count} child records of missing {parent_id}")

    store.read(check)
    return report


def reindex(store: Store, kinds: Iterable[ResourceKind[Any]], *, progress: Progress | None = None) -> int:
    """Drop and rebuild every index entry and counter from the records; returns how many
    records were indexed. One write transaction: readers see the old or the new indexes.
    ``progress`` counts records (restarted from 0 if the store re-runs the transaction)."""
    done = progress or _ignore

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
                done(1)
        return total

    return store.write(rebuild)


def export(
    store: Store, kinds: Iterable[ResourceKind[Any]], out: IO[str], *, progress: Progress | None = None
) -> dict[str, int]:
    """Write a consistent JSONL snapshot: a header line, then records, child records and the
    change log (each line one JSON object). Remembered request ids are not exported.
    ``progress`` counts every line after the header."""
    counts: Counter[str] = Counter()
    done = progress or _ignore

    def dump(txn: Transaction) -> None:
        out.write(json.dumps({"format": EXPORT_FORMAT, "revision": events.current_revision(txn)}) + "\n")
        for kind in kinds:
            for record in Records(txn, kind).scan():
                out.write(json.dumps({"kind": kind.name, "record": json_format.MessageToDict(record)}) + "\n")
                counts["records"] += 1
                done(1)
                for sequence, data in children.scan(txn, kind.name, record.metadata.id):
                    line = {"child_of": [kind.name, record.metadata.id], "sequence": sequence}
                    line["data"] = base64.b64encode(data).decode()
                    out.write(json.dumps(line) + "\n")
                    counts["children"] += 1
                    done(1)
            if kind.event_type is not None:
                for change in events.scan(txn, kind.event_type):
                    out.write(
                        json.dumps({"change": kind.name, "event": json_format.MessageToDict(change)}) + "\n"
                    )
                    counts["changes"] += 1
                    done(1)

    store.read(dump)
    return dict(counts)


def import_(
    store: Store,
    kinds: Iterable[ResourceKind[Any]],
    lines: Iterable[str],
    *,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Load an :func:`export` into an EMPTY store (FailedPrecondition otherwise), in one write
    transaction: records with their indexes and counters, child records, and the change log
    at its original revisions. A line that is not an export line, from the header on, is
    InvalidArgument naming its line number, and nothing is written. ``progress`` counts the
    lines loaded."""
    by_name = {k.name: k for k in kinds}
    done = progress or _ignore
    counts: Counter[str] = Counter()

    def load(txn: Transaction) -> None:
        if any(True for _ in txn.scan(Table.RECORDS, b"")) or events.current_revision(txn):
            raise FailedPrecondition("import needs an empty store; this one already has data")
        it = iter(lines)
        first = next(it, "")
        try:
            header = json.loads(first) if first.strip() else {}
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise InvalidArgument(f"line 1: not a {EXPORT_FORMAT} file (it starts {first[:60]!r})")
        first_revision = 0
        for number, line in enumerate(it, start=2):
            if not line.strip():
                continue
            try:
                revision = _load_line(txn, by_name, json.loads(line), counts)
            except (KeyError, ValueError, TypeError, json_format.ParseError) as exc:
                raise InvalidArgument(f"line {number}: cannot import ({exc})") from exc
            first_revision = first_revision or revision
            done(1)
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
