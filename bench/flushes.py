"""What one durable commit costs the disk, below any library: the floor of a durable write.

``python bench/flushes.py`` prints the median of each, in one run on this machine's disk:

* a 4 KiB page overwritten in place, then ``fdatasync`` (one flush, no file growth);
* the same twice (LMDB's commit: the data pages, then the meta page pointing to them);
* a page appended (the file grows: the flush also commits its new size);
* SQLite in WAL mode with ``synchronous=FULL``: one insert per transaction (one flush);
* LMDB, durable: one put of 500 bytes per transaction.

It is how docs/benchmarks.md explains why a lone durable caller of an LMDB store pays about
twice what a SQLite WAL store pays per write.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import lmdb

PAGE = b"x" * 4096


def median_us(fn: Callable[[int], object], n: int) -> float:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> int:
    with tempfile.TemporaryDirectory(dir=sys.argv[1] if len(sys.argv) > 1 else None) as d:
        fd = os.open(f"{d}/overwrite", os.O_RDWR | os.O_CREAT)
        os.write(fd, b"\0" * 4096 * 400)
        os.fsync(fd)

        def overwrite(i: int) -> None:
            os.pwrite(fd, PAGE, (i % 400) * 4096)
            os.fdatasync(fd)

        def twice(i: int) -> None:
            overwrite(i)
            os.pwrite(fd, PAGE[:200], 0)
            os.fdatasync(fd)

        grow = os.open(f"{d}/append", os.O_RDWR | os.O_CREAT)

        def append(i: int) -> None:
            os.pwrite(grow, PAGE, i * 4096)
            os.fdatasync(grow)

        con = sqlite3.connect(f"{d}/wal.db", isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, sid TEXT, data TEXT)")
        con.execute("CREATE INDEX m_sid ON m (sid, id)")

        def insert(i: int) -> None:
            con.execute("BEGIN")
            con.execute("INSERT INTO m (sid, data) VALUES (?, ?)", (f"s{i % 100}", "y" * 200))
            con.execute("COMMIT")

        env = lmdb.open(f"{d}/lmdb", map_size=1 << 30, sync=True, metasync=True)

        def put(i: int) -> None:
            with env.begin(write=True) as txn:
                txn.put(b"k%08d" % i, b"v" * 500)

        rows = [
            ("one page overwritten + fdatasync", median_us(overwrite, 500)),
            ("two such flushes (LMDB's data, then meta)", median_us(twice, 500)),
            ("one page appended + fdatasync (the file grows)", median_us(append, 500)),
            ("SQLite WAL, synchronous=FULL: one insert per transaction", median_us(insert, 1000)),
            ("LMDB durable: one 500 B put per transaction", median_us(put, 1000)),
        ]
        env.close()
        con.close()
        os.close(fd)
        os.close(grow)
    print("| on this disk | p50 µs |\n|---|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
