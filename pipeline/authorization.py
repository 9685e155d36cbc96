"""What a principal may do: the policy (:class:`Authorizer`) and the one place it is applied.

The :class:`~pipeline.steps.Authorize` step at the head of every operation puts an
:class:`Access` into the context (the principal, the policy and the role the operation
needs); the steps that learn an org later consult it through :func:`access`: the loaders
(:func:`pipeline.steps.load_target.load_or_not_found`), the lists (only readable orgs) and
the change feed. A context without a principal is a trusted in-process caller: no access
applies. A context WITH a principal but without an Access is a pipeline missing its
Authorize step, and fails closed (Internal) rather than serve everything.

Denials are logged at WARNING on ``pipeline.authz`` (principal, operation, org, outcome),
never with credentials: the principal carries none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.auth import Principal, Role
from pipeline.context import RequestContext
from pipeline.errors import Internal, NotFound, PermissionDenied
from pipeline.keys import ACCESS, PRINCIPAL

_log = logging.getLogger("pipeline.authz")


class Authorizer(Protocol):
    """The policy: may ``principal`` act with ``role`` in ``org``, and in which orgs may it
    (None: every org, so lists need no restriction). Both must agree: ``orgs`` is what
    lists and feeds without an org are served from."""

    def allows(self, principal: Principal, role: Role, org: str) -> bool: ...

    def orgs(self, principal: Principal, role: Role) -> frozenset[str] | None: ...


@dataclass(frozen=True)
class RoleAuthorizer:
    """The default policy: the principal's own roles per org (``"*"``: every org); viewer
    reads, editor also writes, admin also deletes (:class:`~pipeline.auth.Role`)."""

    def allows(self, principal: Principal, role: Role, org: str) -> bool:
        return principal.may(role, org)

    def orgs(self, principal: Principal, role: Role) -> frozenset[str] | None:
        every = principal.every_org
        if every is not None and every >= role:
            return None
        return principal.orgs(role)


DEFAULT_AUTHORIZER: Authorizer = RoleAuthorizer()


@dataclass(frozen=True)
class Access:
    """One request's authorization: who, under which policy, needing which role."""

    principal: Principal
    authorizer: Authorizer
    role: Role
    operation: str = ""

    def may(self, org: str, role: Role | None = None) -> bool:
        return self.authorizer.allows(self.principal, role or self.role, org)

    def readable(self, org: str) -> bool:
        return self.authorizer.allows(self.principal, Role.VIEWER, org)

    def readable_orgs(self) -> frozenset[str] | None:
        """The orgs the principal may read (None: every org)."""
        return self.authorizer.orgs(self.principal, Role.VIEWER)

    def denied(self, org: str, why: str) -> PermissionDenied:
        """PermissionDenied naming ``org`` (logged at WARNING)."""
        self.log("permission_denied", org)
        role = self.role.name.lower()
        return PermissionDenied(f"{self.principal.id!r} may not {why} in org {org!r} (needs {role})")

    def concealed(self, org: str, error: NotFound) -> NotFound:
        """``error`` (the very NotFound a missing resource gets), logged as a denial."""
        self.log("concealed_as_not_found", org)
        return error

    def log(self, outcome: str, org: str) -> None:
        log_denial(self.principal, self.operation, org, outcome, role=self.role)

    def check_record(self, org: str, not_found: Callable[[], NotFound]) -> None:
        """For a stored resource of ``org``: ``not_found()`` when the principal may not read
        it (so existence never leaks), PermissionDenied naming the org when it may read
        but not act with the operation's role."""
        if not self.readable(org):
            raise self.concealed(org, not_found())
        if not self.may(org):
            raise self.denied(org, _VERBS.get(self.role, "act"))


_VERBS = {Role.VIEWER: "read", Role.EDITOR: "write", Role.ADMIN: "delete"}


def log_denial(
    principal: Principal, operation: str, org: str, outcome: str, *, role: Role | None = None
) -> None:
    """The WARNING line of a denied request: who, what, where, how it was answered."""
    fields: dict[str, object] = {"principal": principal.id, "operation": operation, "org": org}
    fields["outcome"] = outcome
    if role is not None:
        fields["role_needed"] = role.name.lower()
    _log.warning("denied", extra={"fields": fields})


def actor_for(principal: Principal, operation: str, actor: str) -> tuple[str, str]:
    """(the actor to record, who impersonated it or "") for a request by ``principal`` that
    names ``actor`` (``x-actor-id``; "" when it names none): the principal itself, or, for a
    principal allowed to impersonate, the actor it names. PermissionDenied otherwise."""
    if not actor or actor == principal.id:
        return principal.id, ""
    if not principal.impersonate:
        log_denial(principal, operation, "", "impersonation_denied")
        raise PermissionDenied(f"{principal.id!r} may not act for another actor (x-actor-id)")
    return actor, principal.id


def access(ctx: RequestContext[Any]) -> Access | None:
    """The request's :class:`Access`; None for a trusted caller (no principal). Internal
    when a principal is present but no Authorize step ran: fail closed."""
    found = ctx.get(ACCESS)
    if found is None and PRINCIPAL in ctx:
        raise Internal(f"{ctx.operation}: a principal but no Authorize step; refusing")
    return found


def verb(role: Role) -> str:
    return _VERBS[role]
