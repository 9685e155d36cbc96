"""The certificate identity through a real mutual-TLS handshake: what grpc itself puts in
``auth_context()``, not only the fake of test_authenticator."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from cryptography import x509

from pipeline.authn import Authenticate, AuthenticationFailed, TokenFile
from tests.certs import Issued, issue, make_ca

CA = make_ca("test ca")
SERVER = issue(CA, cn="localhost", sans=[x509.DNSName("localhost")])


@pytest.fixture
def echo_identity(tmp_path: Path) -> Iterator[int]:
    """A server requiring client certificates whose one method answers the principal id."""
    path = tmp_path / "tokens.toml"
    path.write_text('[[principals]]\nid = "spiffe://acme/worker"\n[[principals]]\nid = "db.acme.example"\n')
    authenticate = Authenticate(TokenFile(str(path)), certificates=True)

    def who(request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            return authenticate(context).id.encode()
        except AuthenticationFailed:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "refused")
            raise

    server = grpc.server(futures.ThreadPoolExecutor(2))
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(who)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.Who", {"who": handler}),))
    credentials = grpc.ssl_server_credentials([(SERVER.key_pem, SERVER.cert_pem)], CA.cert_pem, True)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    yield port
    server.stop(None)


def _who(port: int, client: Issued) -> bytes:
    credentials = grpc.ssl_channel_credentials(CA.cert_pem, client.key_pem, client.cert_pem)
    with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary("/t.Who/who")
        return bytes(call(b"", timeout=30))


def test_the_uri_san_then_dns_san_of_a_real_client_certificate(echo_identity: int) -> None:
    worker = issue(
        CA,
        cn="cn",
        sans=[x509.DNSName("worker.acme.example"), x509.UniformResourceIdentifier("spiffe://acme/worker")],
    )
    assert _who(echo_identity, worker) == b"spiffe://acme/worker"
    assert (
        _who(echo_identity, issue(CA, cn="cn", sans=[x509.DNSName("db.acme.example")])) == b"db.acme.example"
    )


def test_a_certificate_of_no_known_principal_is_refused(echo_identity: int) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        _who(echo_identity, issue(CA, cn="stranger"))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
