"""``--workers N``: N server processes sharing one port (SO_REUSEPORT) and one LMDB store.

The parent only supervises. It fixes the port (resolving port 0 once, so every worker
binds the same one), starts the workers as fresh interpreters (each opens the LMDB
environment itself: nothing is inherited across a fork), waits until each reports ready
on a pipe, forwards SIGTERM/SIGINT as SIGTERM (from before the first worker starts, so a stop during
start-up is never lost and never orphans a worker), and, if a worker dies on its own, stops the others
and exits 1 so a process manager can restart the service whole. LMDB serialises writers
across processes, so uniqueness, versions, quotas and revisions hold across workers.
Worker 0 alone runs restart recovery and change compaction.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

_log = logging.getLogger("stigmer_sessions")


def _fix_port(address: str) -> tuple[str, socket.socket | None]:
    """``host:0`` -> ``host:<free port>``, holding the port (with SO_REUSEPORT) until the
    workers have bound it, so nothing else takes it in between."""
    host, port = address.rsplit(":", 1)
    if port != "0":
        return address, None
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host.strip("[]"), 0))
    return f"{host}:{holder.getsockname()[1]}", holder


def run(
    worker_args: list[str],
    workers: int,
    address: str,
    *,
    pin_cpus: bool,
    store: str,
    env: dict[str, str] | None = None,
) -> int:
    """Supervise ``workers`` server processes until a signal stops them (exit 0) or one of
    them exits on its own (the others are stopped; exit 1). Call from the main thread.
    ``store`` describes the store for the log (never a password); ``env`` is added to the
    workers' environment (the store URL travels there, not on their command lines, where
    ``ps`` would show a password)."""
    procs: list[subprocess.Popen[bytes]] = []
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        # SIGTERM whatever came: a running worker treats both alike, and one still importing
        # (no handler yet) ends quietly instead of printing a KeyboardInterrupt traceback
        stopping.set()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    # SIGHUP (re-read tokens, keys, certificates) goes to every worker once all are serving;
    # until then it is ignored, by the workers too (they inherit that), so none dies of it
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def on_hangup(_signum: int, _frame: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGHUP)

    concrete, holder = _fix_port(address)
    read_fd, write_fd = os.pipe()
    cpus = os.cpu_count() or 1
    for index in range(workers):
        if stopping.is_set():
            break
        args = [sys.executable, "-m", "stigmer_sessions.cli", "serve", *worker_args, "--address", concrete]
        args += ["--worker-index", str(index), "--ready-fd", str(write_fd)]
        if pin_cpus:
            args += ["--cpu", str(index % cpus)]
        procs.append(subprocess.Popen(args, pass_fds=(write_fd,), env={**os.environ, **(env or {})}))
    os.close(write_fd)
    ready = 0
    with os.fdopen(read_fd, "rb") as pipe:
        # a stop that came while spawning may have missed the newest worker: _stop below
        while ready < workers and not stopping.is_set() and pipe.read(1):
            ready += 1
    if holder is not None:
        holder.close()
    if stopping.is_set() and ready < workers:  # stopped during start-up: a requested stop
        _stop(procs)
        _log.info("stopped during start-up", extra={"fields": {"codes": [p.returncode for p in procs]}})
        return 0
    if ready < workers:
        print(f"stigmer-sessions: only {ready} of {workers} workers started", file=sys.stderr)
        _stop(procs)
        return 1
    signal.signal(signal.SIGHUP, on_hangup)
    _log.info(
        "serving",
        extra={
            "fields": {
                "address": concrete,
                "store": store,
                "workers": workers,
                "pids": [p.pid for p in procs],
            }
        },
    )
    while True:
        codes = [p.poll() for p in procs]
        if all(code is not None for code in codes):
            _log.info("workers stopped", extra={"fields": {"codes": codes}})
            return 0 if stopping.is_set() and all(code == 0 for code in codes) else 1
        if not stopping.is_set() and any(code is not None for code in codes):
            _log.error("a worker exited; stopping the others", extra={"fields": {"codes": codes}})
            stopping.set()
            _stop(procs)
        time.sleep(0.1)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
