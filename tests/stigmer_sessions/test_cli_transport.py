"""``serve``'s transport: TLS flags, the refusal to expose a non-loopback address without TLS
and authentication (or ``--insecure``), certificate rotation by SIGHUP, ``--no-reflection``."""

from __future__ import annotations

import argparse
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stigmer_sessions import cli
from stigmer_sessions.tls import ServerTls
from tests.certs import Issued, make_ca, secure_channel, served_certificate, server_cert
from tests.conftest import Stubs, make_session, run_cli, start_server_process


@pytest.fixture
def ca() -> Issued:
    return make_ca()


@pytest.fixture
def pair(tmp_path: Path, ca: Issued) -> tuple[Path, Path]:
    return server_cert(ca).write(tmp_path, "server")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.4.5.6", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost", True),
        ("[::ffff:127.0.0.1]", True),
        ("0.0.0.0", False),
        ("[::]", False),
        ("10.1.2.3", False),
        ("[2001:db8::1]", False),
        ("db.internal", False),  # a name other than localhost is not resolved: exposed
        ("127.0.0.1.nip.io", False),
    ],
)
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert cli.is_loopback(host) is loopback


def _args(*argv: str, **extra: Any) -> argparse.Namespace:
    args = cli.parse_args(["serve", *argv])
    for name, value in extra.items():  # flags other branches add (--auth-tokens, --jwt-jwks)
        setattr(args, name, value)
    return args


NO_TLS = "TLS (--tls-cert FILE --tls-key FILE)"
NO_AUTH = "authentication (--auth-tokens FILE or --jwt-jwks FILE)"


@pytest.mark.parametrize(
    ("address", "with_tls", "auth", "missing"),
    [
        ("0.0.0.0:50051", False, {}, [NO_TLS, NO_AUTH]),
        ("[::]:0", True, {}, [NO_AUTH]),
        ("db.internal:0", False, {"auth_tokens": "tokens.toml"}, [NO_TLS]),
        ("10.0.0.5:0", True, {"jwt_jwks": "keys.json"}, []),
        ("127.0.0.1:0", False, {}, []),
        ("localhost:0", False, {}, []),
    ],
)
def test_an_exposed_address_is_refused_naming_what_is_missing(
    pair: tuple[Path, Path], address: str, with_tls: bool, auth: dict[str, str], missing: list[str]
) -> None:
    tls = ["--tls-cert", str(pair[0]), "--tls-key", str(pair[1])] if with_tls else []
    args = _args("--address", address, *tls, **auth)
    outcome = cli._transport(args)
    if missing:
        assert outcome == (
            f"refusing to serve {address}, not a loopback address, without {' and '.join(missing)}: "
            "configure them, or pass --insecure to serve it exposed anyway"
        )
        assert isinstance(
            cli._transport(_args("--address", address, "--insecure", *tls, **auth)), ServerTls | None
        )
    else:
        assert (outcome is None) is not with_tls and isinstance(outcome, ServerTls | None)


def test_insecure_is_not_needed_on_loopback_and_warns_only_when_exposed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", "stigmer_sessions"):
        cli._warn_exposed(_args("--address", "127.0.0.1:0", "--insecure"))
    assert not caplog.records


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tls-cert", "a.crt"], "--tls-cert and --tls-key go together: give both or neither"),
        (["--tls-key", "a.key"], "--tls-cert and --tls-key go together: give both or neither"),
        (["--tls-client-ca", "ca.crt"], "--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key"),
    ],
)
def test_tls_flags_must_come_complete(argv: list[str], message: str) -> None:
    assert cli._transport(_args(*argv)) == message


def test_workers_get_the_transport_flags_with_absolute_paths(
    pair: tuple[Path, Path], ca: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = pair
    client_ca = cert.parent / "ca.crt"
    client_ca.write_bytes(ca.cert_pem)
    monkeypatch.chdir(cert.parent)
    args = _args(
        "--tls-cert",
        cert.name,
        "--tls-key",
        key.name,
        "--tls-client-ca",
        "ca.crt",
        "--insecure",
        "--no-reflection",
    )
    flags = cli._worker_args(args)
    start = flags.index("--tls-cert")
    tail = flags[start : flags.index("--no-reflection") + 1]  # the auth flags follow
    assert tail == [
        *("--tls-cert", str(cert), "--tls-key", str(key), "--tls-client-ca", str(client_ca)),
        *("--insecure", "--no-reflection"),
    ]
    again = cli.parse_args(["serve", *flags])
    assert (again.tls_cert, again.insecure, again.reflection) == (str(cert), True, False)


def test_a_non_loopback_bind_without_tls_and_auth_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = run_cli("--address", "0.0.0.0:0", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line == (
        f"stigmer-sessions serve: error: refusing to serve 0.0.0.0:0, not a loopback address, without "
        f"{NO_TLS} and {NO_AUTH}: configure them, or pass --insecure to serve it exposed anyway"
    )
    assert not (tmp_path / "d").exists()


def test_a_tls_file_that_does_not_parse_is_one_line_and_exit_2(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    bad = tmp_path / "bad.crt"
    bad.write_text("hello")
    result = run_cli("--data-dir", str(tmp_path / "d"), "--tls-cert", str(bad), "--tls-key", str(pair[1]))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"stigmer-sessions serve: error: the TLS certificate {bad} holds no PEM certificate"
    ]
    assert not (tmp_path / "d").exists()


def _stop(proc: subprocess.Popen[str], event: dict[str, Any]) -> None:
    proc.terminate()
    assert proc.wait(timeout=60) == 0
    event["drain"].join(timeout=30)


def test_insecure_serves_an_exposed_address_with_a_warning_saying_what_is_exposed(tmp_path: Path) -> None:
    proc, event = start_server_process(
        "--address", "0.0.0.0:0", "--insecure", "--data-dir", str(tmp_path / "d")
    )
    try:
        port = event["address"].rsplit(":", 1)[1]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert Stubs(channel).command.create(make_session(), timeout=30).metadata.id
    finally:
        _stop(proc, event)
    (warning,) = [line for line in event["before"] if line["level"] == "warning"]
    assert warning["msg"] == (
        "--insecure: 0.0.0.0:0 is not a loopback address and is served in plaintext: anyone on the "
        "network path can read and alter every request; and without authentication: anyone who can "
        "connect may read and write every org"
    )
    assert warning["missing"] == [NO_TLS, NO_AUTH]


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait (a bounded while) for something a server process does in its own time."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _logged(event: dict[str, Any], msg: str, count: int = 1) -> Callable[[], bool]:
    return lambda: sum(line["msg"] == msg for line in event["lines"]) >= count


def test_sighup_rotates_the_certificate_for_new_connections_and_keeps_open_ones(
    tmp_path: Path, ca: Issued, pair: tuple[Path, Path]
) -> None:
    cert, key = pair
    proc, event = start_server_process(
        "--address",
        "127.0.0.1:0",
        "--data-dir",
        str(tmp_path / "d"),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    )
    address = event["address"]
    try:
        assert event["tls"] == "on"
        old_serial = served_certificate(address).serial_number
        with secure_channel(address, ca) as open_channel:
            stubs = Stubs(open_channel)
            assert stubs.command.create(make_session("one"), timeout=30).metadata.id
            new_ca = make_ca("Next CA")
            new = server_cert(new_ca)
            new.write(tmp_path, "server")
            proc.send_signal(signal.SIGHUP)
            _until(_logged(event, "reloaded"), "the reload")
            assert served_certificate(address).serial_number == new.serial != old_serial
            with secure_channel(address, new_ca) as fresh:
                assert Stubs(fresh).command.create(make_session("two"), timeout=30).metadata.id
            assert stubs.command.create(make_session("three"), timeout=30).metadata.id  # still open

            cert.write_text("truncated")  # a bad file: the certificate loaded last stays
            proc.send_signal(signal.SIGHUP)
            _until(_logged(event, "reload failed; keeping the previous TLS certificate"), "the failed reload")
            assert served_certificate(address).serial_number == new.serial
            assert stubs.command.create(make_session("four"), timeout=30).metadata.id
            assert proc.poll() is None
    finally:
        _stop(proc, event)
    (loaded,) = [line for line in event["lines"] if line["msg"] == "TLS certificate loaded"]
    assert loaded["serial"] == f"{new.serial:x}"


def test_sighup_reaches_every_worker(tmp_path: Path, ca: Issued, pair: tuple[Path, Path]) -> None:
    cert, key = pair
    proc, event = start_server_process(
        *("--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--workers", "2"),
        *("--tls-cert", str(cert), "--tls-key", str(key)),
    )
    try:
        new = server_cert(ca)
        new.write(tmp_path, "server")
        proc.send_signal(signal.SIGHUP)
        _until(_logged(event, "reloaded", count=2), "both workers' reloads")
        serials = {served_certificate(event["address"]).serial_number for _ in range(8)}
        assert serials == {new.serial}
        assert proc.poll() is None
    finally:
        _stop(proc, event)


def test_no_reflection_leaves_reflection_out_and_health_open(tmp_path: Path) -> None:
    proc, event = start_server_process(
        "--address", "127.0.0.1:0", "--no-reflection", "--data-dir", str(tmp_path / "d")
    )
    try:
        with grpc.insecure_channel(event["address"]) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=30).status == 1  # SERVING
            reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
            with pytest.raises(grpc.RpcError) as denied:
                list(
                    reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest()]), timeout=30)
                )
            assert denied.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        _stop(proc, event)
