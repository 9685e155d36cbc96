"""The admin commands as an operator runs them: mistakes get one clear line and a non-zero
exit, nothing is created or half-written, writers are refused beside a running server, and
progress shows on a terminal only."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import IO

import pytest

from stigmer_sessions import SessionController, cli
from tests.conftest import make_session, run_cli, start_server_process

ROOT = Path(__file__).resolve().parents[2]


def _one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("stigmer-sessions: ")
    for fragment in fragments:
        assert fragment in line, line


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    data = tmp_path / "store"
    with SessionController(data) as c:
        for i in range(3):
            s = c.create(make_session(f"s{i}"))
            c.append_message(s.metadata.id, "user", "hello")
    return data


@pytest.mark.parametrize("command", [["check"], ["reindex"], ["export", "out.jsonl"]])
def test_a_data_dir_that_does_not_exist_is_refused_and_not_created(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "missing"
    result = run_cli(command[0], "--data-dir", str(missing), *command[1:])
    _one_error_line(result, f"no store at {missing}", "does not exist")
    assert not missing.exists() and not (Path.cwd() / "out.jsonl").exists()


def test_a_directory_without_a_store_is_refused(tmp_path: Path) -> None:
    result = run_cli("check", "--data-dir", str(tmp_path))
    _one_error_line(result, f"no store at {tmp_path}", "no data.mdb")
    assert list(tmp_path.iterdir()) == []


def test_import_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    result = run_cli("import", "--data-dir", str(tmp_path / "new"), str(tmp_path / "nope.jsonl"))
    _one_error_line(result, "nothing was written", "nope.jsonl: No such file or directory")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"this is not json\n", "line 1: not a stigmer-sessions-export/1 file"),
        (b"\xff\xfe\x00\x01", "line 1: not UTF-8"),
    ],
)
def test_import_of_a_file_that_is_not_an_export_creates_nothing(
    tmp_path: Path, content: bytes, line: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    _one_error_line(
        run_cli("import", "--data-dir", str(tmp_path / "new"), str(bad)), "nothing was written", line
    )
    assert not (tmp_path / "new").exists()


def test_import_names_the_bad_line_and_writes_nothing(store_dir: Path, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    assert run_cli("export", "--data-dir", str(store_dir), str(dump)).returncode == 0
    lines = dump.read_text().splitlines(keepends=True)
    lines[3] = '{"record": {"metadata": \n'
    dump.write_text("".join(lines))
    _one_error_line(
        run_cli("import", "--data-dir", str(tmp_path / "new"), str(dump)), "line 4: cannot import"
    )
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()  # into an existing empty directory: the store stays empty
    _one_error_line(
        run_cli("import", "--data-dir", str(tmp_path / "empty"), str(dump)), "line 4: cannot import"
    )
    with SessionController(tmp_path / "empty") as c:
        assert c.sizes().records == 0 and c.sizes().changes == 0


def test_import_from_stdin_round_trips(store_dir: Path, tmp_path: Path) -> None:
    dump = run_cli("export", "--data-dir", str(store_dir), "-")
    assert dump.returncode == 0
    loaded = run_cli("import", "--data-dir", str(tmp_path / "copy"), "-", stdin=dump.stdout)
    assert (loaded.returncode, loaded.stderr.strip()) == (
        0,
        'imported {"records": 3, "children": 3, "changes": 6}',
    )


def test_export_to_an_unwritable_path_leaves_no_file(store_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = run_cli("export", "--data-dir", str(store_dir), str(blocker / "out.jsonl"))
    _one_error_line(result, f"{blocker / 'out.jsonl'}: Not a directory")
    result = run_cli("export", "--data-dir", str(store_dir), str(tmp_path / "no-such-dir" / "out.jsonl"))
    _one_error_line(result, "No such file or directory")
    _one_error_line(run_cli("export", "--data-dir", str(store_dir), str(tmp_path)), "is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "store"]


def test_an_export_failing_midway_leaves_no_partial_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("an older export\n")

    def write_then_fail(out: IO[str]) -> dict[str, int]:
        out.write('{"format": "stigmer-sessions-export/1"}\n' * 1000)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        cli._export_to(str(target), write_then_fail)
    assert target.read_text() == "an older export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_export_replaces_the_target_only_when_complete(store_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("an older export\n")
    assert run_cli("export", "--data-dir", str(store_dir), str(target)).returncode == 0
    assert target.read_text().startswith('{"format": "stigmer-sessions-export/1"')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "store"]


def test_writers_are_refused_beside_a_running_server_and_readers_allowed(
    store_dir: Path, tmp_path: Path
) -> None:
    proc, _ = start_server_process("--address", "127.0.0.1:0", "--data-dir", str(store_dir))
    try:
        holder = f"in use by another process (pid {proc.pid}, `stigmer-sessions serve`)"
        second = run_cli("--address", "127.0.0.1:0", "--data-dir", str(store_dir))
        _one_error_line(second, str(store_dir), holder)
        _one_error_line(run_cli("reindex", "--data-dir", str(store_dir)), "reindex failed", holder)
        empty = tmp_path / "empty.jsonl"
        empty.write_text('{"format": "stigmer-sessions-export/1", "revision": 0}\n')
        _one_error_line(run_cli("import", "--data-dir", str(store_dir), str(empty)), holder)
        assert run_cli("check", "--data-dir", str(store_dir)).returncode == 0
        assert run_cli("export", "--data-dir", str(store_dir), str(tmp_path / "x.jsonl")).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    # the claim ends with the server
    assert run_cli("reindex", "--data-dir", str(store_dir)).stdout.strip() == "reindexed 3 sessions"


def test_a_second_server_is_refused_beside_workers(tmp_path: Path) -> None:
    data = tmp_path / "d"
    proc, _ = start_server_process("--workers", "2", "--address", "127.0.0.1:0", "--data-dir", str(data))
    try:
        _one_error_line(run_cli("--address", "127.0.0.1:0", "--data-dir", str(data)), f"(pid {proc.pid}, ")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def _on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; (exit code, stdout, what the terminal showed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # rows, columns
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), *args], stdout=subprocess.PIPE, stderr=follower, text=True
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out, shown.decode(errors="replace")


@pytest.mark.parametrize(
    ("command", "total"), [(["check"], 6), (["reindex"], 3), (["export", "out.jsonl"], 12)]
)
def test_progress_shows_on_a_terminal_only(
    store_dir: Path, tmp_path: Path, command: list[str], total: int
) -> None:
    args = [command[0], "--data-dir", str(store_dir), *(str(tmp_path / c) for c in command[1:])]
    code, _, shown = _on_a_terminal(*args)
    assert code == 0
    assert f"/{total} " in shown and "items/s" in shown, shown  # count of a total, and a rate
    quiet = run_cli(*args)
    assert quiet.returncode == 0
    summary = quiet.stdout.splitlines() + quiet.stderr.splitlines()
    assert len(summary) == 1, summary  # no bar, only the final line


def test_import_progress_on_a_terminal(store_dir: Path, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    assert run_cli("export", "--data-dir", str(store_dir), str(dump)).returncode == 0
    code, _, shown = _on_a_terminal("import", "--data-dir", str(tmp_path / "copy"), str(dump))
    assert code == 0 and "/12 " in shown and 'imported {"records": 3' in shown, shown
