"""Bearer tokens: a TOML file of principals, each token stored only as its SHA-256 digest.

::

    [[principals]]
    id = "alice"
    token_sha256 = "<lowercase hex sha256 of the token>"   # absent: a certificate-only principal
    roles = { acme = "editor", beta = "viewer" }            # org -> viewer | editor | admin; "*" = every org
    impersonate = false                                     # may act for others (x-actor-id)

The file is parsed strictly (an unknown key, a bad role or digest, a duplicate id or digest
is an error naming the entry and key) because a typo in an access file should stop the
server, not silently lock someone out or let someone in. :class:`TokenFile` re-reads it on
:meth:`~TokenFile.reload`; a file that fails to parse leaves the previous table in force.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline import limits
from pipeline.auth import Principal, Role
from pipeline.errors import InvalidArgument

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_ENTRY_KEYS = frozenset({"id", "token_sha256", "roles", "impersonate"})


def token_digest(token: str) -> str:
    """The lowercase hex SHA-256 of ``token``, as the tokens file stores it."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenTable:
    """One parsed tokens file: every principal by id, and the digests of those with a token."""

    principals: Mapping[str, Principal]
    digests: tuple[tuple[bytes, Principal], ...]

    def by_token(self, token: str) -> Principal | None:
        """The principal whose digest is ``token``'s, compared in constant time with every
        entry (no early exit), so response times say nothing about how close a guess was."""
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for expected, principal in self.digests:
            if hmac.compare_digest(digest, expected):
                found = principal
        return found

    def by_id(self, principal_id: str) -> Principal | None:
        """The principal of that id (certificates name their principal this way)."""
        return self.principals.get(principal_id)


def parse_tokens(text: str, source: str = "tokens file") -> TokenTable:
    """Parse a tokens file; InvalidArgument naming ``source``, the entry and the key otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"principals"})
    if unknown:
        raise InvalidArgument(f"{source}: unknown key {unknown[0]!r} (only [[principals]] entries)")
    entries = data.get("principals", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidArgument(f"{source}: 'principals' must be an array of tables ([[principals]])")
    principals: dict[str, Principal] = {}
    digests: dict[str, Principal] = {}
    for index, entry in enumerate(entries):
        principal, digest = _entry(entry, f"{source}: principals[{index}]")
        where = f"{source}: principals[{index}] (id {principal.id!r})"
        if principal.id in principals:
            raise InvalidArgument(f"{where}: duplicate id")
        if digest is not None:
            if digest in digests:
                raise InvalidArgument(f"{where}: token_sha256 repeats that of {digests[digest].id!r}")
            digests[digest] = principal
        principals[principal.id] = principal
    return TokenTable(principals, tuple((bytes.fromhex(d), p) for d, p in digests.items()))


def _entry(entry: dict[str, Any], where: str) -> tuple[Principal, str | None]:
    principal_id = entry.get("id")
    if not isinstance(principal_id, str) or not principal_id.strip():
        raise InvalidArgument(f"{where}: 'id' must be a non-empty string")
    violation = limits.violation("id", principal_id, limits.MAX_ACTOR_BYTES)
    if violation is not None:
        raise InvalidArgument(f"{where}: 'id' {violation.message}")
    where = f"{where} (id {principal_id!r})"
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise InvalidArgument(f"{where}: unknown key {unknown[0]!r} (use {', '.join(sorted(_ENTRY_KEYS))})")
    digest = entry.get("token_sha256")
    if digest is not None and (not isinstance(digest, str) or not _HEX_SHA256.fullmatch(digest)):
        raise InvalidArgument(f"{where}: 'token_sha256' must be 64 lowercase hex digits (a SHA-256)")
    impersonate = entry.get("impersonate", False)
    if not isinstance(impersonate, bool):
        raise InvalidArgument(f"{where}: 'impersonate' must be true or false")
    try:
        roles = parse_roles(entry.get("roles", {}))
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: 'roles': {exc}") from None
    return Principal(principal_id, roles, impersonate), digest


def parse_roles(value: object) -> dict[str, Role]:
    """An org -> role map (``{acme = "editor", "*" = "viewer"}``), as the tokens file and JWT
    claims hold it; InvalidArgument naming the org otherwise."""
    if not isinstance(value, dict):
        raise InvalidArgument('must be a table of org = "viewer" | "editor" | "admin"')
    roles: dict[str, Role] = {}
    for org, name in value.items():
        if not isinstance(org, str) or not org:
            raise InvalidArgument("an org name must be a non-empty string")
        if not isinstance(name, str):
            raise InvalidArgument(f"org {org!r}: the role must be a string (viewer, editor or admin)")
        try:
            roles[org] = Role.parse(name)
        except InvalidArgument as exc:
            raise InvalidArgument(f"org {org!r}: {exc}") from None
    return roles


def read_utf8(path: str, what: str) -> str:
    """The text of the file at ``path``; InvalidArgument naming ``what`` and the path when it
    is not UTF-8 (OSError when it cannot be read)."""
    with open(path, "rb") as file:
        raw = file.read()
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise InvalidArgument(f"{what} {path}: not UTF-8") from None


def load_tokens(path: str) -> TokenTable:
    """Read and parse the tokens file at ``path`` (OSError when it cannot be read)."""
    return parse_tokens(read_utf8(path, "tokens file"), f"tokens file {path}")


class TokenFile:
    """A tokens file kept in memory; :meth:`reload` swaps in a new table only once it parsed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._table = load_tokens(path)

    @property
    def table(self) -> TokenTable:
        return self._table

    def reload(self) -> None:
        """Re-read the file; on any error raise it and keep the previous table (one reference
        assignment: requests see the old table or the new one, never a mix)."""
        self._table = load_tokens(self.path)
