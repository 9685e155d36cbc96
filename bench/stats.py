"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Result:
    name: str
    ops_per_s: float  # median over rounds
    p50_us: float
    p99_us: float
    baseline: str = ""
    ratio: float | None = None  # ops/s relative to the baseline's ops/s
    server_cpu_us: float | None = None

    @classmethod
    def of_samples(cls, name: str, ops_per_s: float, samples_ns: list[int]) -> Result:
        """A row from per-call latencies in nanoseconds (p50 and p99 in microseconds)."""
        ordered = sorted(samples_ns)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(name, ops_per_s, ordered[len(ordered) // 2] / 1000, p99 / 1000)


def measure(name: str, op: Callable[[int], object], *, rounds: int = 5, per_round: int = 400) -> Result:
    """Run ``op(i)`` ``rounds * per_round`` times (after a warm-up round); latency percentiles
    over every call, throughput as the median of the rounds' throughputs."""
    for i in range(min(per_round, 100)):
        op(-1 - i)
    samples: list[int] = []
    rates: list[float] = []
    clock = time.perf_counter_ns
    n = 0
    for _ in range(rounds):
        start = clock()
        for _ in range(per_round):
            t = clock()
            op(n)
            samples.append(clock() - t)
            n += 1
        rates.append(per_round / ((clock() - start) / 1e9))
    return Result.of_samples(name, statistics.median(rates), samples)


def versus(result: Result, baseline: Result) -> Result:
    result.baseline = baseline.name
    result.ratio = result.ops_per_s / baseline.ops_per_s
    return result


def pin(cpu: int) -> str:
    """Pin this process to ``cpu`` when the machine has it (a negative ``cpu``: to every
    cpu); says what happened.

    Uses the machine's CPU count, not the inherited mask: a server started by a pinned
    client would otherwise only ever see the client's core.
    """
    count = os.cpu_count() or 1
    if cpu < 0:  # explicitly free: undo a mask inherited from a pinned parent
        os.sched_setaffinity(0, range(count))
        return f"not pinned (any of {count} cpus)"
    if count < 2 or cpu >= count:
        return f"not pinned ({count} cpu)"
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        return f"not pinned ({exc})"
    return f"cpu {cpu}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure_pair(
    a: tuple[str, Callable[[int], object]],
    b: tuple[str, Callable[[int], object]],
    *,
    rounds: int = 5,
    per_round: int = 400,
) -> tuple[Result, Result]:
    """Measure two variants in alternating rounds, so drift (a growing store, a busy
    neighbour) hits both alike: for comparisons that must be fair to a few percent."""
    rates: dict[str, list[float]] = {a[0]: [], b[0]: []}
    samples: dict[str, list[int]] = {a[0]: [], b[0]: []}
    clock = time.perf_counter_ns
    n = 0
    for _ in range(rounds):
        for name, op in (a, b):
            start = clock()
            for _ in range(per_round):
                t = clock()
                op(n)
                samples[name].append(clock() - t)
                n += 1
            rates[name].append(per_round / ((clock() - start) / 1e9))
    return (
        Result.of_samples(a[0], statistics.median(rates[a[0]]), samples[a[0]]),
        Result.of_samples(b[0], statistics.median(rates[b[0]]), samples[b[0]]),
    )
