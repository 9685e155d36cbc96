"""A throwaway PostgreSQL cluster for tests and CI (stdlib only).

``python tools/pg_cluster.py start`` installs the Debian ``postgresql-15`` package when no
``initdb`` is found, creates a cluster in a temporary directory owned by ``postgres`` (the
server refuses to run as root), starts it on 127.0.0.1 on a free port with durability off
(test speed only: never do this in production; ``--durable`` keeps PostgreSQL's durable
defaults, fsync and synchronous_commit on, for benchmarks), writes a state file and prints the
``export STIGMER_SESSIONS_TEST_PG=...`` line for the shell. ``stop`` stops it and removes
the directory. The state file defaults to ``$TMPDIR/stigmer-pg-cluster.json``
(``--state`` overrides it), so a CI script can stop what it started even after a failure.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_STATE = Path(tempfile.gettempdir()) / "stigmer-pg-cluster.json"
_SUPERUSER = "postgres"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _install() -> Path:
    print("installing postgresql-15 (apt-get)...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql-15"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    bindir = _bindir()
    if bindir is None:
        raise SystemExit("postgresql-15 was installed but no initdb was found under /usr/lib/postgresql")
    return bindir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return port if port != 5432 else _free_port()


def _as_postgres(*argv: str) -> list[str]:
    """Run as the postgres user when we are root (the server refuses root); as is otherwise."""
    return ["runuser", "-u", _SUPERUSER, "--", *argv] if os.geteuid() == 0 else list(argv)


def _options(root: Path | str, port: int, *, durable: bool) -> str:
    """Server settings: loopback only, a socket in the cluster dir; durability as asked (a
    benchmark must pay for the flush at commit like a production database does)."""
    flush = (
        "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
        if durable
        else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    return f"-c listen_addresses=127.0.0.1 -p {port} -k {root} {flush} -c max_connections=200"


def start(state: Path, *, durable: bool = False) -> str:
    if state.exists():
        raise SystemExit(f"a cluster is already recorded in {state}: stop it first")
    bindir = _bindir() or _install()
    root = Path(tempfile.mkdtemp(prefix="stigmer-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, _SUPERUSER, _SUPERUSER)
    subprocess.run(
        _as_postgres(
            str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", _SUPERUSER,
            "-E", "UTF8", "--locale=C", "--no-sync",
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    port = _free_port()
    options = _options(root, port, durable=durable)
    subprocess.run(
        _as_postgres(
            str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
            "-o", options, "-w", "-t", "30", "start",
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    dsn = f"postgresql://{_SUPERUSER}@127.0.0.1:{port}/postgres"
    info = {"root": str(root), "bindir": str(bindir), "port": port, "dsn": dsn, "durable": durable}
    state.write_text(json.dumps(info))
    return dsn


def _pg_ctl(info: dict[str, Any], *args: str) -> subprocess.CompletedProcess[bytes]:
    data = str(Path(info["root"]) / "data")
    return subprocess.run(
        _as_postgres(str(Path(info["bindir"]) / "pg_ctl"), "-D", data, *args),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(state: Path) -> None:
    if not state.exists():
        print(f"no cluster recorded in {state}", file=sys.stderr)
        return
    info = json.loads(state.read_text())
    _pg_ctl(info, "-m", "fast", "-w", "stop")
    shutil.rmtree(info["root"], ignore_errors=True)
    state.unlink()


def pause(state: Path) -> None:
    """Stop the server but keep its data (tests of a database lost while serving)."""
    _pg_ctl(json.loads(state.read_text()), "-m", "fast", "-w", "stop")


def resume(state: Path) -> None:
    """Start a paused server again, on the same port."""
    info = json.loads(state.read_text())
    root = info["root"]
    options = _options(root, info["port"], durable=bool(info.get("durable", False)))
    _pg_ctl(info, "-l", str(Path(root) / "server.log"), "-o", options, "-w", "-t", "30", "start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "pause", "resume"])
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="where the cluster is recorded")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="start: fsync and synchronous_commit on (benchmarks); the default is off (tests)",
    )
    args = parser.parse_args(argv)
    if args.command == "start":
        print(f"export STIGMER_SESSIONS_TEST_PG={start(args.state, durable=args.durable)}")
    elif args.command == "stop":
        stop(args.state)
    elif args.command == "pause":
        pause(args.state)
    else:
        resume(args.state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
