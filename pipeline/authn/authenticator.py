"""One authenticator over every mechanism: bearer tokens, JWTs and client certificates.

An ``authorization: Bearer <token>`` header decides alone: the token is looked up in the
tokens file, else verified as a JWT when JWT is configured. Without the header, a verified
client certificate names the principal (its roles come from the tokens file's entry of that
id). Whatever fails, the caller gets the same :class:`AuthenticationFailed` (UNAUTHENTICATED,
:data:`REQUIRED`): telling a client which check failed only helps someone guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

import grpc

from pipeline.auth import Principal
from pipeline.authn.certificates import certificate_identity
from pipeline.authn.oidc import JwtVerifier, TokenRejected
from pipeline.authn.tokens import TokenFile
from pipeline.errors import Unauthenticated

AUTHORIZATION_HEADER = "authorization"
#: What every refused caller is told.
REQUIRED = "a valid bearer token or client certificate is required"


class AuthenticationFailed(Unauthenticated):
    """UNAUTHENTICATED with :data:`REQUIRED` as its message; ``reason`` is for the server's
    log (never the credential itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(REQUIRED)
        self.reason = reason


class Authenticate:
    """The :data:`pipeline.grpc_adapter.Authenticator` of a server: a callable from the call's
    context to its :class:`Principal`, raising :class:`AuthenticationFailed`.

    ``tokens``: the tokens file (bearer tokens, and the roles of certificate principals);
    ``jwt``: the JWT verifier; ``certificates``: whether a verified client certificate
    identifies its caller (only with mutual TLS, where grpc verifies it)."""

    def __init__(
        self, tokens: TokenFile | None = None, jwt: JwtVerifier | None = None, *, certificates: bool = False
    ) -> None:
        if tokens is None and jwt is None:
            raise ValueError("authentication needs a tokens file or a JWT verifier")
        self.tokens, self.jwt, self.certificates = tokens, jwt, certificates

    @property
    def mechanisms(self) -> list[str]:
        """What is accepted, for the server's start-up line."""
        found = ["tokens"] if self.tokens is not None else []
        found += ["jwt"] if self.jwt is not None else []
        return found + (["certificates"] if self.certificates else [])

    def reloads(self) -> list[tuple[str, Callable[[], None]]]:
        """What SIGHUP should re-read: (what, callback) pairs for ``Reloads.add``."""
        found: list[tuple[str, Callable[[], None]]] = []
        if self.tokens is not None:
            found.append(("tokens file", self.tokens.reload))
        if self.jwt is not None:
            found.append(("JWKS file", self.jwt.reload))
        return found

    def __call__(self, context: grpc.ServicerContext) -> Principal:
        headers = [str(v) for k, v in context.invocation_metadata() or () if k == AUTHORIZATION_HEADER]
        if headers:
            return self._bearer(headers)
        if self.certificates:
            # grpc's values are lists of bytes (the type stubs say bytes)
            peer = cast(Mapping[str, Sequence[bytes]], context.auth_context() or {})
            identity = certificate_identity(peer)
            if identity is not None:
                found = self.tokens.table.by_id(identity) if self.tokens is not None else None
                if found is None:
                    raise AuthenticationFailed("client certificate of no known principal")
                return found
        raise AuthenticationFailed("no credentials")

    def _bearer(self, headers: Sequence[str]) -> Principal:
        if len(headers) != 1:
            raise AuthenticationFailed("more than one authorization header")
        scheme, _, token = headers[0].partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed("malformed authorization header (not Bearer <token>)")
        if self.tokens is not None:
            found = self.tokens.table.by_token(token)
            if found is not None:
                return found
        if self.jwt is not None and token.count(".") == 2:
            try:
                return self.jwt.verify(token)
            except TokenRejected as exc:
                raise AuthenticationFailed(f"JWT refused: {exc}") from None
        raise AuthenticationFailed("unknown bearer token")
