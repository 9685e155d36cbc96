"""Measure what the single change-log head costs: write transactions per second at N writers.

``python tools/pg_write_ceiling.py DSN [--writers 1 16] [--seconds 3]`` runs, in a fresh schema
of that database (dropped afterwards), N threads each with its own connection pool, for a few
seconds each:

* ``append``: the shape of every mutation's end, one change appended (head row locked from
  the append to commit), then commit;
* ``private``: the same transaction shape on a counter row of the writer's own (no shared row),
  the control that shows what the shared head row takes away.

Numbers are for the machine it runs on; they belong in docs, not in test assertions.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

import psycopg
from psycopg.conninfo import make_conninfo

from pipeline.storage.postgres import PostgresStorage
from pipeline.storage.postgres.stores import PgTx
from stigmer_sessions.api import SessionChange


def run(storages: list[PostgresStorage], seconds: float, mode: str) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * len(storages)

    def work(i: int) -> None:
        storage = storages[i]

        def append(tx: PgTx) -> None:
            tx.changes.append(SessionChange(), kind="session", resource_id=f"ses-{i}", org="acme", time_ns=1)

        def private(tx: PgTx) -> None:
            tx.counters.add(("bench", str(i)), 1)

        fn = append if mode == "append" else private
        while time.monotonic() < stop:
            storage.write(fn)
            counts[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(storages))]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    dsn = make_conninfo(args.dsn, options=f"-csearch_path={schema}")
    try:
        for writers in args.writers:
            storages = [PostgresStorage(dsn, pool_size=1) for _ in range(writers)]
            try:
                for mode in ("append", "private"):
                    rate = run(storages, args.seconds, mode)
                    print(f"{mode:8s} writers={writers:3d}  {rate:8.0f} transactions/s")
            finally:
                for s in storages:
                    s.close()
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
