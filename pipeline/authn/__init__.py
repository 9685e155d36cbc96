"""Authentication: who is calling, from a bearer token, a JWT or a client certificate.

One module per mechanism (:mod:`~pipeline.authn.tokens`, :mod:`~pipeline.authn.oidc`,
:mod:`~pipeline.authn.certificates`) and :class:`~pipeline.authn.authenticator.Authenticate`
combining them into the :data:`pipeline.grpc_adapter.Authenticator` a server runs for every
call. It only establishes the :class:`~pipeline.auth.Principal`; what the principal may do is
authorization's business.
"""

from pipeline.authn.authenticator import REQUIRED, Authenticate, AuthenticationFailed
from pipeline.authn.certificates import certificate_identity
from pipeline.authn.oidc import DEFAULT_LEEWAY_S, DEFAULT_ROLES_CLAIM, JwtVerifier
from pipeline.authn.tokens import TokenFile, TokenTable, load_tokens, parse_tokens, token_digest

__all__ = [
    "DEFAULT_LEEWAY_S",
    "DEFAULT_ROLES_CLAIM",
    "REQUIRED",
    "Authenticate",
    "AuthenticationFailed",
    "JwtVerifier",
    "TokenFile",
    "TokenTable",
    "certificate_identity",
    "load_tokens",
    "parse_tokens",
    "token_digest",
]
