"""The command line: --help lists every command, --version, and every flag's range is
checked up front (a usage error, exit 2, never a traceback or a misbehaving server)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import grpc
import pytest

from stigmer_sessions import cli
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc
from stigmer_sessions.grpc_server import RequestLog
from tests.conftest import make_session, run_cli, start_server_process

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_command_with_one_line_each() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    for command in cli.COMMANDS:
        (line,) = [x for x in lines if x.split()[:1] == [command]]
        assert len(line.split()) > 2, line  # the command and its one-line description
    assert "--address" not in result.stdout  # serve's options are under `serve --help`


def test_version_comes_from_the_package_metadata() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout.split()) == (
        0,
        ["stigmer-sessions", metadata.version("stigmer-sessions")],
    )


def test_serve_is_still_the_default_command() -> None:
    assert cli.parse_args([]).command == "serve"
    args = cli.parse_args(["--address", "[::1]:0", "--workers", "2"])
    assert (args.command, args.address, args.workers) == ("serve", "[::1]:0", 2)
    assert cli.parse_args(["check", "--data-dir", "d"]).command == "check"


BAD_FLAGS = [
    (["--address", "127.0.0.1:70000"], "--address", "out of range: must be 0..65535"),
    (["--address", "127.0.0.1"], "--address", "is not HOST:PORT"),
    (["--address", "127.0.0.1:http"], "--address", "is not HOST:PORT"),
    (["--address", ":50051"], "--address", "is not HOST:PORT"),
    (["--address", "::1:50051"], "--address", "IPv6 host in brackets"),
    (["--address", "[::zz]:0"], "--address", "is not an IPv6 address"),
    (["--workers", "0"], "--workers", "must be between 1 and 256"),
    (["--workers", "two"], "--workers", "'two' is not an integer"),
    (["--max-workers", "0"], "--max-workers", "must be between 1 and 4096"),
    (["--max-watchers", "-1"], "--max-watchers", "must be between 0 and 4096"),
    (["--max-message-bytes", "-5"], "--max-message-bytes", "must be between 1 and"),
    (["--max-message-bytes", "0"], "--max-message-bytes", "must be between 1 and"),
    (["--max-sessions-per-org", "0"], "--max-sessions-per-org", "must be at least 1"),
    (["--max-sessions-per-owner", "-3"], "--max-sessions-per-owner", "must be at least 1"),
    (["--request-id-ttl", "0"], "--request-id-ttl", "must be between 1.0 and"),
    (["--request-id-ttl", "nan"], "--request-id-ttl", "out of range"),
    (["--bookmark-interval", "0"], "--bookmark-interval", "must be between 0.05 and 3600"),
    (["--bookmark-interval", "inf"], "--bookmark-interval", "out of range"),
    (["--retain-changes", "0"], "--retain-changes", "must be at least 1"),
    (["--retain-changes-age", "-1"], "--retain-changes-age", "must be at least 1.0"),
    (["--compact-interval", "0"], "--compact-interval", "must be between 1.0 and 86400"),
    (["--name-pattern", "session-{date}"], "--name-pattern", "must use {n}"),
    (["--name-pattern", "{when}-{n}"], "--name-pattern", "does not format with {date} and {n}"),
    (["--name-pattern", "{}-{n}"], "--name-pattern", "does not format"),
    (["--name-pattern", "{n:q}"], "--name-pattern", "does not format"),
    (["--name-pattern", "{n"], "--name-pattern", "does not format"),
    (["--log-level", "chatty"], "--log-level", "is not one of DEBUG"),
    (["--request-log", "some"], "--request-log", "is not all, errors or sample:N"),
    (["--request-log", "sample:0"], "--request-log", "N in 1..1,000,000"),
    (["--request-log", "sample:"], "--request-log", "is not all, errors or sample:N"),
    (["--request-log", "sample:1000001"], "--request-log", "N in 1..1,000,000"),
    (["--request-log", "sample:-2"], "--request-log", "is not all, errors or sample:N"),
]


@pytest.mark.parametrize(("argv", "flag", "message"), BAD_FLAGS, ids=[" ".join(a) for a, _, _ in BAD_FLAGS])
def test_a_flag_out_of_range_is_a_usage_error(
    argv: list[str], flag: str, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # parse only: a regression must fail here, not start a server inside the test process
    with pytest.raises(SystemExit) as exit_:
        cli.parse_args(["serve", "--data-dir", str(tmp_path / "d"), *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: " in err and message in err, err


GOOD_FLAGS = [
    (["--address", "[::1]:0"], "address", "[::1]:0"),
    (["--address", "0.0.0.0:65535"], "address", "0.0.0.0:65535"),
    (["--address", "localhost:0"], "address", "localhost:0"),
    (["--max-watchers", "0"], "max_watchers", 0),
    (["--bookmark-interval", "0.05"], "bookmark_interval", 0.05),
    (["--name-pattern", "chat {n} of {date}"], "name_pattern", "chat {n} of {date}"),
    (["--log-level", "debug"], "log_level", "DEBUG"),
    ([], "request_log", RequestLog(1)),
    (["--request-log", "errors"], "request_log", RequestLog(0)),
    (["--request-log", "Sample:50"], "request_log", RequestLog(50)),
]


@pytest.mark.parametrize(("argv", "dest", "value"), GOOD_FLAGS, ids=[" ".join(a) for a, _, _ in GOOD_FLAGS])
def test_values_in_range_are_accepted(argv: list[str], dest: str, value: object) -> None:
    assert getattr(cli.parse_args(["serve", *argv]), dest) == value


def test_an_environment_default_is_checked_too(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"STIGMER_SESSIONS_ADDRESS": "127.0.0.1:99999", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "argument --address: port 99999" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()


def test_a_bad_port_is_a_one_line_usage_error_not_a_server_on_another_port(tmp_path: Path) -> None:
    result = run_cli("--address", "127.0.0.1:70000", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("stigmer-sessions serve: error: argument --address")
    assert "Traceback" not in result.stderr and '"serving"' not in result.stderr


def test_serves_on_ipv6_loopback(tmp_path: Path) -> None:
    proc, event = start_server_process("--address", "[::1]:0", "--data-dir", str(tmp_path / "d"))
    try:
        assert event["address"].startswith("[::1]:") and not event["address"].endswith(":0")
        with grpc.insecure_channel(event["address"]) as channel:
            stub = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
            assert stub.create(make_session(), timeout=30).metadata.id.startswith("ses-")
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


@pytest.mark.parametrize("spelled", ["all", "errors", "sample:7"])
def test_the_request_log_setting_is_handed_to_workers(spelled: str) -> None:
    args = cli.parse_args(["serve", "--workers", "2", "--request-log", spelled])
    flags = cli._worker_args(args)
    assert cli.parse_args(["serve", *flags]).request_log == RequestLog.parse(spelled)
    assert str(RequestLog.parse(spelled)) == spelled
