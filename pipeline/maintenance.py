"""Store maintenance, generic over the storage protocols: check, reindex, export and import.

``verify`` and ``reindex`` are the backend's own (:meth:`~pipeline.storage.Storage.check`,
:meth:`~pipeline.storage.Storage.reindex`): what "reading everything" means depends on how a
backend lays data out. ``export`` runs in ONE read transaction, so it sees a consistent
snapshot while the server keeps writing; ``import_`` loads an export into an empty store in
one write transaction, records through the record store (so their indexes are built as they
load) and changes at their original revisions. Each kind's changes are exported once and in
global revision order, so an export of a store shared by several kinds imports again.

Each takes an optional ``progress(n)`` callback, called with "n more items done" (records,
child records, changes), so a command line can show a progress bar; :func:`sizes` counts
what there is to do.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from google.protobuf import json_format

from pipeline import events
from pipeline.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from pipeline.resource import ResourceKind
from pipeline.shared_storage import unwrap
from pipeline.storage import CheckReport, Storage, StoredChange, Tx
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb import check as lmdb_check
from pipeline.validation import violations_of

EXPORT_FORMAT = "stigmer-sessions-export/1"

#: ``progress(n)``: n more items (records, child records, changes) processed.
Progress = Callable[[int], None]

#: What a check supervisor hears as the check reads: (pass name, None) when a pass starts,
#: then (pass name, last key read) every few items (backends that can abort the process
#: while reading damaged data take it: LMDB).
Journal = lmdb_check.Journal


@dataclass(frozen=True)
class Sizes:
    """How many items a store holds, for progress totals."""

    records: int
    children: int
    changes: int


def sizes(storage: Storage, kinds: Iterable[ResourceKind[Any]]) -> Sizes:
    """Records (their counters) and retained changes (the revision window) cheaply; child
    records by one pass over their parents, far cheaper than the work they stand for."""
    kinds = list(kinds)

    def count(tx: Tx) -> Sizes:
        records = sum(tx.records(kind).count() for kind in kinds)
        changes = tx.changes
        current = changes.current_revision()
        retained = current - changes.oldest_revision() + 1 if current else 0
        return Sizes(records, sum(n for _, _, n in tx.children.parents()), max(retained, 0))

    return storage.read(count)


def verify(
    storage: Storage,
    kinds: Iterable[ResourceKind[Any]],
    *,
    progress: Progress | None = None,
    avoid: Mapping[str, bytes | None] | None = None,
    journal: Journal | None = None,
) -> CheckReport:
    """Read everything the store holds and report what is inconsistent or unreadable (never
    raises for what it finds). ``progress(n)``: n more items read. ``avoid`` and ``journal``
    are for a supervisor re-running a check that the engine aborted (LMDB's, see
    :func:`pipeline.storage.lmdb.check.check`): only LMDB can abort the process reading a
    damaged page, so other backends ignore them."""
    if (avoid is None and journal is None) or not isinstance(unwrap(storage), LmdbStorage):
        return storage.check(kinds, progress)
    return storage.check(kinds, progress, avoid=avoid, journal=journal)  # type: ignore[call-arg]


def reindex(storage: Storage, kinds: Iterable[ResourceKind[Any]], *, progress: Progress | None = None) -> int:
    """Rebuild every index entry and derived counter from the records, in one write
    transaction; returns how many records were indexed."""
    return storage.reindex(kinds, progress)


def _changes_in_order(tx: Tx, kinds: list[ResourceKind[Any]]) -> Iterator[tuple[ResourceKind[Any], Any]]:
    """Every listed kind's changes, each once, merged into global revision order (an import
    restores them strictly increasing)."""

    def stream(kind: ResourceKind[Any], event_type: type[Any]) -> Iterator[tuple[int, Any, Any]]:
        for stored in tx.changes.scan(kind=kind.name):
            yield stored.revision, kind, events.parse(event_type, stored)

    streams = [stream(kind, kind.event_type) for kind in kinds if kind.event_type is not None]
    for _, kind, change in heapq.merge(*streams, key=lambda item: item[0]):
        yield kind, change


def export(
    storage: Storage,
    kinds: Iterable[ResourceKind[Any]],
    out: IO[str],
    *,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write a consistent JSONL snapshot: a header line, then records with their child
    records, then the change log (each line one JSON object). Remembered request ids are
    not exported. ``progress(1)`` per line written after the header."""
    kinds = list(kinds)
    counts: Counter[str] = Counter()
    tick = progress or (lambda n: None)

    def dump(tx: Tx) -> None:
        changes = tx.changes
        header = {"format": EXPORT_FORMAT, "revision": changes.current_revision()}
        header["oldest"] = changes.oldest_revision()  # the others' changes leave gaps: not compaction
        out.write(json.dumps(header) + "\n")
        for kind in kinds:
            for record, _ in tx.records(kind).scan_sized():
                out.write(json.dumps({"kind": kind.name, "record": json_format.MessageToDict(record)}) + "\n")
                counts["records"] += 1
                tick(1)
                for sequence, data in tx.children.scan(kind.name, record.metadata.id):
                    line = {"child_of": [kind.name, record.metadata.id], "sequence": sequence}
                    line["data"] = base64.b64encode(data).decode()
                    out.write(json.dumps(line) + "\n")
                    counts["children"] += 1
                    tick(1)
        for kind, change in _changes_in_order(tx, kinds):
            out.write(json.dumps({"change": kind.name, "event": json_format.MessageToDict(change)}) + "\n")
            counts["changes"] += 1
            tick(1)

    storage.read(dump)
    return dict(counts)


def import_(
    storage: Storage,
    kinds: Iterable[ResourceKind[Any]],
    lines: Iterable[str],
    *,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Load an :func:`export` into an EMPTY store (FailedPrecondition otherwise), in one write
    transaction: records with their indexes and counters, child records, and the change log
    at its original revisions, and the index set of each kind (``pipeline.indexes``).
    ``progress(1)`` per line loaded (counted again if the
    backend re-runs the transaction)."""
    by_name = {k.name: k for k in kinds}
    counts: Counter[str] = Counter()
    tick = progress or (lambda n: None)

    def load(tx: Tx) -> None:
        counts.clear()  # the backend may re-run this transaction
        if not tx.is_empty():
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
                revision = _load_line(tx, by_name, json.loads(line), counts)
            except (KeyError, ValueError, TypeError, json_format.ParseError) as exc:
                raise InvalidArgument(f"line {number}: cannot import ({exc})") from exc
            except (AlreadyExists, InvalidArgument) as exc:  # e.g. two records with one slug
                raise InvalidArgument(f"line {number}: cannot import ({exc.message})") from exc
            first_revision = first_revision or revision
            tick(1)
        current = max(int(header.get("revision", 0)), tx.changes.current_revision())
        # An export names its retained window; one from before it did starts at its first change.
        oldest = int(header.get("oldest", 0)) or first_revision or current + 1
        tx.changes.set_window(oldest=oldest, current=current)
        for kind in by_name.values():  # the indexes just built are the ones the store holds
            tx.index_sets.put(kind.name, tuple(i.name for i in kind.indexes))

    storage.write(load)
    return dict(counts)


def _load_line(tx: Tx, by_name: dict[str, ResourceKind[Any]], item: Any, counts: Counter[str]) -> int:
    """Store one export line; returns the change's revision for a change line, else 0."""
    if "record" in item:
        kind = by_name[item["kind"]]
        record = json_format.ParseDict(item["record"], kind.message_type())
        # The rules every write obeys (key lengths, label syntax): an export edited by hand,
        # or written by a version with looser rules, must not store what no write could.
        violations = violations_of(record)
        if violations:
            shown = "; ".join(f"{v.field or '(record)'}: {v.message}" for v in violations[:3])
            more = f" and {len(violations) - 3} more" if len(violations) > 3 else ""
            raise ValueError(f"invalid {kind.kind}: {shown}{more}")
        tx.records(kind).put(record, None)
        counts["records"] += 1
        return 0
    elif "child_of" in item:
        parent_kind, parent_id = item["child_of"]
        tx.children.append(parent_kind, parent_id, int(item["sequence"]), base64.b64decode(item["data"]))
        counts["children"] += 1
        return 0
    elif "change" in item:
        kind = by_name[item["change"]]
        if kind.event_type is None:
            raise ValueError(f"{kind.name} records no changes")
        change: Any = json_format.ParseDict(item["event"], kind.event_type())
        tx.changes.restore(
            StoredChange(
                revision=change.revision,
                kind=kind.name,
                resource_id=change.resource_id,
                org=change.org,
                time_ns=change.time.ToNanoseconds(),
                data=change.SerializeToString(),
            )
        )
        counts["changes"] += 1
        return int(change.revision)
    raise ValueError("unknown line")
