"""The authentication flags of ``serve``: bad files stop the start with one line (exit 2),
SIGHUP rotates tokens and JWT keys in a running server, workers get the same flags."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from pipeline.authn import token_digest
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc
from stigmer_sessions.cli import _parser, _worker_args
from tests.conftest import make_session, run_cli, start_server_process
from tests.pipeline.authn.test_oidc import AUDIENCE, ISSUER, OTHER_KEY, RSA_KEY, make_token, write_jwks


def tokens_file(path: Path, **tokens: str) -> Path:
    path.write_text(
        "".join(
            f'[[principals]]\nid = "{who}"\ntoken_sha256 = "{token_digest(token)}"\n'
            'roles = { acme = "editor" }\n'
            for who, token in tokens.items()
        )
    )
    return path


_NAMES = (f"session {n}" for n in itertools.count())


def _create(address: str, token: str) -> grpc.StatusCode:
    """Create a session (a new name each time) with ``token``; the status code."""
    with grpc.insecure_channel(address) as channel:
        stub = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
        try:
            stub.create(
                make_session(next(_NAMES)), metadata=[("authorization", f"Bearer {token}")], timeout=30
            )
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def _hup_and_wait(proc: subprocess.Popen[str], event: dict[str, Any], message: str, what: str) -> None:
    """Send SIGHUP and wait for the server to log that it reloaded (or failed to)."""
    lines: list[dict[str, Any]] = event["lines"]

    def seen() -> int:
        return sum(1 for line in list(lines) if line["msg"] == message and what in json.dumps(line))

    before = seen()
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while seen() == before:
        assert time.monotonic() < deadline, f"no {message!r} line after SIGHUP"
        assert proc.poll() is None, "the server died on SIGHUP"
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[str], event: dict[str, Any]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    event["drain"].join(30)


def test_tokens_rotate_on_sighup_and_a_broken_file_keeps_the_previous(tmp_path: Path) -> None:
    path = tokens_file(tmp_path / "tokens.toml", alice="old-token")
    proc, event = start_server_process(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), "--auth-tokens", str(path)
    )
    try:
        assert event["authentication"] == ["tokens"]
        address = event["address"]
        assert _create(address, "old-token") == grpc.StatusCode.OK
        tokens_file(path, alice="new-token")
        _hup_and_wait(proc, event, "reloaded", "tokens file")
        assert _create(address, "old-token") == grpc.StatusCode.UNAUTHENTICATED
        assert _create(address, "new-token") == grpc.StatusCode.OK
        path.write_text('[[principals]]\nid = "alice"\nroles = { acme = "superuser" }\n')
        _hup_and_wait(proc, event, "reload failed; keeping the previous tokens file", "superuser")
        assert _create(address, "new-token") == grpc.StatusCode.OK
    finally:
        _stop(proc, event)
    logged = json.dumps(event["lines"])
    for secret in ("old-token", "new-token", token_digest("old-token"), token_digest("new-token")):
        assert secret not in logged
    denial = [line for line in event["lines"] if line["msg"] == "unauthenticated"]
    assert len(denial) == 1 and denial[0]["level"] == "warning"


EDITOR = {"acme": "editor"}


def test_jwt_keys_rotate_on_sighup(tmp_path: Path) -> None:
    # the roles claim lets the create through authorization: what is tested is the key rotation
    jwks = write_jwks(tmp_path / "jwks.json", (RSA_KEY, "rsa-1"))
    proc, event = start_server_process(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
        "--jwt-jwks", str(jwks), "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE,
    )  # fmt: skip
    try:
        address = event["address"]
        assert _create(address, make_token(stigmer_roles=EDITOR)) == grpc.StatusCode.OK
        assert (
            _create(address, make_token(aud="other", stigmer_roles=EDITOR)) == grpc.StatusCode.UNAUTHENTICATED
        )
        write_jwks(jwks, (OTHER_KEY, "rsa-2"))
        _hup_and_wait(proc, event, "reloaded", "JWKS file")
        assert _create(address, make_token(stigmer_roles=EDITOR)) == grpc.StatusCode.UNAUTHENTICATED
        assert _create(address, make_token(OTHER_KEY, "rsa-2", stigmer_roles=EDITOR)) == grpc.StatusCode.OK
    finally:
        _stop(proc, event)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[[principals]]\nid = "bob"\nroles = { acme = "owner" }\n', "principals[0] (id 'bob'): 'roles'"),
        ('[[principals]]\nid = "bob"\ntoken_sha256 = "abc"\n', "'token_sha256' must be 64 lowercase hex"),
        ("[[principals]\n", "not valid TOML"),
    ],
)
def test_a_bad_tokens_file_is_one_line_and_exit_2(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(content)
    result = run_cli(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--auth-tokens", str(path)
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr and str(path) in result.stderr
    assert not (tmp_path / "d").exists()  # refused before anything started


def test_a_missing_tokens_file_is_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = run_cli(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--auth-tokens", str(missing)
    )
    assert result.returncode == 2
    assert result.stderr == f"stigmer-sessions: cannot read {missing}: No such file or directory\n"


def test_jwt_flags_come_together_and_a_bad_jwks_is_exit_2(tmp_path: Path) -> None:
    result = run_cli("--address", "127.0.0.1:0", "--jwt-jwks", str(tmp_path / "j.json"))
    assert result.returncode == 2
    assert result.stderr == "stigmer-sessions: --jwt-jwks needs --jwt-issuer and --jwt-audience\n"
    bad = tmp_path / "j.json"
    bad.write_text('{"keys": [{"kid": "k", "kty": "oct", "k": "c2VjcmV0"}]}')
    result = run_cli(
        "--address", "127.0.0.1:0", "--jwt-jwks", str(bad), "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE
    )
    assert result.returncode == 2 and "no symmetric keys" in result.stderr and result.stderr.count("\n") == 1


def test_the_auth_flags_are_handed_to_workers() -> None:
    args = _parser().parse_args(
        ["serve", "--auth-tokens", "t.toml", "--jwt-jwks", "j.json", "--jwt-issuer", "I",
         "--jwt-audience", "A", "--jwt-roles-claim", "orgs", "--jwt-leeway", "5"]
    )  # fmt: skip
    spelled = _worker_args(args)
    for flag, value in (
        ("--auth-tokens", "t.toml"),
        ("--jwt-jwks", "j.json"),
        ("--jwt-issuer", "I"),
        ("--jwt-audience", "A"),
        ("--jwt-roles-claim", "orgs"),
        ("--jwt-leeway", "5.0"),
    ):
        assert spelled[spelled.index(flag) + 1] == value
    assert _parser().parse_args(["serve", *spelled]).jwt_roles_claim == "orgs"


def test_sighup_to_the_supervisor_reaches_every_worker(tmp_path: Path) -> None:
    path = tokens_file(tmp_path / "tokens.toml", alice="old-token")
    proc, event = start_server_process(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), "--auth-tokens", str(path),
        "--workers", "2",
    )  # fmt: skip
    try:
        tokens_file(path, alice="new-token")
        lines: list[dict[str, Any]] = event["lines"]
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while sum(1 for line in list(lines) if line["msg"] == "reloaded") < 2:
            assert time.monotonic() < deadline, "not every worker reloaded"
            assert proc.poll() is None, "the supervisor died on SIGHUP"
            time.sleep(0.05)
        address = event["address"]
        for _ in range(4):  # whichever worker the connection lands on
            assert _create(address, "old-token") == grpc.StatusCode.UNAUTHENTICATED
            assert _create(address, "new-token") == grpc.StatusCode.OK
    finally:
        _stop(proc, event)
