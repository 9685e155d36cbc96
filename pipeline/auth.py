"""Who is calling: a principal and its role in each org.

A :class:`Principal` is what authentication (bearer tokens, JWTs, client certificates)
produces and what authorization reads. It travels in the request context under
:data:`pipeline.keys.PRINCIPAL`; a context without one is a trusted in-process caller (the
library's default), to whom no role applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from pipeline.errors import InvalidArgument

#: The org name that grants a role in every org.
EVERY_ORG = "*"


class Role(IntEnum):
    """What a principal may do in an org; each role includes the ones below it."""

    VIEWER = 1  # reads
    EDITOR = 2  # and writes
    ADMIN = 3  # and deletes

    @classmethod
    def parse(cls, name: str) -> Role:
        """``"viewer"``, ``"editor"`` or ``"admin"``; InvalidArgument naming the value otherwise."""
        try:
            return cls[name.upper()]
        except KeyError:
            raise InvalidArgument(f"unknown role {name!r}: use viewer, editor or admin") from None


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its id, its role per org (``"*"``: every org), and whether it
    may act for others (``x-actor-id``, for trusted gateways)."""

    id: str
    roles: Mapping[str, Role] = field(default_factory=dict)
    impersonate: bool = False

    def role_in(self, org: str) -> Role | None:
        """The strongest role the principal holds in ``org`` (its own, or through ``"*"``)."""
        own, every = self.roles.get(org), self.roles.get(EVERY_ORG)
        if own is None or (every is not None and every > own):
            return every
        return own

    def may(self, role: Role, org: str) -> bool:
        held = self.role_in(org)
        return held is not None and held >= role

    @property
    def every_org(self) -> Role | None:
        """The role ``"*"`` grants, if any."""
        return self.roles.get(EVERY_ORG)

    def orgs(self, role: Role = Role.VIEWER) -> frozenset[str]:
        """The orgs named in the roles where the principal holds at least ``role`` (not
        counting ``"*"``: see :attr:`every_org`)."""
        return frozenset(org for org, held in self.roles.items() if org != EVERY_ORG and held >= role)
