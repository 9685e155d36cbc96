"""The write-set section: store operations and bytes written per create, update and append
on durable LMDB, and bytes per create and append of each peer (``python -m bench --only
writeset``).

Two kinds of evidence, both from this process:

* **Store operations**: every call of the engine's key/value layer
  (:class:`pipeline.storage.lmdb.engine.RawTx` ``get``/``put``/``delete``/``scan``), per
  table, counted by wrapping those methods for the duration of a workload. A counter
  read-modify-write is a get plus a put (or delete); a scan counts once however many rows it
  yields.
* **Bytes**: ``/proc/self/io`` around the workload, after ``os.sync()`` on both sides:
  ``wchar`` (bytes handed to write syscalls) and ``write_bytes`` (bytes this process caused
  to be sent to storage: dirtied page-cache pages, so whole 4 KiB pages, the meta page
  included). The targets are read against ``write_bytes``: it is what the disk absorbs. The
  peers are measured the same way (their writes are this process's too), on the same
  workloads scaled down so the section stays fast (bytes per call, not throughput, is the
  figure).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import peers
from bench.suite import session
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import RawTx
from stigmer_sessions import SessionController

TITLE = "Write set: store operations and bytes written per write (durable LMDB, and the peers)"
METHODS = ("get", "put", "delete", "scan")
READS = ("get", "scan")
#: (op, goal in KiB of write_bytes per call)
TARGETS = (("create", 20.0), ("append", 8.0))


@contextmanager
def counting() -> Iterator[Counter[tuple[str, str]]]:
    """Count every RawTx get/put/delete/scan by (method, table) while the block runs, from
    any thread (group commit runs transactions on the committing thread)."""
    counts: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    originals = {name: getattr(RawTx, name) for name in METHODS}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(self: RawTx, table: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                counts[(name, table.value)] += 1
            return fn(self, table, *args, **kwargs)

        return counted

    for name, fn in originals.items():
        setattr(RawTx, name, wrap(name, fn))
    try:
        yield counts
    finally:
        for name, fn in originals.items():
            setattr(RawTx, name, fn)


def io_counters() -> dict[str, int] | None:
    """This process's ``/proc/self/io`` (None where the kernel does not offer it)."""
    try:
        lines = Path("/proc/self/io").read_text().splitlines()
    except OSError:
        return None
    return {key.strip(): int(value) for key, value in (line.split(":", 1) for line in lines)}


@dataclass
class Row:
    store: str
    op: str
    calls: int
    counts: Counter[tuple[str, str]] | None  # None: not an LMDB store (bytes only)
    wchar: float | None  # bytes per call
    write_bytes: float | None
    seconds: float

    def ops_per_call(self, methods: tuple[str, ...] = METHODS) -> float:
        assert self.counts is not None
        return sum(n for (m, _), n in self.counts.items() if m in methods) / self.calls

    def by_table(self) -> str:
        assert self.counts is not None
        tables: dict[str, list[str]] = {}
        for (method, table), n in sorted(
            self.counts.items(), key=lambda kv: (kv[0][1], METHODS.index(kv[0][0]))
        ):
            per = n / self.calls
            tables.setdefault(table, []).append(f"{per:.3g} {method}")
        return "; ".join(f"{table}: {', '.join(parts)}" for table, parts in tables.items())


def measure(store: str, op: str, calls: int, work: Callable[[], object], *, count: bool) -> Row:
    """Run ``work`` (``calls`` operations) between two ``os.sync()``-fenced io readings."""
    os.sync()
    before = io_counters()
    started = time.perf_counter()
    if count:
        with counting() as counts:
            work()
    else:
        counts = None
        work()
    seconds = time.perf_counter() - started
    os.sync()
    after = io_counters()
    if before is None or after is None:
        return Row(store, op, calls, counts, None, None, seconds)
    return Row(
        store,
        op,
        calls,
        counts,
        (after["wchar"] - before["wchar"]) / calls,
        (after["write_bytes"] - before["write_bytes"]) / calls,
        seconds,
    )


@dataclass(frozen=True)
class Sizes:
    creates: int = 2_000
    updates: int = 200
    sessions: int = 100
    per_session: int = 100
    # the peers' workloads (same shapes, fewer calls: ADK takes ~5 ms a write)
    peer_creates: int = 200
    peer_sessions: int = 5


QUICK = Sizes(creates=200, updates=50, sessions=10, per_session=10, peer_creates=30, peer_sessions=3)


def ours(root: Path, sizes: Sizes) -> list[Row]:
    """Creates into one store, updates of one session, appends to many: durable LMDB (group
    commit on, one caller), the suite's usual session (2 tags, 2 labels)."""
    ids = itertools.count(1)
    name = peers.OURS
    with LmdbStorage(root / "writeset-ours", durable=True) as store, SessionController(store=store) as c:
        c.create(session(next(ids)))  # the first write lays out the tables; not a typical create
        created: list[str] = []
        rows = [
            measure(
                name,
                "create",
                sizes.creates,
                lambda: created.extend(
                    c.create(session(next(ids))).metadata.id for _ in range(sizes.creates)
                ),
                count=True,
            )
        ]
        stored = c.get(created[0])

        def update() -> None:
            for i in range(sizes.updates):
                stored.spec.subject = f"subject {i}"
                stored.metadata.ClearField("version")  # unconditional, as bench/suite.py does
                c.update(stored)

        rows.append(measure(name, "update", sizes.updates, update, count=True))
        targets = created[: sizes.sessions]

        def append() -> None:
            for j in range(sizes.per_session):
                for sid in targets:
                    c.append_message(sid, peers.role(j), peers.text(j))

        rows.append(measure(name, "append", sizes.sessions * sizes.per_session, append, count=True))
    return rows


def of_peers(root: Path, sizes: Sizes) -> list[Row]:
    """Each peer's create and append, bytes only (they have no engine of ours to count)."""
    plan = peers.Plan(
        rounds=1, sessions=sizes.peer_sessions, per_session=sizes.per_session, batches=0, long=0
    )
    rows: list[Row] = []
    for cls in peers.PEERS:
        home = root / cls.__name__.lower()
        home.mkdir(parents=True, exist_ok=True)
        store = cls(home, plan)
        try:
            for op, args in (
                ("create", [(i,) for i in range(sizes.peer_creates)]),
                (
                    "append",
                    [(s, j) for j in range(sizes.per_session) for s in range(sizes.peer_sessions)],
                ),
            ):
                fn = store.op(op)
                assert fn is not None
                rows.append(measure(store.name, op, len(args), _calls(store, fn, args), count=False))
        finally:
            store.close()
    return rows


def _calls(store: peers.Store, fn: Callable[..., Any], args: list[tuple[Any, ...]]) -> Callable[[], None]:
    """Every call of ``args``, one caller, on the store's own loop when it is async."""
    return lambda: _run(store, fn, args)


def _run(store: peers.Store, fn: Callable[..., Any], args: list[tuple[Any, ...]]) -> None:
    if store.is_async:
        assert store.loop is not None
        _, _, errors = peers.run_async(store.loop, fn, args, 1)
    else:
        _, _, errors = peers.run_sync(fn, args, 1)
    if errors:
        raise RuntimeError(f"{store.name}: {len(errors)} calls failed: {errors[0]}")


def section(tmp: str, quick: bool, *, sizes: Sizes | None = None) -> str:
    """Run everything and return the section's markdown (without its title)."""
    sizes = sizes or (QUICK if quick else Sizes())
    root = Path(tmp) / "writeset"
    root.mkdir(parents=True, exist_ok=True)
    rows = ours(root, sizes)
    absent = peers.missing()
    if not absent:
        rows += of_peers(root / "peers", sizes)
    parts = [
        _note(sizes),
        _table(rows),
        "Targets (durable LMDB, read against write_bytes; wchar beside it):\n\n" + _targets(rows),
    ]
    if absent:
        parts.append(peers.skip_line(absent))
    return "\n\n".join(parts)


def _note(sizes: Sizes) -> str:
    return (
        f"Ours: {sizes.creates:,} creates into one durable LMDB store (group commit on, 1 caller; "
        f"after one untimed create), {sizes.updates} unconditional updates of one session, "
        f"{sizes.per_session} messages of ~200 B to each of {sizes.sessions} sessions. Peers (same "
        f"durable settings as the peer section): {sizes.peer_creates} creates and {sizes.per_session} "
        f"messages to each of {sizes.peer_sessions} sessions. Store operations are RawTx calls per "
        "write (reads = get + scan, writes = put + delete); bytes from /proc/self/io per write, "
        "each workload fenced by os.sync()."
    )


def _kib(value: float | None) -> str:
    return "" if value is None else f"{value / 1024:,.1f}"


def _table(rows: list[Row]) -> str:
    lines = [
        "| store | write | calls | store ops (reads + writes) | by table, per write "
        "| write_bytes KiB/write | wchar KiB/write |",
        "|---|---|---:|---|---|---:|---:|",
    ]
    for r in rows:
        if r.counts is not None:
            reads, writes = r.ops_per_call(READS), r.ops_per_call(("put", "delete"))
            ops = f"{reads + writes:.1f} ({reads:.1f} + {writes:.1f})"
            tables = r.by_table()
        else:
            ops, tables = "", ""
        kib = f"{_kib(r.write_bytes)} | {_kib(r.wchar)}"
        lines.append(f"| {r.store} | {r.op} | {r.calls:,} | {ops} | {tables} | {kib} |")
    return "\n".join(lines)


def _targets(rows: list[Row]) -> str:
    lines = ["| target | goal | write_bytes | wchar | |", "|---|---:|---:|---:|---|"]
    for op, goal in TARGETS:
        row = next(r for r in rows if r.store == peers.OURS and r.op == op)
        if row.write_bytes is None:
            lines.append(f"| bytes per {op} | ≤ {goal:.0f} KiB | | | not measured (no /proc/self/io) |")
            continue
        got = row.write_bytes / 1024
        verdict = "met" if got <= goal else f"missed by {(got - goal) / goal:.0%}"
        lines.append(
            f"| bytes per {op} | ≤ {goal:.0f} KiB | {got:,.1f} KiB | {_kib(row.wchar)} KiB | {verdict} |"
        )
    return "\n".join(lines)
