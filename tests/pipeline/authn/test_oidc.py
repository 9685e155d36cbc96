"""JWT access tokens: every claim and signature check, with keys and tokens made here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from pipeline.auth import Principal, Role
from pipeline.authn.oidc import JwtVerifier, TokenRejected, parse_jwks
from pipeline.errors import InvalidArgument

ISSUER, AUDIENCE = "https://id.example", "stigmer-sessions"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: Any, kid: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPublicKey) else ECAlgorithm
    return {**json.loads(algorithm.to_jwk(key)), "kid": kid}


def write_jwks(path: Path, *keys: tuple[Any, str]) -> Path:
    path.write_text(json.dumps({"keys": [_jwk(key.public_key(), kid) for key, kid in keys]}))
    return path


def make_token(key: Any = RSA_KEY, kid: str | None = "rsa-1", alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(body, key, algorithm=alg, headers=headers)


@pytest.fixture
def jwks(tmp_path: Path) -> Path:
    return write_jwks(tmp_path / "jwks.json", (RSA_KEY, "rsa-1"), (EC_KEY, "ec-1"))


@pytest.fixture
def verifier(jwks: Path) -> JwtVerifier:
    return JwtVerifier(str(jwks), issuer=ISSUER, audience=AUDIENCE)


def test_a_valid_token_names_its_subject_with_the_roles_claim(verifier: JwtVerifier) -> None:
    token = make_token(stigmer_roles={"acme": "editor", "*": "viewer"})
    assert verifier.verify(token) == Principal("alice", {"acme": Role.EDITOR, "*": Role.VIEWER})
    assert verifier.verify(make_token(EC_KEY, "ec-1", "ES256")) == Principal("alice", {})


def test_the_roles_claim_is_configurable(jwks: Path) -> None:
    custom = JwtVerifier(str(jwks), issuer=ISSUER, audience=AUDIENCE, roles_claim="orgs")
    principal = custom.verify(make_token(orgs={"beta": "admin"}, stigmer_roles={"acme": "admin"}))
    assert principal.roles == {"beta": Role.ADMIN}


def _forged_hs256(public_key: Any) -> str:
    """An HS256 token whose HMAC key is the RSA public key's PEM: the classic confusion."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode())
    claims = {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def _alg_none() -> str:
    now = int(time.time())
    claims = {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    return jwt.encode(claims, None, algorithm="none", headers={"kid": "rsa-1"})  # type: ignore[arg-type]


REFUSED: dict[str, Callable[[], str]] = {
    "expired": lambda: make_token(exp=int(time.time()) - 3600),
    "not yet valid": lambda: make_token(nbf=int(time.time()) + 3600),
    "wrong issuer": lambda: make_token(iss="https://evil.example"),
    "wrong audience": lambda: make_token(aud="someone-else"),
    "bad signature": lambda: make_token(OTHER_KEY),
    "unknown kid": lambda: make_token(kid="rsa-2"),
    "no kid": lambda: make_token(kid=None),
    "EC key named for an RSA token": lambda: make_token(EC_KEY, "rsa-1", "ES256"),
    "RS256 token on the EC key": lambda: make_token(RSA_KEY, "ec-1", "RS256"),
    "alg none": _alg_none,
    "HS256 forged with the public key": lambda: _forged_hs256(RSA_KEY.public_key()),
    "no exp": lambda: make_token(exp=None),
    "no sub": lambda: make_token(sub=None),
    "empty sub": lambda: make_token(sub=""),
    "bad roles claim": lambda: make_token(stigmer_roles={"acme": "owner"}),
    "roles claim not a map": lambda: make_token(stigmer_roles=["acme"]),
    "not a JWT": lambda: "a.b.c",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_every_bad_token_is_refused(verifier: JwtVerifier, case: str) -> None:
    with pytest.raises(TokenRejected):
        verifier.verify(REFUSED[case]())


def test_a_small_clock_skew_is_tolerated_and_can_be_turned_off(jwks: Path) -> None:
    just_expired = make_token(exp=int(time.time()) - 5)
    assert JwtVerifier(str(jwks), issuer=ISSUER, audience=AUDIENCE).verify(just_expired).id == "alice"
    strict = JwtVerifier(str(jwks), issuer=ISSUER, audience=AUDIENCE, leeway_s=0)
    with pytest.raises(TokenRejected):
        strict.verify(just_expired)


def test_reload_rotates_keys_and_a_broken_file_keeps_the_previous(jwks: Path) -> None:
    verifier = JwtVerifier(str(jwks), issuer=ISSUER, audience=AUDIENCE)
    write_jwks(jwks, (OTHER_KEY, "rsa-2"))
    verifier.reload()
    assert verifier.verify(make_token(OTHER_KEY, "rsa-2")).id == "alice"
    with pytest.raises(TokenRejected):
        verifier.verify(make_token())  # rsa-1 is gone
    jwks.write_text("{not json")
    with pytest.raises(InvalidArgument):
        verifier.reload()
    assert verifier.verify(make_token(OTHER_KEY, "rsa-2")).id == "alice"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[", "not valid JSON"),
        ("{}", 'non-empty "keys" array'),
        ('{"keys": [{"kty": "RSA"}]}', 'keys[0]: "kid" must be a non-empty string'),
        ('{"keys": [{"kid": "k", "kty": "oct", "k": "c2VjcmV0"}]}', "no symmetric keys"),
        (
            '{"keys": [{"kid": "k", "kty": "RSA", "alg": "HS256", "n": "AQAB", "e": "AQAB"}]}',
            "not an accepted",
        ),
        ('{"keys": [{"kid": "k", "kty": "RSA", "n": "!!", "e": "AQAB"}]}', "not a usable key"),
    ],
)
def test_a_bad_jwks_is_one_error_naming_the_key(document: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_jwks(document, "jwks.json")
    assert str(raised.value).startswith("jwks.json") and message in str(raised.value)


def test_a_jwks_with_a_private_key_or_a_repeated_kid_is_refused() -> None:
    private = {**json.loads(RSAAlgorithm.to_jwk(RSA_KEY)), "kid": "k"}
    with pytest.raises(InvalidArgument, match="private key"):
        parse_jwks(json.dumps({"keys": [private]}))
    public = _jwk(RSA_KEY.public_key(), "k")
    with pytest.raises(InvalidArgument, match="duplicate kid"):
        parse_jwks(json.dumps({"keys": [public, public]}))
