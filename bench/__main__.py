"""Run every benchmark, print the tables and the targets, and rewrite docs/benchmarks.md.

Usage: ``python -m bench [--quick] [--sizes 1000,100000,1000000] [--no-write]
[--only memory|storage|rpcmodel|peers|writeset]``. ``rpcmodel`` (the one-core gRPC
threading models, about 100 s) runs only with ``--only``.
Every figure is paired with a baseline measured in the same run on the same machine and
reported as a ratio, because absolute timings on shared machines drift by tens of percent.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench import memory, peers, rpcmodel, storage, suite, writeset
from bench.stats import Result, pin

ROOT = Path(__file__).resolve().parents[1]
MEMORY_TITLE = "Memory: peak server RSS while 8 large listings run at once"


@dataclass(frozen=True)
class Target:
    what: str
    goal: float
    measured: float
    higher_is_better: bool = True
    #: "" for a ratio (shown as a percentage); else the unit of goal and measured, e.g. "µs".
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.measured >= self.goal if self.higher_is_better else self.measured <= self.goal


def _row(results: list[Result], name: str) -> Result:
    return next(r for r in results if r.name == name)


def _cpu(rows: list[Result], name: str) -> float:
    value = _row(rows, name).server_cpu_us
    assert value is not None, name
    return value


def targets(embedded: list[Result], grpc_rows: list[Result]) -> list[Target]:
    def ratio(rows: list[Result], name: str) -> float:
        value = _row(rows, name).ratio
        assert value is not None, name
        return value

    durable64 = _row(grpc_rows, "Create (durable, 64 clients)").ops_per_s
    nogc64 = _row(grpc_rows, "Create (durable-nogc, 64 clients)").ops_per_s
    lone = (
        _row(grpc_rows, "Create (durable, 1 clients)").p50_us
        / _row(grpc_rows, "Create (durable-nogc, 1 clients)").p50_us
    )
    return [
        Target(
            "Embedded Create, relaxed, 1 caller vs raw ceiling",
            0.60,
            ratio(embedded, "Create (relaxed, 1 caller)"),
        ),
        Target(
            "gRPC Create, relaxed, 16 clients vs empty handler",
            0.70,
            ratio(grpc_rows, "Create (relaxed, 16 clients)"),
        ),
        Target(
            "gRPC Create, durable, 64 clients vs empty handler",
            0.60,
            ratio(grpc_rows, "Create (durable, 64 clients)"),
        ),
        Target(
            "gRPC Create, durable, 64 clients vs empty handler (issue 13: ≥ 0.5)",
            0.50,
            ratio(grpc_rows, "Create (durable, 64 clients)"),
        ),
        Target(
            "Embedded Create, relaxed, 1 caller: CPU per call (issue 13)",
            50,
            _cpu(embedded, "Create CPU (relaxed, 1 caller)"),
            higher_is_better=False,
            unit="µs",
        ),
        Target("gRPC Create, durable, 64 clients: group commit vs none", 2.5, durable64 / nogc64),
        Target(
            "gRPC durable Create, 1 client: p50 latency with group commit / without (no worse; 5% noise)",
            1.05,
            lone,
            higher_is_better=False,
        ),
        Target("gRPC Get vs empty handler", 0.90, ratio(grpc_rows, "Get (1 clients)")),
        Target("gRPC List of 50 vs empty handler", 0.45, ratio(grpc_rows, "List 50 (1 client)")),
        Target(
            "Embedded durable Create, 16 threads vs relaxed Create, 1 thread",
            0.60,
            ratio(embedded, "Create (durable, 16 threads, group commit)"),
        ),
        Target(
            "Pipeline machinery overhead in a Create (vs the same steps inline)",
            0.05,
            1 - ratio(embedded, "Create through Pipeline.execute"),
            higher_is_better=False,
        ),
    ]


def _table(results: list[Result]) -> str:
    lines = [
        "| benchmark | ops/s (median) | p50 µs | p99 µs | server CPU µs/call | vs baseline | ratio |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        if not r.ops_per_s:
            lines.append(f"| {r.name} | | | | | | |")
            continue
        cpu = f"{r.server_cpu_us:.0f}" if r.server_cpu_us is not None else ""
        ratio = f"{r.ratio:.0%}" if r.ratio is not None else ""
        p50 = f"{r.p50_us:.1f}" if r.p50_us else ""
        p99 = f"{r.p99_us:.1f}" if r.p99_us else ""
        lines.append(f"| {r.name} | {r.ops_per_s:,.0f} | {p50} | {p99} | {cpu} | {r.baseline} | {ratio} |")
    return "\n".join(lines)


def _targets_table(rows: list[Target]) -> str:
    lines = ["| target | goal | measured | |", "|---|---:|---:|---|"]
    for t in rows:
        if t.unit:
            goal = f"{'≥' if t.higher_is_better else '≤'} {t.goal:,.0f} {t.unit}"
            got = f"{t.measured:,.0f} {t.unit}"
        elif t.what.endswith("group commit vs none"):
            goal, got = f"≥ {t.goal:.1f}x", f"{t.measured:.2f}x"
        elif "p50 latency" in t.what:
            goal, got = f"≤ {t.goal:.2f}x", f"{t.measured:.2f}x"
        elif t.higher_is_better:
            goal, got = f"≥ {t.goal:.0%}", f"{t.measured:.0%}"
        else:
            goal, got = f"≤ {t.goal:.0%}", f"{t.measured:.1%}"
        verdict = "met" if t.met else f"missed by {abs(t.goal - t.measured) / t.goal:.0%}"
        lines.append(f"| {t.what} | {goal} | {got} | {verdict} |")
    return "\n".join(lines)


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{p} {metadata.version(p)}"
        for p in ("grpcio", "protobuf", "protovalidate", "lmdb", "python-slugify")
    )
    return f"{os.cpu_count()} cores, {model}; Python {platform.python_version()}; {versions}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations and sizes (a smoke run)")
    parser.add_argument(
        "--sizes", default="", help="store sizes for the scaling run (default 1000,100000,1000000)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--only",
        choices=tuple(ONLY),
        help="run one section alone; rewrites only that section of docs/benchmarks.md",
    )
    args = parser.parse_args()
    if args.only:
        return _only(args.only, args.quick, write=not args.no_write)
    rounds, per_round = (2, 100) if args.quick else (5, 400)
    sizes = [
        int(s) for s in (args.sizes or ("1000,10000" if args.quick else "1000,100000,1000000")).split(",")
    ]
    started = time.perf_counter()
    client_pin = pin(0)
    ids = suite.Ids()
    with tempfile.TemporaryDirectory() as tmp:
        base = suite.baselines(tmp, rounds, per_round)
        embedded = suite.embedded(tmp, base, ids, rounds, per_round)
        grpc_rows, server_pin = suite.over_grpc(tmp, ids, args.quick)
        scaled = suite.scaling(tmp, sizes, ids, args.quick)
        model = suite.server_model(tmp, ids, args.quick)
        memory_rows = memory.memory(tmp, args.quick)
        storage_body = storage.section(tmp, args.quick)
        writeset_body = writeset.section(tmp, args.quick)
        peers_body = peers.section(tmp, args.quick)  # one line when the bench-peers extra is absent
    goals = targets(embedded, grpc_rows)
    header = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {_machine()}.\n"
        f"Client (this process) pinned to {client_pin}; every server process pinned to {server_pin}. "
        f"Command: `python -m bench{' --quick' if args.quick else ''}"
        f"{' --sizes ' + args.sizes if args.sizes else ''}`; took {time.perf_counter() - started:.0f} s."
    )
    sections = [
        ("Targets", _targets_table(goals)),
        ("Baselines", _table(list(base.values()))),
        ("Embedded (in-process library)", _table(embedded)),
        ("gRPC (client and servers in separate pinned processes)", _table(grpc_rows)),
        (
            "Scaling over gRPC (relaxed server; ratio = throughput at this size / at the smallest)",
            _table(scaled),
        ),
        (
            "Server model: worker processes x RPC threads (server.py as deployed, relaxed, 16 clients)",
            _table(model),
        ),
        (MEMORY_TITLE, memory.note(args.quick) + "\n\n" + memory.table(memory_rows)),
        (storage.TITLE, storage_body),
        (writeset.TITLE, writeset_body),
        (peers.TITLE, peers_body),
    ]
    body = "\n\n".join(f"### {title}\n\n{table}" for title, table in sections)
    print(header + "\n\n" + body)
    if not args.no_write:
        doc = ROOT / "docs" / "benchmarks.md"
        old = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
        intro = old.split("<!-- results -->")[0]
        kept = _sections_kept(old, [rpcmodel.TITLE])  # run only with --only: keep their last figures
        doc.write_text(intro + "<!-- results -->\n\n" + header + "\n\n" + body + "\n" + kept)
    return 0


def _sections_kept(doc: str, titles: list[str]) -> str:
    """The sections ``titles`` as ``doc`` has them (each from its heading to the next), for
    sections a full run does not measure."""
    kept = ""
    for title in titles:
        start = doc.find(f"### {title}\n")
        if start < 0:
            continue
        end = doc.find("\n### ", start + 4)
        kept += "\n" + (doc[start:] if end < 0 else doc[start : end + 1]).rstrip("\n") + "\n"
    return kept


#: ``--only`` sections: name -> (title, run(tmp, quick) -> markdown body).
ONLY: dict[str, tuple[str, Callable[[str, bool], str]]] = {
    "memory": (
        MEMORY_TITLE,
        lambda tmp, quick: memory.note(quick) + "\n\n" + memory.table(memory.memory(tmp, quick)),
    ),
    "storage": (storage.TITLE, storage.section),
    "rpcmodel": (rpcmodel.TITLE, rpcmodel.section),
    "peers": (peers.TITLE, peers.section),
    "writeset": (writeset.TITLE, writeset.section),
}


def _only(which: str, quick: bool, *, write: bool) -> int:
    """One section alone (``--only memory|storage|rpcmodel|peers|writeset``), replacing just
    that section in the doc."""
    started = time.perf_counter()
    client_pin = pin(0)
    title, run = ONLY[which]
    with tempfile.TemporaryDirectory() as tmp:
        body = run(tmp, quick)
    section = (
        f"### {title}\n\nMeasured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
        f"{_machine()}, client pinned to {client_pin}, with "
        f"`python -m bench --only {which}{' --quick' if quick else ''}` "
        f"({time.perf_counter() - started:.0f} s).\n\n{body}\n"
    )
    print(section)
    if write:
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text() if doc.exists() else "# Benchmarks\n\n<!-- results -->\n"
        start = text.find(f"### {title}")
        if start < 0:
            text = text.rstrip("\n") + "\n\n" + section
        else:
            end = text.find("\n### ", start + 1)
            text = text[:start] + section + (text[end:] if end >= 0 else "")
        doc.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
