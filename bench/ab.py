"""Compare the embedded library of two checkouts, run alternately on one pinned core.

Usage: ``python bench/ab.py BEFORE_DIR AFTER_DIR [--rounds 3]`` (e.g. a ``git worktree`` of
the commit before a change, and the working tree). Each round runs one process per checkout,
importing that checkout's code; each measures Get, List of 50 and Create (relaxed) as the
best of five loops, and the table gives every round's figures and the median ratio
after / before, so a change's cost is read from the same machine at the same moment.

``python bench/ab.py --write-set DIR [DIR ...]`` measures instead, per checkout, what one
durable write costs the store: LMDB calls (``RawTx`` get/put/delete/scan) and bytes
(``/proc/self/io`` ``wchar`` and ``write_bytes``, fenced by ``os.sync()``) per create, update
and append, with the workload of ``bench/writeset.py`` scaled down, through the API every
checkout has: the figures behind "each change measured before and after".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

_PROBE = """
import json, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from stigmer_sessions import SessionController
from stigmer_sessions.api import ApiResourceMetadata, ApiResourceOwnerScope, Session, SessionSpec

def session(name):
    return Session(
        metadata=ApiResourceMetadata(name=name, org="acme", owner_scope=ApiResourceOwnerScope.organization),
        spec=SessionSpec(agent_instance_id="ain-1"),
    )

def best(fn, n):
    runs = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter_ns() - start) / n / 1000)
    return min(runs)

with tempfile.TemporaryDirectory() as d, SessionController(d, durable=False) as c:
    ids = [c.create(session(f"s{i}")).metadata.id for i in range(200)]
    print(json.dumps({
        "get": best(lambda i: c.get(ids[i % 200]), 20000),
        "list50": best(lambda i: c.list(org="acme", page_size=50), 2000),
        "create": best(lambda i: c.create(session(f"x{i}-{time.time_ns()}")), 2000),
    }))
"""


_WRITE_SET_PROBE = """
import collections, json, os, sys, tempfile
sys.path.insert(0, sys.argv[1])
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import RawTx
from stigmer_sessions import SessionController
from stigmer_sessions.api import ApiResourceMetadata, ApiResourceOwnerScope, Session, SessionSpec

calls = collections.Counter()
for name in ("get", "put", "delete", "scan"):
    def counted(self, table, *a, _fn=getattr(RawTx, name), **k):
        calls[0] += 1
        return _fn(self, table, *a, **k)
    setattr(RawTx, name, counted)

def session(i):  # as bench/suite.py's: two tags, two labels
    return Session(
        metadata=ApiResourceMetadata(
            name=f"Benchmark session {i}", org="acme", owner_scope=ApiResourceOwnerScope.organization,
            labels={"team": "bench", "env": "prod"}, tags=["bench", f"t{i % 10}"],
        ),
        spec=SessionSpec(agent_instance_id=f"ain-{i % 4}", subject="A conversation about latency budgets",
                         thread_id=f"thread-{i}", metadata={"source": "bench", "priority": "high"}),
    )

def io():
    with open("/proc/self/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["wchar"]), int(fields["write_bytes"])

def per_write(n, work):
    os.sync(); calls.clear(); w0, b0 = io()
    work()
    os.sync(); w1, b1 = io()
    return {"ops": calls[0] / n, "wchar_kib": (w1 - w0) / n / 1024, "write_bytes_kib": (b1 - b0) / n / 1024}

with tempfile.TemporaryDirectory() as d, SessionController(store=LmdbStorage(d, durable=True)) as c:
    c.create(session(10**6))
    ids = []
    creates = lambda: ids.extend(c.create(session(i)).metadata.id for i in range(1000))
    out = {"create": per_write(1000, creates)}
    def update():
        for i in range(100):
            s = c.get(ids[0]); s.spec.subject = f"subject {i}"; c.update(s)
    out["update"] = per_write(100, update)
    appends = lambda: [c.append_message(ids[i % 20], "user", "x" * 200) for i in range(2000)]
    out["append"] = per_write(2000, appends)
    print(json.dumps(out))
"""


def _measure(checkout: Path, cpu: int, probe: str = _PROBE) -> dict[str, Any]:
    command = [sys.executable, "-c", probe, str(checkout)]
    if hasattr(os, "sched_setaffinity"):
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _write_sets(checkouts: list[Path], cpu: int) -> None:
    print("| checkout | write | LMDB calls | wchar KiB | write_bytes KiB |")
    print("|---|---|---:|---:|---:|")
    for checkout in checkouts:
        found = _measure(checkout.resolve(), cpu, _WRITE_SET_PROBE)
        for write, row in found.items():
            print(
                f"| {checkout.name} | {write} | {row['ops']:.1f} | {row['wchar_kib']:.1f} "
                f"| {row['write_bytes_kib']:.1f} |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "checkouts", type=Path, nargs="+", help="BEFORE_DIR AFTER_DIR (--write-set: any number)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=(os.cpu_count() or 1) - 1)
    parser.add_argument("--write-set", action="store_true", help="LMDB calls and bytes per durable write")
    args = parser.parse_args(argv)
    if args.write_set:
        _write_sets(args.checkouts, args.cpu)
        return 0
    if len(args.checkouts) != 2:
        parser.error("give BEFORE_DIR and AFTER_DIR")
    args.before, args.after = args.checkouts
    rows: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        before, after = _measure(args.before.resolve(), args.cpu), _measure(args.after.resolve(), args.cpu)
        for name in before:
            rows.setdefault(name, []).append((before[name], after[name]))
    print("| operation | before µs (each round) | after µs (each round) | after / before (median) |")
    print("|---|---|---|---:|")
    for name, pairs in rows.items():
        ratio = statistics.median(a / b for b, a in pairs)
        befores = ", ".join(f"{b:.1f}" for b, _ in pairs)
        afters = ", ".join(f"{a:.1f}" for _, a in pairs)
        print(f"| {name} | {befores} | {afters} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
