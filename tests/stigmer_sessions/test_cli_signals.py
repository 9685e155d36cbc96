"""A process manager's stop always works: SIGTERM and SIGINT end a real server with exit
code 0 within the grace period, whether it is serving or still starting, alone or with
workers. (Slow-ish: real processes; about 20 s in all.)"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from stigmer_sessions import SessionController
from stigmer_sessions.config import SessionConfig, load_lifecycle
from tests.conftest import make_session

ROOT = Path(__file__).resolve().parents[2]
#: How long a stopped server may take to exit: gRPC's drain grace plus closing the store.
GRACE_S = 15


def _spawn(*args: str) -> tuple[subprocess.Popen[str], list[dict[str, Any]]]:
    """Run ``server.py *args``; its log lines are collected as they come."""
    return _start(*args, until=None)


def _start(*args: str, until: str | None) -> tuple[subprocess.Popen[str], list[dict[str, Any]]]:
    """Run ``server.py *args`` and return once it logged a line whose msg is ``until``;
    later lines keep being collected (which keeps the pipe drained)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), *args],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so _kill reaches workers too
    )
    assert proc.stderr is not None
    lines: list[dict[str, Any]] = []
    watchdog = threading.Timer(60, _kill, (proc,))  # a server that never logs it must not hang the test
    watchdog.start()
    try:
        for text in proc.stderr if until is not None else ():
            lines.append(_parse(text))
            if lines[-1]["msg"] == until:
                break
        else:
            if until is not None:
                raise AssertionError(f"no {until!r} line: {lines}")
    finally:
        watchdog.cancel()
    threading.Thread(target=lambda: lines.extend(map(_parse, proc.stderr or ())), daemon=True).start()
    return proc, lines


def _parse(text: str) -> dict[str, Any]:
    """A JSON log line, or {"raw": text} for anything else (a traceback, say)."""
    try:
        line: dict[str, Any] = json.loads(text)
    except ValueError:
        return {"msg": None, "raw": text}
    return line


def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the server and every process it started (its workers hold our pipe)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> int:
    """Signal the server alone (as a process manager does with the main pid); its exit code."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise AssertionError(f"{sig.name} did not stop the server within {GRACE_S} s") from None


def _wait_until_store_open(proc: subprocess.Popen[str], data: Path) -> None:
    """Return once ``proc`` or one of its children has ``data/data.mdb`` open: it is past
    its imports and into start-up (opening the store, then restart recovery)."""
    target = str(data / "data.mdb")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if proc.pid in (int(entry.name), ppid) and any(
                    os.readlink(fd) == target for fd in (entry / "fd").iterdir()
                ):
                    return
            except (OSError, ValueError, IndexError):
                continue  # gone, or not ours to read
        time.sleep(0.005)
    _kill(proc)
    raise AssertionError("the server never opened its store")


def _processes_using(path: Path) -> list[int]:
    """Pids of live processes whose command line mentions ``path`` (orphaned workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(path).encode() in cmdline and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_twenty_start_stop_cycles_all_exit_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "d"
    codes = []
    for _ in range(20):
        proc, _lines = _start("--address", "127.0.0.1:0", "--data-dir", str(data), until="serving")
        codes.append(_stop(proc, sig))
    assert codes == [0] * 20


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_stop_during_start_up_is_not_lost(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "d"
    # many live sessions make restart recovery, a part of start-up, take a while
    with SessionController(
        data, durable=False, config=SessionConfig(lifecycle=load_lifecycle("worker"))
    ) as c:
        for i in range(300):
            c.transition(c.create(make_session(f"s{i}")).metadata.id, "active")
    args = ("--address", "127.0.0.1:0", "--data-dir", str(data), "--lifecycle", "worker")
    proc, lines = _spawn(*args)
    _wait_until_store_open(proc, data)  # recovering the 300 sessions takes a while now
    assert _stop(proc, sig) == 0
    assert [line["raw"] for line in lines if "raw" in line] == []  # no traceback either


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_workers_stop_cleanly_serving_or_starting(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "d"
    args = ("--workers", "2", "--address", "127.0.0.1:0", "--data-dir", str(data))
    for _ in range(3):
        proc, _lines = _start(*args, until="serving")
        assert _stop(proc, sig) == 0
    proc, lines = _spawn(*args)
    try:
        _wait_until_store_open(proc, data)  # a worker is starting
        assert _stop(proc, sig) == 0
        assert _processes_using(data) == []  # no worker left behind
    finally:  # if not, do not leave them running after the test
        for pid in _processes_using(data):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert [line["raw"] for line in lines if "raw" in line] == []  # and nothing but log lines
