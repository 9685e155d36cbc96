"""Run a command (the test suite) with the PostgreSQL tier when one can be had (stdlib only).

``python tools/with_pg.py -- COMMAND...``: with ``STIGMER_SESSIONS_TEST_PG`` already set, runs
COMMAND against that database. Otherwise, when a throwaway cluster can be started (as root,
which may install the Debian package first, or as any user when PostgreSQL's binaries are
installed), starts one with ``tools/pg_cluster.py``, runs COMMAND with the variable set and
stops the cluster afterwards, whatever COMMAND did (and on SIGINT/SIGTERM). Else it says
clearly that the PostgreSQL tier is skipped and how to run it, and runs COMMAND without it
(its PostgreSQL cases skip; under ``CI=true`` they fail instead). Exits with COMMAND's code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pg_cluster  # noqa: E402

ENV = "STIGMER_SESSIONS_TEST_PG"


def _say(text: str) -> None:
    print(f"with_pg: {text}", file=sys.stderr, flush=True)


def _can_start() -> str:
    """Why a cluster cannot be started here ("" if it can)."""
    if os.geteuid() == 0 or pg_cluster._bindir() is not None:
        return ""
    return "not root and no PostgreSQL binaries (/usr/lib/postgresql/*/bin)"


def main(argv: list[str]) -> int:
    command = argv[1:] if argv and argv[0] == "--" else argv
    if not command:
        raise SystemExit("usage: with_pg.py -- COMMAND...")
    if os.environ.get(ENV):
        _say(f"PostgreSQL tier on the database in {ENV}")
        return subprocess.call(command)
    why = _can_start()
    if why:
        _say(
            f"PostgreSQL tier SKIPPED: {why}. To run it, set {ENV} to a DSN of a database the "
            "tests may create schemas in, or run as root (tools/pg_cluster.py starts a throwaway cluster)"
        )
        return subprocess.call(command)
    with tempfile.TemporaryDirectory(prefix="stigmer-with-pg-") as tmp:
        state = Path(tmp) / "cluster.json"
        dsn = pg_cluster.start(state)
        _say(f"PostgreSQL tier on a throwaway cluster: {dsn}")
        child: subprocess.Popen[bytes] | None = None

        def forward(signum: int, _frame: object) -> None:
            if child is not None and child.poll() is None:
                child.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, forward)
        try:
            child = subprocess.Popen(command, env={**os.environ, ENV: dsn})
            return child.wait()
        finally:
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
            pg_cluster.stop(state)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
