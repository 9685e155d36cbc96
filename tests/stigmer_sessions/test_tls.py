"""TLS and mutual TLS with real handshakes (certificates made in the test), certificate
rotation without dropping connections, and the checks on the files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stigmer_sessions import SessionController
from stigmer_sessions.grpc_server import RunningServer, start_server
from stigmer_sessions.tls import ServerTls, TlsError
from tests.certs import Issued, client_cert, make_ca, secure_channel, served_certificate, server_cert
from tests.conftest import Stubs, make_session


@dataclass
class Pki:
    ca: Issued
    other_ca: Issued
    server: Issued
    cert: Path
    key: Path
    ca_file: Path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca, other = make_ca("Test CA"), make_ca("Other CA")
    server = server_cert(ca)
    cert, key = server.write(tmp_path, "server")
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca.cert_pem)
    return Pki(ca, other, server, cert, key, ca_file)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[SessionController]:
    # the transport does not depend on the store: LMDB alone
    with SessionController(str(tmp_path / "data"), durable=False) as controller:
        yield controller


def _serve(
    sessions: SessionController, tls: ServerTls | None, *, reflection: bool = True
) -> Iterator[RunningServer]:
    running = start_server(sessions, "127.0.0.1:0", tls=tls, reflection=reflection)
    yield running
    running.stop(grace=None)


@pytest.fixture
def tls_server(sessions: SessionController, pki: Pki) -> Iterator[tuple[RunningServer, ServerTls]]:
    tls = ServerTls(str(pki.cert), str(pki.key))
    for running in _serve(sessions, tls):
        yield running, tls


@pytest.fixture
def mtls_server(sessions: SessionController, pki: Pki) -> Iterator[RunningServer]:
    yield from _serve(sessions, ServerTls(str(pki.cert), str(pki.key), str(pki.ca_file)))


def _health(channel: grpc.Channel) -> grpc.StatusCode:
    """The code a health check over ``channel`` ends with (OK when the handshake worked)."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        stub.Check(health_pb2.HealthCheckRequest(), timeout=30)
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return grpc.StatusCode.OK


def test_tls_serves_a_client_that_trusts_the_ca(
    tls_server: tuple[RunningServer, ServerTls], pki: Pki
) -> None:
    running, _ = tls_server
    with secure_channel(running.address, pki.ca) as channel:
        created = Stubs(channel).command.create(make_session(), timeout=30)
        assert created.metadata.id.startswith("ses-")
    assert served_certificate(running.address).serial_number == pki.server.serial


def test_tls_refuses_a_plaintext_client_and_one_trusting_another_ca(
    tls_server: tuple[RunningServer, ServerTls], pki: Pki
) -> None:
    running, _ = tls_server
    with grpc.insecure_channel(running.address) as channel:
        assert _health(channel) == grpc.StatusCode.UNAVAILABLE
    with secure_channel(running.address, pki.other_ca) as channel:
        assert _health(channel) == grpc.StatusCode.UNAVAILABLE


def test_mtls_requires_a_client_certificate_of_the_client_ca(mtls_server: RunningServer, pki: Pki) -> None:
    address = mtls_server.address
    with secure_channel(address, pki.ca) as channel:  # no client certificate
        assert _health(channel) == grpc.StatusCode.UNAVAILABLE
    with secure_channel(address, pki.ca, client_cert(pki.other_ca, uri="spiffe://x/alice")) as channel:
        assert _health(channel) == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(address) as channel:
        assert _health(channel) == grpc.StatusCode.UNAVAILABLE
    with secure_channel(address, pki.ca, client_cert(pki.ca, uri="spiffe://x/alice")) as channel:
        assert _health(channel) == grpc.StatusCode.OK
        assert Stubs(channel).command.create(make_session(), timeout=30).metadata.id


def test_a_reload_serves_new_connections_the_new_certificate_and_keeps_open_ones(
    tls_server: tuple[RunningServer, ServerTls], pki: Pki, tmp_path: Path
) -> None:
    running, tls = tls_server
    new_ca = make_ca("Next CA")
    new = server_cert(new_ca)
    with secure_channel(running.address, pki.ca) as old_channel:
        assert _health(old_channel) == grpc.StatusCode.OK  # connected with the old certificate
        new.write(tmp_path, "server")  # over the files the server was started with
        material = tls.reload()
        assert material.serial == new.serial
        assert served_certificate(running.address).serial_number == new.serial
        with secure_channel(running.address, new_ca) as fresh:
            assert _health(fresh) == grpc.StatusCode.OK
        with secure_channel(running.address, pki.ca) as fresh:  # trusts only the old CA
            assert _health(fresh) == grpc.StatusCode.UNAVAILABLE
        # its connection was made before the reload and is still the one in use
        assert Stubs(old_channel).command.create(make_session(), timeout=30).metadata.id


def test_a_bad_file_on_reload_keeps_the_previous_certificate(
    tls_server: tuple[RunningServer, ServerTls], pki: Pki
) -> None:
    running, tls = tls_server
    pki.cert.write_text("not a certificate")
    with pytest.raises(TlsError, match="holds no PEM certificate"):
        tls.reload()
    assert tls.material.serial == pki.server.serial
    assert served_certificate(running.address).serial_number == pki.server.serial
    with secure_channel(running.address, pki.ca) as channel:
        assert _health(channel) == grpc.StatusCode.OK


def test_a_half_rotated_pair_is_refused_on_reload(
    tls_server: tuple[RunningServer, ServerTls], pki: Pki
) -> None:
    running, tls = tls_server
    pki.cert.write_bytes(server_cert(pki.ca).cert_pem)  # a new certificate, the old key
    with pytest.raises(TlsError, match="does not belong to the certificate"):
        tls.reload()
    assert served_certificate(running.address).serial_number == pki.server.serial


def _bad(tmp_path: Path, pki: Pki, what: str) -> tuple[str, str, str | None]:
    cert, key, ca = str(pki.cert), str(pki.key), None
    if what == "missing cert":
        cert = str(tmp_path / "nope.crt")
    elif what == "garbage key":
        (tmp_path / "bad.key").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        key = str(tmp_path / "bad.key")
    elif what == "key of another certificate":
        key = str(server_cert(pki.ca).write(tmp_path, "other")[1])
    elif what == "garbage client ca":
        (tmp_path / "bad-ca.crt").write_text("hello")
        ca = str(tmp_path / "bad-ca.crt")
    elif what == "a key as client ca":
        ca = key
    return cert, key, ca


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("missing cert", "cannot read the TLS certificate .*nope.crt: No such file"),
        ("garbage key", "the TLS key .*bad.key is not a PEM private key"),
        ("key of another certificate", "the TLS key .*other.key does not belong to the certificate"),
        ("garbage client ca", "the TLS client CA .*bad-ca.crt holds no PEM certificate"),
        ("a key as client ca", "the TLS client CA .*server.key holds no PEM certificate"),
    ],
)
def test_files_that_are_not_what_they_should_be_are_named(
    tmp_path: Path, pki: Pki, what: str, message: str
) -> None:
    with pytest.raises(TlsError, match=message):
        ServerTls(*_bad(tmp_path, pki, what))


def test_an_encrypted_key_is_refused_with_the_reason(tmp_path: Path, pki: Pki) -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    encrypted = pki.server.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    pki.key.write_bytes(encrypted)
    with pytest.raises(TlsError, match="is encrypted: give an unencrypted key"):
        ServerTls(str(pki.cert), str(pki.key))


def _reflection_services(channel: grpc.Channel) -> list[str] | grpc.StatusCode:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    try:
        (response,) = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30
        )
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return [s.name for s in response.list_services_response.service]


@pytest.mark.parametrize("reflection", [True, False])
def test_reflection_can_be_left_out(sessions: SessionController, reflection: bool) -> None:
    for running in _serve(sessions, None, reflection=reflection):
        with grpc.insecure_channel(running.address) as channel:
            listed = _reflection_services(channel)
            health = health_pb2_grpc.HealthStub(channel)
            statuses = health.List(health_pb2.HealthListRequest(), timeout=30).statuses
            assert _health(channel) == grpc.StatusCode.OK  # health stays open either way
    if reflection:
        assert isinstance(listed, list) and "grpc.reflection.v1alpha.ServerReflection" in listed
    else:
        assert listed == grpc.StatusCode.UNIMPLEMENTED
    assert not [name for name in statuses if "reflection" in name.lower()]
