"""JWT access tokens (OIDC): verified against a JWKS file with PyJWT, never by hand.

The key is chosen by the token's ``kid`` (a token without one, or with a kid the JWKS does
not hold, is refused); only the asymmetric algorithms of :data:`ALGORITHMS` are accepted, and
only with a key of their family, so neither ``alg: none`` nor an HMAC "signed" with a public
key can pass. Signature, ``exp``, ``nbf``, ``iss`` and ``aud`` are verified (``exp``, ``iss``,
``aud`` and ``sub`` are required), with :data:`DEFAULT_LEEWAY_S` of clock skew allowed. The
principal id is ``sub``; its roles are the org -> role map in the roles claim
(:data:`DEFAULT_ROLES_CLAIM`). :meth:`JwtVerifier.reload` re-reads the JWKS file (key
rotation); a file that does not parse keeps the previous keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from pipeline import limits
from pipeline.auth import Principal
from pipeline.authn.tokens import parse_roles, read_utf8
from pipeline.errors import InvalidArgument

#: The claim holding the org -> role map, unless configured otherwise.
DEFAULT_ROLES_CLAIM = "stigmer_roles"
#: Clock skew tolerated on exp and nbf, in seconds.
DEFAULT_LEEWAY_S = 30.0
#: Accepted signature algorithms, by the key type (JWK ``kty``) each needs.
ALGORITHMS: Mapping[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}
_REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]


class TokenRejected(Exception):
    """Why a JWT was refused, for the server's log only (never sent to the client)."""


@dataclass(frozen=True)
class _Key:
    kty: str
    alg: str | None  # the JWK's own "alg", when it names one
    key: Any  # a cryptography public key


def parse_jwks(text: str, source: str = "JWKS file") -> Mapping[str, _Key]:
    """The public keys of a JWKS document by kid; InvalidArgument naming the key otherwise.

    Every key needs a kid (tokens pick their key by it), an asymmetric kty, and no private
    part: a JWKS file is public material, a private key in it is a mistake worth stopping for."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"{source}: not valid JSON: {exc}") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise InvalidArgument(f'{source}: must be a JSON object with a non-empty "keys" array')
    found: dict[str, _Key] = {}
    for index, jwk in enumerate(keys):
        where = f"{source}: keys[{index}]"
        if not isinstance(jwk, dict):
            raise InvalidArgument(f"{where}: must be a JSON object")
        kid, kty, alg = jwk.get("kid"), jwk.get("kty"), jwk.get("alg")
        if not isinstance(kid, str) or not kid:
            raise InvalidArgument(f'{where}: "kid" must be a non-empty string (tokens pick their key by it)')
        where = f"{where} (kid {kid!r})"
        if kid in found:
            raise InvalidArgument(f"{where}: duplicate kid")
        if kty not in set(ALGORITHMS.values()):
            raise InvalidArgument(f'{where}: "kty" must be RSA, EC or OKP (no symmetric keys), not {kty!r}')
        if alg is not None and ALGORITHMS.get(alg) != kty:
            raise InvalidArgument(f'{where}: "alg" {alg!r} is not an accepted algorithm for a {kty} key')
        if "d" in jwk:
            raise InvalidArgument(f"{where}: holds a private key; publish only the public part")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg or _default_alg(kty, jwk)).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise InvalidArgument(f"{where}: not a usable key: {exc}") from None
        found[kid] = _Key(kty, alg, key)
    return found


def _default_alg(kty: str, jwk: Mapping[str, Any]) -> str:
    """Only to build the key object (PyJWK needs an algorithm); tokens are checked against
    the key's family in :meth:`JwtVerifier.verify`."""
    if kty == "EC":
        return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}.get(str(jwk.get("crv")), "ES256")
    return {"RSA": "RS256", "OKP": "EdDSA"}[kty]


def load_jwks(path: str) -> Mapping[str, _Key]:
    return parse_jwks(read_utf8(path, "JWKS file"), f"JWKS file {path}")


class JwtVerifier:
    """Verifies JWT access tokens against the keys of a JWKS file (re-read by :meth:`reload`)."""

    def __init__(
        self,
        jwks_path: str,
        *,
        issuer: str,
        audience: str,
        roles_claim: str = DEFAULT_ROLES_CLAIM,
        leeway_s: float = DEFAULT_LEEWAY_S,
    ) -> None:
        if not issuer or not audience:
            raise InvalidArgument("a JWT issuer and audience are both required")
        self.jwks_path, self.issuer, self.audience = jwks_path, issuer, audience
        self.roles_claim, self.leeway_s = roles_claim, leeway_s
        self._keys = load_jwks(jwks_path)

    def reload(self) -> None:
        """Re-read the JWKS file; on error raise and keep the previous keys."""
        self._keys = load_jwks(self.jwks_path)

    def verify(self, token: str) -> Principal:
        """The principal a valid token names; TokenRejected saying why (for the log) otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"not a JWT: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise TokenRejected(f"algorithm {alg!r} is not accepted")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenRejected(f"unknown kid {kid!r}")
        if ALGORITHMS[alg] != key.kty or (key.alg is not None and key.alg != alg):
            raise TokenRejected(f"algorithm {alg} does not match key {kid!r}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"{type(exc).__name__}: {exc}") from None
        return self._principal(claims)

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenRejected("sub is not a non-empty string")
        if limits.violation("sub", subject, limits.MAX_ACTOR_BYTES) is not None:
            raise TokenRejected("sub is too long or holds control characters")
        try:
            roles = parse_roles(claims.get(self.roles_claim, {}))
        except InvalidArgument as exc:
            raise TokenRejected(f"claim {self.roles_claim}: {exc}") from None
        return Principal(subject, roles)
