"""Compare the embedded library of two checkouts, run alternately on one pinned core.

Usage: ``python bench/ab.py BEFORE_DIR AFTER_DIR [--rounds 3]`` (e.g. a ``git worktree`` of
the commit before a change, and the working tree). Each round runs one process per checkout,
importing that checkout's code; each measures Get, List of 50 and Create (relaxed) as the
best of five loops, and the table gives every round's figures and the median ratio
after / before, so a change's cost is read from the same machine at the same moment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

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


def _measure(checkout: Path, cpu: int) -> dict[str, float]:
    command = [sys.executable, "-c", _PROBE, str(checkout)]
    if hasattr(os, "sched_setaffinity"):
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=(os.cpu_count() or 1) - 1)
    args = parser.parse_args(argv)
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
