"""``python server.py`` as a user runs it: a real process, real signals."""

from __future__ import annotations

import io
import json
import logging
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from pipeline.resource import ORG_OWNER_INDEX
from stigmer_sessions import SessionController, cli
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc, query_pb2_grpc
from stigmer_sessions.api import SessionId
from stigmer_sessions.config import SessionConfig, load_lifecycle
from tests.conftest import make_session, run_cli, start_server_process

ROOT = Path(__file__).resolve().parents[2]


def _stop(proc: subprocess.Popen[str], event: dict[str, Any], sig: int = signal.SIGTERM) -> str:
    """Signal the server, check it exits cleanly, and return what it logged after starting."""
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0
    event["drain"].join(30)
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in event["lines"])


def test_serves_on_port_0_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, event = start_server_process("--address", "127.0.0.1:0", "--data-dir", str(data))
    try:
        assert event["address"].startswith("127.0.0.1:")
        assert not event["address"].endswith(":0")
        assert event["data_dir"] == str(data)
        with grpc.insecure_channel(event["address"]) as channel:
            created = command_pb2_grpc.SessionCommandControllerStub(channel).create(make_session())  # type: ignore[no-untyped-call]
    finally:
        err = _stop(proc, event)
    assert '"msg": "shutting down"' in err
    assert '"method": "/ai.stigmer.agentic.session.v1.SessionCommandController/create"' in err

    proc, event = start_server_process(
        env={"STIGMER_SESSIONS_ADDRESS": "127.0.0.1:0", "STIGMER_SESSIONS_DATA_DIR": str(data)}
    )
    try:
        assert event["data_dir"] == str(data)
        with grpc.insecure_channel(event["address"]) as channel:
            stub = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
            assert stub.get(SessionId(value=created.metadata.id)) == created
    finally:
        _stop(proc, event, signal.SIGINT)


def test_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--address", "127.0.0.1:0", "--data-dir", str(blocker)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert str(blocker) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_admin_commands_check_export_import(tmp_path: Path) -> None:
    with SessionController(tmp_path / "a") as c:
        s = c.create(make_session("exported"))
        c.append_message(s.metadata.id, "user", "hello")
    check = run_cli("check", "--data-dir", str(tmp_path / "a"))
    # no tags or labels: slug, org, agent_instance, org_agent_instance (the default
    # configuration keeps neither optional index, phase nor org_owner)
    assert (check.returncode, check.stdout.strip().splitlines()[-1]) == (
        0,
        "ok: 1 sessions, 4 index entries, 0 problems",
    )
    dump = tmp_path / "dump.jsonl"
    assert run_cli("export", "--data-dir", str(tmp_path / "a"), str(dump)).returncode == 0
    imported = run_cli("import", "--data-dir", str(tmp_path / "b"), str(dump))
    assert imported.returncode == 0, imported.stderr
    assert '"records": 1' in imported.stderr
    again = run_cli("import", "--data-dir", str(tmp_path / "b"), str(dump))
    assert (again.returncode, "nothing was written" in again.stderr) == (1, True)
    assert run_cli("reindex", "--data-dir", str(tmp_path / "b")).stdout.strip() == "reindexed 1 sessions"


def test_corrupted_store_is_a_clear_error_and_left_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    garbage = bytes(range(256)) * 256
    (data / "data.mdb").write_bytes(garbage)
    result = run_cli("--address", "127.0.0.1:0", "--data-dir", str(data))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(data) in result.stderr
    assert "cannot open the store" in result.stderr
    assert "stigmer-sessions import" in result.stderr and "from a backup" in result.stderr
    assert (data / "data.mdb").read_bytes() == garbage  # no silent fresh start over the old file


def test_server_start_recovers_live_sessions_of_the_chosen_lifecycle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SessionController(data, config=SessionConfig(lifecycle=load_lifecycle("worker"))) as c:
        s = c.create(make_session("busy"))
        c.transition(s.metadata.id, "active")
    proc, event = start_server_process(
        "--address", "127.0.0.1:0", "--data-dir", str(data), "--lifecycle", "worker"
    )
    try:
        assert event["lifecycle"] == "worker"
        with grpc.insecure_channel(event["address"]) as channel:
            stub = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
            assert stub.get(SessionId(value=s.metadata.id)).state.phase == "idle"
    finally:
        _stop(proc, event)
    with SessionController(data) as c:
        last = list(c.events())[-1]
    assert (last.type, last.resource_id, last.caused_by) == (
        "SessionPhaseChanged",
        s.metadata.id,
        "restart-recovery",
    )


def test_unknown_lifecycle_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--lifecycle", "nope.toml"
    )
    assert result.returncode == 2
    assert "cannot load lifecycle 'nope.toml'" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_overwritten_pages_exits_3_and_never_crashes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SessionController(data, durable=False) as c:
        for i in range(300):
            s = c.create(make_session(f"s{i}", tags=("t", f"t{i % 3}"), agent=f"ain-{i % 7}"))
            for j in range(3):
                c.append_message(s.metadata.id, "user", f"message {i}.{j} " * 20)
            if i % 5 == 0:
                c.pin(s.metadata.id)
    healthy = run_cli("check", "--data-dir", str(data))
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    pages = (data / "data.mdb").stat().st_size // 4096
    rng = random.Random(9)
    with (data / "data.mdb").open("r+b") as f:  # as `dd conv=notrunc` would: 20 pages mid-file
        for page in range(pages // 2 - 10, pages // 2 + 10):
            f.seek(page * 4096)
            f.write(rng.randbytes(4096))
    result = run_cli("check", "--data-dir", str(data))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "the store is corrupted" in result.stdout
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("PROBLEMS: ")
    assert len(lines) >= 2  # at least one problem, then the summary


def test_check_reports_an_engine_abort_as_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # LMDB aborts the process on some page damage; stand in for that with a child that aborts
    monkeypatch.setattr(cli, "_CHECK_CHILD", [sys.executable, "-c", "import os; os.abort()"])
    SessionController(tmp_path, durable=False).close()  # check needs an existing store
    assert cli.main(["check", "--data-dir", str(tmp_path)]) == 3
    out = capsys.readouterr().out
    assert "the storage engine aborted (SIGABRT)" in out and "the store is corrupted" in out
    assert out.strip().splitlines()[-1].startswith("PROBLEMS: ")


_ABORTS_IN_RECORDS = """
import os, sys
journal = sys.argv[sys.argv.index("--journal") + 1]
with open(journal, "a") as out:
    out.write("session records (forward)\\n")
if "--avoid=session records (forward)\\t" not in sys.argv:
    os.abort()
print("session records (forward): not read: the storage engine aborted the process reading it")
print("PROBLEMS: 1 sessions, 0 index entries, 1 problems")
sys.exit(3)
"""


def test_check_runs_again_around_the_pass_the_engine_aborted_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_CHECK_CHILD", [sys.executable, "-c", _ABORTS_IN_RECORDS])
    SessionController(tmp_path, durable=False).close()  # check needs an existing store
    assert cli.main(["check", "--data-dir", str(tmp_path)]) == 3
    out = capfd.readouterr().out
    assert "session records (forward): not read" in out
    assert "stopped by the storage engine" not in out


def test_log_lines_go_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread that logs after stderr was redirected and the old stream closed (a watch
    ending after a test's capture) writes to the new stderr, not into a closed file."""
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    handler = cli.StderrHandler()
    handler.setFormatter(cli.JsonFormatter())
    log = logging.getLogger("test.stderr.handler")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("one")
        first.close()
        monkeypatch.setattr(sys, "stderr", second)
        log.warning("two")
    finally:
        log.removeHandler(handler)
    assert [json.loads(line)["msg"] for line in second.getvalue().splitlines()] == ["two"]


def test_the_json_line_keeps_its_keys_order_and_timestamp() -> None:
    """What operators parse: ts (UTC, milliseconds), level, logger, msg, pid, then the
    fields in their order; the cached second is formatted again when the second changes."""
    formatter = cli.JsonFormatter()
    log = logging.getLogger("stigmer_sessions.rpc")
    fields = {"method": "/s/get", "code": "OK", "duration_ms": 0.5, "actor": "ünïcode"}
    record = log.makeRecord(log.name, logging.INFO, "", 0, "rpc", (), None, extra={"fields": fields})
    lines = []
    for created in (1_780_000_000.25, 1_780_000_000.75, 1_780_000_001.0):
        record.created, record.msecs = created, (created - int(created)) * 1000
        lines.append(formatter.format(record))
    parsed = [json.loads(line) for line in lines]
    assert [p["ts"] for p in parsed] == [
        "2026-05-28T20:26:40.250Z",
        "2026-05-28T20:26:40.750Z",
        "2026-05-28T20:26:41.000Z",
    ]
    head = ["ts", "level", "logger", "msg", "pid"]
    assert list(parsed[0]) == [*head, "method", "code", "duration_ms", "actor"]
    assert parsed[0]["level"] == "info" and parsed[0]["msg"] == "rpc" and parsed[0]["pid"] == record.process
    assert "ünïcode" in lines[0]  # not escaped to \u sequences


def _deferred_handler(monkeypatch: pytest.MonkeyPatch, flush_s: float) -> tuple[io.StringIO, logging.Logger]:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    handler = cli.StderrHandler()
    handler.FLUSH_S = flush_s
    handler.setFormatter(cli.JsonFormatter())
    log = logging.getLogger(f"test.deferred.{flush_s}")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    return out, log


def _msgs(out: io.StringIO) -> list[str]:
    return [json.loads(line)["msg"] for line in out.getvalue().splitlines()]


def test_deferrable_lines_wait_and_any_other_line_writes_them_first(monkeypatch: pytest.MonkeyPatch) -> None:
    out, log = _deferred_handler(monkeypatch, flush_s=3600)  # the flusher never fires here
    for i in range(3):
        log.info(f"ok {i}", extra={"deferrable": True})
    assert out.getvalue() == ""  # gathered, not written one by one
    log.info("failed", extra={"deferrable": False})
    assert _msgs(out) == ["ok 0", "ok 1", "ok 2", "failed"]  # in order, in one go
    log.info("ok 3", extra={"deferrable": True})
    log.handlers[0].flush()  # what logging.shutdown does at exit
    assert _msgs(out)[-1] == "ok 3"
    log.removeHandler(log.handlers[0])


def test_deferred_lines_are_written_by_themselves_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    out, log = _deferred_handler(monkeypatch, flush_s=0.01)
    log.info("ok", extra={"deferrable": True})
    deadline = time.monotonic() + 30
    while not out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    log.removeHandler(log.handlers[0])
    assert _msgs(out) == ["ok"]


def test_too_many_deferred_lines_are_written_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    out, log = _deferred_handler(monkeypatch, flush_s=3600)
    for i in range(cli.StderrHandler.MAX_PENDING + 1):
        log.info(f"ok {i}", extra={"deferrable": True})
    log.removeHandler(log.handlers[0])
    assert len(_msgs(out)) == cli.StderrHandler.MAX_PENDING + 1


def test_reindex_keeps_exactly_the_optional_indexes_named(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with SessionController(data, config=SessionConfig(max_sessions_per_owner=5)) as c:
        c.create(make_session("owned"), actor="alice")
        assert c.kinds[0].optional_kept == {ORG_OWNER_INDEX}
    done = run_cli("reindex", "--data-dir", str(data), "--optional-indexes", "")
    assert done.returncode == 0, done.stderr
    assert "reindexed 1 sessions (optional indexes: none)" in done.stdout
    with SessionController(data, as_stored=True) as c:
        assert c.kinds[0].optional_kept == frozenset()
        assert c.check().ok
    wrong = run_cli("reindex", "--data-dir", str(data), "--optional-indexes", "org_owner,bogus")
    assert wrong.returncode == 2
    assert "no optional index bogus (there are: phase, org_owner)" in wrong.stderr
