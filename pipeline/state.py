"""Building the stored state of a resource: ids, audit blocks and version chaining.

Shared by BuildNewState, BuildUpdateState and BuildApplyState so that create, update and
apply can never disagree on what a write records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.context import RequestContext
from pipeline.ids import new_id, new_ulid
from pipeline.keys import CHANGED_FIELDS

CREATED = "created"
UPDATED = "updated"


def _stamp(info: Any, ctx: RequestContext[Any], *, created: bool, event: str) -> None:
    if created:
        info.created_by.id = ctx.actor
        info.created_at.FromNanoseconds(ctx.now_ns)
    info.updated_by.id = ctx.actor
    info.updated_at.FromNanoseconds(ctx.now_ns)
    info.event = event


def _next_version(state: Any, previous_version_id: str) -> None:
    version = state.metadata.version
    version.Clear()
    version.id = new_ulid()
    version.previous_version_id = previous_version_id


def build_new(ctx: RequestContext[Any], slug: str) -> Any:
    """Finish ``ctx.new_state`` (the client's request, copied) into a fresh record: server id,
    slug, api_version/kind defaults, audit and a first version. Returns it."""
    state = ctx.new_state
    state.api_version = ctx.kind.api_version
    state.kind = ctx.kind.kind
    state.metadata.id = new_id(ctx.kind.id_prefix, ctx.now_ns)
    state.metadata.slug = slug
    for name in ctx.kind.server_fields:
        state.ClearField(name)
    audit = state.status.audit
    _stamp(audit.spec_audit, ctx, created=True, event=CREATED)
    _stamp(audit.status_audit, ctx, created=True, event=CREATED)
    _next_version(state, "")
    return state


def build_update(ctx: RequestContext[Any], existing: Any, request: Any) -> tuple[Any, bool]:
    """``existing`` with the client-owned parts replaced by ``request``.

    Returns ``(state, changed)``. When nothing the client owns differs, ``state`` is
    ``existing`` itself and ``changed`` is False: the write is skipped and the version stays,
    which is what makes repeating an update or apply idempotent.
    """
    state = type(existing)()
    state.CopyFrom(existing)
    state.spec.CopyFrom(request.spec)
    meta, incoming = state.metadata, request.metadata
    meta.name = incoming.name
    meta.labels.clear()
    meta.labels.update(incoming.labels)
    meta.annotations.clear()
    meta.annotations.update(incoming.annotations)
    del meta.tags[:]
    meta.tags.extend(incoming.tags)
    if state == existing:
        return existing, False
    audit = state.status.audit
    _stamp(audit.spec_audit, ctx, created=False, event=UPDATED)
    _stamp(audit.status_audit, ctx, created=False, event=UPDATED)
    _next_version(state, existing.metadata.version.id)
    return state, True


#: What every status change moves besides what its ``mutate`` does.
STATUS_CHANGE_FIELDS = frozenset({"status.audit.status_audit", "metadata.version"})


def build_status_change(
    ctx: RequestContext[Any], existing: Any, mutate: Callable[[Any], None], touches: frozenset[str]
) -> tuple[Any, bool]:
    """``existing`` with a server-managed change applied by ``mutate`` (e.g. pinning), which
    changes only the fields ``touches`` names (dotted paths).

    Like :func:`build_update` it returns ``(existing, False)`` when nothing changed; else the
    status audit and the version move on (the spec audit does not: the client's part of the
    resource is untouched), and ``ctx[CHANGED_FIELDS]`` says which fields moved, so Persist
    skips the indexes that read none of them.
    """
    state = type(existing)()
    state.CopyFrom(existing)
    mutate(state)
    if state == existing:
        return existing, False
    _stamp(state.status.audit.status_audit, ctx, created=False, event=UPDATED)
    _next_version(state, existing.metadata.version.id)
    ctx[CHANGED_FIELDS] = touches | STATUS_CHANGE_FIELDS
    return state, True
