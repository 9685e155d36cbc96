"""The combined authenticator on a fake ServicerContext: what it accepts, and that every
refusal looks the same to the client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from pipeline.auth import Role
from pipeline.authn import REQUIRED, Authenticate, AuthenticationFailed, JwtVerifier, TokenFile, token_digest
from tests.certs import issue, make_ca
from tests.pipeline.authn.certs import auth_context
from tests.pipeline.authn.test_oidc import AUDIENCE, EC_KEY, ISSUER, RSA_KEY, make_token, write_jwks

CA = make_ca("test ca")
WORKER = issue(CA, cn="cn", sans=[x509.UniformResourceIdentifier("spiffe://acme/worker")])
STRANGER = issue(CA, cn="stranger")
ALICE_CERT = issue(CA, cn="alice")


class FakeContext:
    """What the authenticator reads of a grpc.ServicerContext."""

    def __init__(self, metadata: list[tuple[str, str]] | None = None, peer: dict[str, Any] | None = None):
        self.metadata = metadata or []
        self.peer_context = peer or {"transport_security_type": [b"insecure"]}

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata

    def auth_context(self) -> dict[str, Any]:
        return self.peer_context

    def peer(self) -> str:
        return "ipv4:127.0.0.1:5555"


def bearer(token: str) -> FakeContext:
    return FakeContext([("authorization", f"Bearer {token}")])


@pytest.fixture
def tokens(tmp_path: Path) -> TokenFile:
    path = tmp_path / "tokens.toml"
    path.write_text(
        f"""
[[principals]]
id = "alice"
token_sha256 = "{token_digest("alice-secret")}"
roles = {{ acme = "editor" }}

[[principals]]
id = "spiffe://acme/worker"
roles = {{ acme = "viewer" }}
"""
    )
    return TokenFile(str(path))


@pytest.fixture
def verifier(tmp_path: Path) -> JwtVerifier:
    jwks = write_jwks(tmp_path / "jwks.json", (RSA_KEY, "rsa-1"), (EC_KEY, "ec-1"))
    return JwtVerifier(str(jwks), issuer=ISSUER, audience=AUDIENCE)


def refused(authenticate: Authenticate, context: FakeContext) -> str:
    """The reason a refusal logs; the client-facing message is always REQUIRED."""
    with pytest.raises(AuthenticationFailed) as raised:
        authenticate(context)  # type: ignore[arg-type]
    assert str(raised.value) == REQUIRED
    return raised.value.reason


def test_a_known_bearer_token_is_its_principal(tokens: TokenFile) -> None:
    principal = Authenticate(tokens)(bearer("alice-secret"))  # type: ignore[arg-type]
    assert principal.id == "alice" and principal.roles == {"acme": Role.EDITOR}
    lower = FakeContext([("authorization", "bearer alice-secret")])  # the scheme is case-insensitive
    assert Authenticate(tokens)(lower).id == "alice"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nope",
        "Bearer ",
        "Bearer",
        "Basic YWxpY2U6c2VjcmV0",
        "alice-secret",
        "Bearer  ",
        "Token alice-secret",
    ],
)
def test_unknown_or_malformed_headers_are_refused_alike(tokens: TokenFile, header: str) -> None:
    reason = refused(Authenticate(tokens), FakeContext([("authorization", header)]))
    assert "alice-secret" not in reason and "YWxp" not in reason  # never the credential


def test_no_credentials_is_refused(tokens: TokenFile) -> None:
    assert refused(Authenticate(tokens), FakeContext()) == "no credentials"


def test_two_authorization_headers_are_refused(tokens: TokenFile) -> None:
    twice = FakeContext([("authorization", "Bearer alice-secret"), ("authorization", "Bearer x")])
    refused(Authenticate(tokens), twice)


def test_a_certificate_only_principal_cannot_log_in_by_token(tokens: TokenFile) -> None:
    for guess in ("spiffe://acme/worker", "", token_digest("")):
        refused(Authenticate(tokens, certificates=True), bearer(guess))


def test_a_jwt_is_tried_when_the_token_is_not_in_the_file(tokens: TokenFile, verifier: JwtVerifier) -> None:
    authenticate = Authenticate(tokens, verifier)
    assert authenticate(bearer(make_token(sub="bob", stigmer_roles={"beta": "admin"}))).id == "bob"  # type: ignore[arg-type]
    assert authenticate(bearer("alice-secret")).id == "alice"  # type: ignore[arg-type]
    expired = make_token(exp=1)
    assert refused(authenticate, bearer(expired)).startswith("JWT refused")
    assert refused(Authenticate(tokens), bearer(make_token())) == "unknown bearer token"  # no JWT configured


def test_a_verified_certificate_names_a_principal_of_the_tokens_file(tokens: TokenFile) -> None:
    authenticate = Authenticate(tokens, certificates=True)
    principal = authenticate(FakeContext(peer=auth_context(WORKER)))  # type: ignore[arg-type]
    assert principal.id == "spiffe://acme/worker" and principal.roles == {"acme": Role.VIEWER}
    # a certificate naming a token principal works too: the file is the list of principals
    assert authenticate(FakeContext(peer=auth_context(ALICE_CERT))).id == "alice"  # type: ignore[arg-type]
    assert "no known principal" in refused(authenticate, FakeContext(peer=auth_context(STRANGER)))


def test_a_bearer_header_decides_even_with_a_certificate(tokens: TokenFile) -> None:
    authenticate = Authenticate(tokens, certificates=True)
    both = FakeContext([("authorization", "Bearer wrong")], auth_context(WORKER))
    refused(authenticate, both)


def test_certificates_count_only_when_enabled(tokens: TokenFile) -> None:
    refused(Authenticate(tokens), FakeContext(peer=auth_context(WORKER)))


def test_it_needs_a_mechanism() -> None:
    with pytest.raises(ValueError, match="tokens file or a JWT verifier"):
        Authenticate()


def test_reloads_lists_the_files_sighup_rereads(tokens: TokenFile, verifier: JwtVerifier) -> None:
    assert [what for what, _ in Authenticate(tokens, verifier).reloads()] == ["tokens file", "JWKS file"]
    assert [what for what, _ in Authenticate(jwt=verifier).reloads()] == ["JWKS file"]
    assert Authenticate(tokens, verifier, certificates=True).mechanisms == ["tokens", "jwt", "certificates"]
