"""``--store URL`` as an operator uses it: real processes, a real PostgreSQL (the test
cluster), a DSN that carries a password."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest

from pipeline.storage.postgres.migrations import LATEST
from stigmer_sessions import SessionController, cli
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc, query_pb2_grpc
from stigmer_sessions.api import SessionId
from tests.backends import PG_PASSWORD, pg_admin, pg_database, pg_schema
from tests.conftest import make_session, run_cli, start_server_process

ROOT = Path(__file__).resolve().parents[2]


def _stop(proc: subprocess.Popen[str], event: dict[str, Any]) -> list[dict[str, Any]]:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    event["drain"].join(30)
    lines: list[dict[str, Any]] = event["lines"]
    return lines


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return: nothing listens there


# -- flags -----------------------------------------------------------------------------------


def test_store_with_data_dir_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("serve", "check", "export", "migrate"):
        argv = [command, "--store", f"lmdb://{tmp_path}/a", "--data-dir", str(tmp_path / "b")]
        if command == "export":
            argv.append(str(tmp_path / "out.jsonl"))
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--store and --data-dir cannot be used together" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing created


def test_unknown_store_scheme_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--store", "mysql://db/x"]) == 2
    assert "unknown store 'mysql'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--pg-connect-timeout", "31"),
        ("--pg-connect-timeout", "0"),
        ("--pg-pool-size", "0"),
        ("--pg-statement-timeout", "-1"),
        ("--pg-statement-timeout", "nan"),
    ],
)
def test_postgres_options_are_range_checked(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli._parser().parse_args(["serve", flag, value])
    assert exit_.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_store_url_from_environment_and_data_dir_shortcut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def resolved(*argv: str) -> cli.StoreOptions:
        store = cli._store_options(cli._parser().parse_args(["check", *argv]))
        assert isinstance(store, cli.StoreOptions)
        return store

    monkeypatch.delenv(cli.STORE_ENV, raising=False)
    monkeypatch.setenv("STIGMER_SESSIONS_DATA_DIR", str(tmp_path / "env-dir"))
    assert resolved().url == f"lmdb://{tmp_path}/env-dir"
    monkeypatch.setenv(cli.STORE_ENV, "postgresql://u@h:5/db")
    assert resolved().url == "postgresql://u@h:5/db"  # the store URL beats the data-dir variable
    assert resolved("--data-dir", str(tmp_path / "d")).url == f"lmdb://{tmp_path}/d"  # flags beat env
    assert resolved("--store", "lmdb:///x").url == "lmdb:///x"


def test_workers_get_the_postgres_options_and_the_url_by_environment() -> None:
    args = cli._parser().parse_args(
        [
            *("serve", "--store", f"postgresql://u:{PG_PASSWORD}@h:5/db", "--workers", "2"),
            *("--pg-pool-size", "3", "--pg-statement-timeout", "7", "--pg-connect-timeout", "4"),
            "--no-migrate",
        ]
    )
    spelled = cli._worker_args(args)
    assert spelled[spelled.index("--pg-pool-size") + 1] == "3"
    assert spelled[spelled.index("--pg-statement-timeout") + 1] == "7.0"
    assert spelled[spelled.index("--pg-connect-timeout") + 1] == "4.0"
    assert "--no-migrate" in spelled
    assert not any(PG_PASSWORD in part for part in spelled)  # never on a command line: ps shows it
    again = cli._parser().parse_args(["serve", *spelled])
    assert (again.pg_pool_size, again.pg_statement_timeout, again.pg_connect_timeout) == (3, 7.0, 4.0)


# -- start-up --------------------------------------------------------------------------------


def test_unreachable_database_at_start_is_one_line_naming_host_and_port() -> None:
    port = _closed_port()
    dsn = f"postgresql://someone:{PG_PASSWORD}@127.0.0.1:{port}/db"
    for argv in (["serve", "--address", "127.0.0.1:0"], ["migrate"], ["check"], ["export", "-"]):
        result = run_cli(*argv, "--store", dsn, "--pg-connect-timeout", "1")
        assert result.returncode == 1, result.stderr
        said = [line for line in result.stderr.splitlines() if not line.startswith("{")]
        assert len(said) == 1, result.stderr  # one line for the user (beside the "starting" log line)
        assert all(
            json.loads(line)["level"] == "info" for line in result.stderr.splitlines() if line.startswith("{")
        )
        assert f"127.0.0.1:{port}" in result.stderr and "unavailable" in result.stderr
        assert "Traceback" not in result.stderr
        assert PG_PASSWORD not in result.stderr + result.stdout


def test_migrate_creates_the_schema_and_prints_its_version() -> None:
    with pg_schema() as dsn:
        result = run_cli("migrate", "--store", dsn)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(f": schema version {LATEST}")
        again = run_cli("migrate", "--store", dsn)  # idempotent
        assert again.returncode == 0 and again.stdout == result.stdout
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchone() == (LATEST,)


def test_no_migrate_refuses_an_empty_database_and_serve_migrates_by_default(tmp_path: Path) -> None:
    with pg_schema() as dsn:
        refused = run_cli("serve", "--address", "127.0.0.1:0", "--store", dsn, "--no-migrate")
        assert refused.returncode == 1
        assert "schema is version 0" in refused.stderr and "stigmer-sessions migrate" in refused.stderr
        proc, event = start_server_process("--address", "127.0.0.1:0", "--store", dsn)
        _stop(proc, event)
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchone() == (LATEST,)


def test_server_refuses_a_schema_newer_than_it_knows() -> None:
    with pg_schema() as dsn:
        assert run_cli("migrate", "--store", dsn).returncode == 0
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("UPDATE schema_version SET version = 99")
        for argv in (["serve", "--address", "127.0.0.1:0"], ["serve", "--no-migrate"], ["migrate"]):
            result = run_cli(*argv, "--store", dsn)
            assert result.returncode == 1, result.stderr
            assert "schema is version 99" in result.stderr and "upgrade stigmer-sessions" in result.stderr
            assert "Traceback" not in result.stderr
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchone() == (99,)  # left alone


def test_password_in_the_dsn_never_reaches_the_logs() -> None:
    with pg_database() as dsn:
        proc, event = start_server_process("--address", "127.0.0.1:0", "--store", dsn, "--log-level", "DEBUG")
        try:
            assert event["store"].startswith("postgresql://") and "@127.0.0.1:" in event["store"]
            assert "data_dir" not in event
            with grpc.insecure_channel(event["address"]) as channel:
                stub = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
                created = stub.create(make_session())
                with pytest.raises(grpc.RpcError) as err:
                    stub.create(make_session())  # an error on the way out is logged too
                assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        finally:
            lines = _stop(proc, event)
        assert created.metadata.id
        logged = json.dumps([event.get("msg"), event.get("store"), *lines])
        assert PG_PASSWORD not in logged


def test_workers_on_postgres_share_the_database_without_the_password_on_their_command_lines() -> None:
    with pg_database() as dsn:
        proc, event = start_server_process(
            "--address", "127.0.0.1:0", "--workers", "2", env={cli.STORE_ENV: dsn}
        )
        try:
            assert PG_PASSWORD not in event["store"]
            for pid in event["pids"]:
                assert PG_PASSWORD.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
            with grpc.insecure_channel(event["address"]) as channel:
                stub = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
                created = stub.create(make_session())
        finally:
            _stop(proc, event)
        with SessionController(store=dsn) as sessions:
            assert sessions.get(created.metadata.id) == created


# -- admin commands on PostgreSQL ------------------------------------------------------------


def test_admin_commands_on_postgres(tmp_path: Path) -> None:
    with pg_schema() as source, pg_schema() as target:
        with SessionController(store=source) as c:
            s = c.create(make_session("exported", tags=("t",)))
            c.append_message(s.metadata.id, "user", "hello")
            s = c.get(s.metadata.id)
        check = run_cli("check", "--store", source)
        assert check.returncode == 0, check.stderr
        assert check.stdout.strip().splitlines()[-1].startswith("ok: 1 sessions")
        assert run_cli("reindex", "--store", source).stdout.strip() == "reindexed 1 sessions"
        dump = tmp_path / "dump.jsonl"
        exported = run_cli("export", "--store", source, str(dump))
        assert exported.returncode == 0, exported.stderr
        imported = run_cli("import", "--store", target, str(dump))  # an empty database: import migrates
        assert imported.returncode == 0, imported.stderr
        assert '"records": 1' in imported.stderr
        again = run_cli("import", "--store", target, str(dump))
        assert (again.returncode, "nothing was written" in again.stderr) == (1, True)
        with SessionController(store=target) as c:
            assert c.get(s.metadata.id) == s
            assert [m.content for m in c.list_messages(session_id=s.metadata.id).messages] == ["hello"]


def test_check_and_export_do_not_create_a_schema(tmp_path: Path) -> None:
    with pg_schema() as dsn:
        for argv in (["check"], ["export", str(tmp_path / "x.jsonl")], ["reindex"]):
            result = run_cli(*argv, "--store", dsn)
            assert result.returncode == 1 and "stigmer-sessions migrate" in result.stderr, result.stderr
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,)


# -- a database lost while serving -----------------------------------------------------------


def test_database_lost_while_serving_is_unavailable_then_recovers_by_itself() -> None:
    with pg_database() as dsn:
        name = dsn.rsplit("/", 1)[1]
        proc, event = start_server_process(
            "--address", "127.0.0.1:0", "--store", dsn, "--pg-connect-timeout", "1"
        )
        try:
            with grpc.insecure_channel(event["address"]) as channel:
                commands = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
                query = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
                created = commands.create(make_session())
                pg_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
                pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", name)
                for call in (
                    lambda: query.get(SessionId(value=created.metadata.id), timeout=30),
                    lambda: commands.create(make_session("while down"), timeout=30),
                ):
                    with pytest.raises(grpc.RpcError) as err:
                        call()  # type: ignore[no-untyped-call]
                    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
                    assert "127.0.0.1:" in (err.value.details() or "")
                    assert PG_PASSWORD not in (err.value.details() or "")
                pg_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
                deadline = time.monotonic() + 60  # a bound on the wait, not a timing claim
                while True:
                    try:
                        assert query.get(SessionId(value=created.metadata.id), timeout=30) == created
                        break
                    except grpc.RpcError as exc:
                        assert exc.code() == grpc.StatusCode.UNAVAILABLE
                        assert time.monotonic() < deadline, "the server never recovered"
                        time.sleep(0.2)
                later = commands.create(make_session("after"))
                assert query.get(SessionId(value=later.metadata.id)) == later
            assert proc.poll() is None  # the same process, never restarted
        finally:
            pg_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            lines = _stop(proc, event)
        assert PG_PASSWORD not in json.dumps(lines)


def test_change_log_compaction_runs_on_postgres_replicas() -> None:
    """Each replica runs the compactor (concurrent passes are write transactions like any
    other); the retained window shrinks to --retain-changes without a restart."""
    with pg_schema() as dsn:
        flags = (
            "--address",
            "127.0.0.1:0",
            "--store",
            dsn,
            "--retain-changes",
            "5",
            "--compact-interval",
            "1",
        )
        servers = [start_server_process(*flags) for _ in range(2)]
        try:
            with grpc.insecure_channel(servers[0][1]["address"]) as channel:
                commands = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
                for i in range(20):
                    commands.create(make_session(f"c{i}"))
            with SessionController(store=dsn) as sessions:
                deadline = time.monotonic() + 60  # a bound on the wait for the next pass, not a timing claim
                while (page := sessions.list_changes()).oldest_revision != page.current_revision - 4:
                    assert time.monotonic() < deadline, f"never compacted: {page.oldest_revision}"
                    time.sleep(0.2)
                assert page.current_revision == 20
                assert [c.revision for c in page.changes] == list(range(16, 21))
        finally:
            for proc, event in servers:
                _stop(proc, event)
