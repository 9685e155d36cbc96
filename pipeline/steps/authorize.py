"""Authorize: the head of every operation, checking what the request itself says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.auth import Role
from pipeline.authorization import DEFAULT_AUTHORIZER, Access, verb
from pipeline.context import RequestContext
from pipeline.errors import NotFound
from pipeline.keys import ACCESS, AUTHORIZER, PRINCIPAL


def _org_of(message: Any, path: str) -> str:
    for part in path.split("."):
        message = getattr(message, part)
    return str(message)


@dataclass(frozen=True, slots=True)
class Authorize:
    """Reads ``ctx[PRINCIPAL]`` (absent: a trusted caller, nothing to check),
    ``ctx[AUTHORIZER]`` (absent: the role rules) and, with ``org_field``, the org the request
    names; writes ``ctx[ACCESS]`` for the steps that learn an org later (the loaders, the
    lists, the change feed).

    A request naming an org the principal may not act in with ``role`` is refused:
    PermissionDenied naming the org (a create into it, a list of it); with ``hidden``, an
    org it may not even read is answered with ``hidden(ctx)``, the NotFound a missing
    resource gets (getByReference), so existence never leaks. An empty org (a list of every
    org, a by-id request) is left to the later steps, unless ``org_required``: a create or
    apply into the org "" needs a role there like any other (only ``"*"`` grants one).
    """

    role: Role
    #: Where the request names its org (dotted path), if it does.
    org_field: str | None = None
    #: The NotFound to answer for an unreadable org, when the request names one resource.
    hidden: Callable[[RequestContext[Any]], NotFound] | None = None
    #: The request's org is where it writes, even when empty (create, apply).
    org_required: bool = False

    def __call__(self, ctx: RequestContext[Any]) -> None:
        principal = ctx.get(PRINCIPAL)
        if principal is None:
            return
        access = Access(principal, ctx.get(AUTHORIZER, DEFAULT_AUTHORIZER), self.role, ctx.operation)
        ctx[ACCESS] = access
        if self.org_field is None:
            return
        org = _org_of(ctx.input, self.org_field)
        if not org and not self.org_required:
            return
        if self.hidden is not None and not access.readable(org):
            raise access.concealed(org, self.hidden(ctx))
        if not access.may(org):
            raise access.denied(org, verb(self.role))
