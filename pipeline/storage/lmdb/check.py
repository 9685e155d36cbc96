"""Checking an LMDB store: read every table item by item and report what is inconsistent.

Runs in ONE read transaction (a consistent snapshot while the server keeps writing) unless
the engine fails mid-way on a damaged page: then the rest of that table is read backwards
from its far end in a new transaction, so only the damaged stretch goes unread. It never
raises for what it finds: corruption is a problem line.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline.errors import Internal, ResourceError
from pipeline.keycodec import pack, unpack
from pipeline.resource import ResourceKind
from pipeline.storage import CheckReport
from pipeline.storage.lmdb.engine import LmdbEngine, RawTx, Table
from pipeline.storage.lmdb.stores import (
    BY_ORG,
    BY_RESOURCE,
    CURRENT,
    FORMAT,
    LOG,
    OLDEST,
    REQUEST_ENTRY,
    REQUEST_EXPIRY,
    REQUEST_FORMAT,
    REQUEST_HEADER,
    REV,
    Layout,
    decode_entry,
    entry_key,
    index_keys,
    parse_child_key,
    rev_int,
    time_key,
)

_COUNTER = struct.Struct("<q")  # as the store keeps counters
_log = logging.getLogger(__name__)
#: check lists at most this many problems of one kind, then how many more there are.
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
                    entries[b"i" + key + pack(record_id)] = b""
                    counters[key] += 1
    if n:
        counters[prefix] = n
    return entries, dict(counters), n


#: What :func:`check` tells a supervisor as it reads: (pass name, None) when a pass starts,
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
    #: Whether its items count as progress: records and child records, what the admin
    #: commands' totals (``maintenance.sizes``) count.
    counted: bool = False
    backwards: bool = False
    forward_last: bytes | None = None
    backward_last: bytes | None = None
    problem: str = ""

    @property
    def pass_name(self) -> str:
        return f"{self.label} ({'backward' if self.backwards else 'forward'})"

    def run(self, txn: RawTx, progress: Callable[[int], None], journal: Journal, stop: bytes | None) -> None:
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
            if self.counted:
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
    engine: LmdbEngine,
    scans: list[_Scan],
    report: CheckReport,
    *,
    progress: Callable[[int], None],
    avoid: Mapping[str, bytes | None],
    journal: Journal,
) -> None:
    """Run every scan in ONE read transaction (a consistent snapshot) unless the engine
    fails: a failed read transaction is unusable, so the rest goes on in a new one. A pass
    in ``avoid`` stops after the key given (None: is skipped), and that is reported."""
    pending = deque(scans)

    def run(txn: RawTx) -> None:
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
            engine.read_raw(run)
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

    def __init__(self, kind: ResourceKind[Any], report: CheckReport) -> None:
        self.kind = kind
        self.layout = Layout.of(kind)
        self.report = report
        self.ids: set[str] = set()
        self.expected: dict[bytes, bytes] = {}
        self.expected_counts: Counter[bytes] = Counter()
        self.stored: dict[bytes, bytes] = {}
        self.stored_counts: dict[bytes, int] = {}

    def scans(self) -> list[_Scan]:
        name, prefix = self.kind.name, self.layout.prefix
        return [
            _Scan(f"{name} records", Table.RECORDS, prefix, self.visit_record, counted=True),
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
        if key != self.layout.prefix + pack(record_id):
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
        # The id is the key's last part; stores written before the value was dropped hold
        # it again as the value, which is as good.
        if value:
            try:
                if value.decode() == unpack(key)[-1]:
                    value = b""
            except (ValueError, UnicodeDecodeError):
                pass  # a malformed key: reported as not matching any record
        self.stored[b"i" + key] = value

    def visit_counter(self, key: bytes, value: bytes) -> None:
        if not self.layout.is_index_counter(key):  # a named counter: not derived from records
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

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        self.parents: Counter[tuple[str, str]] = Counter()

    def visit(self, key: bytes, value: bytes) -> None:
        try:
            kind, parent_id, _ = parse_child_key(key)
        except (ValueError, UnicodeDecodeError):
            self.report.problems.append(f"child records: malformed key {key!r}")
            return
        self.report.children += 1
        self.parents[(kind, parent_id)] += 1


def check(
    engine: LmdbEngine,
    kinds: Iterable[ResourceKind[Any]],
    *,
    progress: Callable[[int], None] | None = None,
    avoid: Mapping[str, bytes | None] | None = None,
    journal: Journal | None = None,
) -> CheckReport:
    """Read everything the store can reach and check it: every record parses and is fully
    indexed, every index entry points to a record that has it, every counter is right,
    every child record has a parent, the change log parses and its revision chain is whole,
    and remembered requests parse and match their expiry index. Damage the engine reports
    (a corrupt page) is a problem line too, and the check goes on past it: it never raises
    for what it finds. ``progress(n)``: n more records or child records read.

    On some damage LMDB aborts the whole process: ``journal`` and ``avoid`` let a supervisor
    run the check again around the spot that killed it (the CLI does). Each table is read in
    a forward pass and, after damage, a backward one; ``journal`` hears of each pass as it
    starts and of its progress (see :data:`Journal`); a pass in ``avoid`` (name -> the last
    key journaled before the abort, or None) stops at that key (None: is skipped), and the
    table is then read from its other end."""
    report = CheckReport()
    kinds = list(kinds)
    checks = [_KindCheck(kind, report) for kind in kinds]
    child_check = _ChildrenCheck(report)
    log_check = LogCheck({k.name: k.event_type for k in kinds if k.event_type is not None})
    requests_check = RequestsCheck()
    scans = [scan for check in checks for scan in check.scans()]
    scans += [
        _Scan("child records", Table.CHILDREN, b"", child_check.visit, counted=True),
        _Scan("change log", Table.EVENTS, b"", log_check.visit),
        _Scan("remembered requests", Table.REQUESTS, b"", requests_check.visit),
    ]
    _read_all(
        engine,
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


class LogCheck:
    """Checks the change log while :func:`check` reads the ``events`` table item by item:
    every entry parses and carries its own revision, the revisions run gap-free from the
    oldest retained to the ``current`` marker, and every index entry points to a retained
    entry that belongs to it (and each entry has all three of its index entries). Keeps only
    small facts per entry, so it works on logs of any length."""

    def __init__(self, event_types: dict[str, type[Message]]) -> None:
        self._types = event_types
        self.problems: list[str] = []
        self.entries = 0
        self._markers: dict[bytes, int] = {}
        self._revisions: set[int] = set()
        self._expected_index: set[bytes] = set()
        self._index: dict[bytes, int] = {}

    def visit(self, key: bytes, value: bytes) -> None:
        if key in (CURRENT, OLDEST, FORMAT):
            if len(value) != REV.size:
                self.problems.append(f"change log: marker {key[1:].decode()} is corrupt ({value!r})")
            else:
                self._markers[key] = rev_int(value)
        elif key[:1] == LOG and len(key) > 1 + REV.size:
            self._visit_entry(key, rev_int(key[-REV.size :]), value)
        elif key[:1] in (BY_RESOURCE, BY_ORG) and len(key) > REV.size:
            self._index[key] = rev_int(key[-REV.size :])
        else:
            self.problems.append(f"change log: unexpected key {key!r}")

    def _visit_entry(self, key: bytes, revision: int, value: bytes) -> None:
        self.entries += 1
        self._revisions.add(revision)
        try:
            change = decode_entry(revision, value)
        except (ValueError, UnicodeDecodeError, struct.error):
            self.problems.append(f"change log: entry {revision} cannot be parsed")
            return
        if key != entry_key(change.kind, revision):
            self.problems.append(f"change log: entry {revision} of {change.kind} is filed under {key!r}")
        self._expected_index.update(index_keys(change))
        event_type = self._types.get(change.kind)
        if event_type is None:  # a kind this check was not told about: its header is all we read
            return
        try:
            event: Any = event_type.FromString(change.data)
        except Exception:  # DecodeError
            self.problems.append(f"change log: {change.kind} change {revision} cannot be parsed")
            return
        if event.revision != revision:
            self.problems.append(f"change log: entry {revision} says it is revision {event.revision}")

    def finish(self) -> list[list[str]]:
        """The problems found, once every item has been visited, grouped by kind of problem
        (one damaged page can cause thousands of one kind: callers may shorten each group)."""
        # The current revision is the newest entry's; the marker is only a floor (see stores).
        current = max(self._markers.get(CURRENT, 0), max(self._revisions, default=0))
        oldest = max(self._markers.get(OLDEST, 1), 1)
        chain: list[str] = []
        missing = [r for r in range(oldest, current + 1) if r not in self._revisions]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            chain.append(
                f"change log: {len(missing)} revisions missing between {oldest} and {current}: {shown}"
            )
        outside = sorted(r for r in self._revisions if not oldest <= r <= current)
        if outside:
            chain.append(f"change log: {len(outside)} entries below the oldest retained revision {oldest}")
        dangling = [
            f"change log: index entry {key!r} points to missing revision {revision}"
            for key, revision in sorted(self._index.items())
            if revision not in self._revisions
        ]
        foreign = [
            f"change log: index entry {key!r} does not match revision {revision}"
            for key, revision in sorted(self._index.items())
            if revision in self._revisions and key not in self._expected_index
        ]
        unindexed = [
            f"change log: revision {rev_int(key[-REV.size :])} is missing its index entry {key!r}"
            for key in sorted(self._expected_index - self._index.keys())
        ]
        return [self.problems, chain, dangling, foreign, unindexed]


class RequestsCheck:
    """Checks remembered requests while :func:`check` reads the ``requests`` table item by
    item: every entry parses, and entries and their expiry keys match one to one."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.entries = 0
        self._entries: dict[tuple[str, str], str] = {}
        self._expiries: dict[tuple[str, str], str] = {}

    def visit(self, key: bytes, value: bytes) -> None:
        try:
            parts = unpack(key)
        except (ValueError, UnicodeDecodeError):
            self.problems.append(f"remembered requests: malformed key {key!r}")
            return
        if len(parts) == 3 and parts[0] == REQUEST_ENTRY:
            self.entries += 1
            if len(value) < REQUEST_HEADER.size or value[0] != REQUEST_FORMAT:
                self.problems.append(f"remembered request {parts[2]!r} of {parts[1]} is corrupt")
                return
            self._entries[(parts[1], parts[2])] = time_key(REQUEST_HEADER.unpack_from(value)[1])
        elif len(parts) == 4 and parts[0] == REQUEST_EXPIRY:
            self._expiries[(parts[2], parts[3])] = parts[1]
        else:
            self.problems.append(f"remembered requests: unexpected key {key!r}")

    def finish(self) -> list[list[str]]:
        """The problems found, once every item has been visited, grouped by kind of problem."""
        unmatched = [
            f"remembered request {request_id!r} of {kind} has no matching expiry key"
            for (kind, request_id), expires in sorted(self._entries.items())
            if self._expiries.get((kind, request_id)) != expires
        ]
        orphans = [
            f"expiry key of remembered request {request_id!r} of {kind} has no entry"
            for kind, request_id in sorted(self._expiries.keys() - self._entries.keys())
        ]
        return [self.problems, unmatched, orphans]
