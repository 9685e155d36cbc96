"""The standard operations every resource kind gets, each one step list in one place.

A kind states only what differs (:class:`Rules`: its size limits, generated names, quota,
initial phase, extra checks on the new state, what a delete must also do) and picks the
operations it serves; each factory below returns the operation's :class:`Pipeline`, named
``<kind>.<operation>``, where ``<operation>`` is the gRPC method name: the one name the
controller, the gRPC adapter, the logs and the docs use. An optional rule that is not set
leaves its step out, so every step an operation runs is one it needs (the step-removal tests
hold every kind to that). ``docs/operations.md`` lists what each kind's operations run; a
test keeps it in step with the code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import protovalidate
from google.protobuf.message import Message

from pipeline.auth import Role
from pipeline.events import EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from pipeline.pipeline import Pipeline, Step
from pipeline.resource import ResourceKind
from pipeline.steps import (
    AppendEvent,
    Authorize,
    BuildApplyState,
    BuildListResponse,
    BuildNewState,
    BuildUpdateState,
    CheckDuplicate,
    CheckIdempotency,
    CheckVersion,
    DeleteChildren,
    DeleteResource,
    EnforceQuota,
    EnforceSizeLimits,
    ExtractResourceId,
    GenerateName,
    ListEvents,
    ListPage,
    LoadByReference,
    LoadExisting,
    LoadExistingForDelete,
    LoadForApply,
    LoadTarget,
    Persist,
    RejectClientId,
    RememberRequest,
    ResolveSlug,
    SetInitialPhase,
    ValidateProto,
)
from pipeline.steps.load_by_reference import reference_not_found


@dataclass(frozen=True)
class Settings:
    """What every operation of one controller shares: the validator, how long request ids
    are remembered, the hub that wakes watchers, and the byte budget of a response."""

    validator: protovalidate.Validator | None = None
    request_ttl_ns: int = DEFAULT_TTL_NS
    hub: EventHub | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


@dataclass(frozen=True)
class Rules:
    """What a kind adds to the standard writes; an unset rule leaves its step out."""

    #: create, update, apply: bounds on parts of the resource (before anything is read).
    size_limits: EnforceSizeLimits | None = None
    #: create: the name given to a resource created without one.
    naming: GenerateName | None = None
    #: create, apply (when it creates): how many an org / an owner may have.
    quota: EnforceQuota | None = None
    #: create, apply (when it creates): the lifecycle's initial phase.
    initial_phase: SetInitialPhase | None = None
    #: create, update, apply: checks of the state about to be stored (e.g. that what it
    #: references exists), run right before it is persisted, in the same transaction.
    checks: tuple[Step, ...] = field(default_factory=tuple)
    #: delete: what must happen to dependents first (refuse, or cascade), same transaction.
    on_delete: tuple[Step, ...] = field(default_factory=tuple)
    #: delete: the resource owns child records (a session's messages), removed with it.
    children: bool = False


NO_RULES = Rules()


def _present(*steps: Step | None) -> tuple[Step, ...]:
    return tuple(step for step in steps if step is not None)


def operation(
    kind: ResourceKind[Any], name: str, steps: Sequence[Step | None], *, write: bool, doc: str
) -> Pipeline[Any]:
    """The pipeline of ``kind``'s operation ``name`` (the gRPC method name); ``None`` entries
    (unset optional rules) are left out."""
    return Pipeline(f"{kind.name}.{name}", _present(*steps), write=write, doc=doc)


def create(kind: ResourceKind[Any], s: Settings, r: Rules = NO_RULES) -> Pipeline[Any]:
    return operation(
        kind,
        "create",
        [
            Authorize(Role.EDITOR, "metadata.org", org_required=True),
            ValidateProto(s.validator),
            r.size_limits,
            CheckIdempotency(),
            RejectClientId(),
            r.naming,
            ResolveSlug(),
            CheckDuplicate(),
            r.quota,
            BuildNewState(),
            r.initial_phase,
            *r.checks,
            Persist(),
            AppendEvent(hub=s.hub),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc=f"Create a {kind.name}; ALREADY_EXISTS when (org, slug) is taken.",
    )


def update(kind: ResourceKind[Any], s: Settings, r: Rules = NO_RULES) -> Pipeline[Any]:
    return operation(
        kind,
        "update",
        [
            Authorize(Role.EDITOR),
            ValidateProto(s.validator),
            r.size_limits,
            CheckIdempotency(),
            LoadExisting(),
            CheckVersion(),
            BuildUpdateState(),
            *r.checks,
            Persist(),
            AppendEvent(hub=s.hub),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc=f"Replace a {kind.name}'s spec and metadata by id; a no-op writes nothing.",
    )


def apply(kind: ResourceKind[Any], s: Settings, r: Rules = NO_RULES) -> Pipeline[Any]:
    return operation(
        kind,
        "apply",
        [
            Authorize(Role.EDITOR, "metadata.org", org_required=True),
            ValidateProto(s.validator),
            r.size_limits,
            CheckIdempotency(),
            ResolveSlug(),
            LoadForApply(),
            CheckVersion(),
            r.quota,
            BuildApplyState(),
            r.initial_phase,
            *r.checks,
            Persist(),
            AppendEvent(hub=s.hub),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc=f"Create a {kind.name}, or update the one with its id or (org, slug); quota and "
        "initial phase apply only when it creates.",
    )


def delete(kind: ResourceKind[Any], s: Settings, r: Rules = NO_RULES) -> Pipeline[Any]:
    return operation(
        kind,
        "delete",
        [
            Authorize(Role.ADMIN),
            ValidateProto(s.validator),
            CheckIdempotency(),
            ExtractResourceId(),
            LoadExistingForDelete(),
            CheckVersion(),
            *r.on_delete,
            DeleteResource(),
            DeleteChildren() if r.children else None,
            AppendEvent("Deleted", s.hub),
            RememberRequest(s.request_ttl_ns),
        ],
        write=True,
        doc=f"Delete a {kind.name} by id and return it as it was.",
    )


def get(kind: ResourceKind[Any], s: Settings) -> Pipeline[Any]:
    return operation(
        kind,
        "get",
        [Authorize(Role.VIEWER), ValidateProto(s.validator), ExtractResourceId(), LoadTarget()],
        write=False,
        doc=f"One {kind.name} by id.",
    )


def get_by_reference(kind: ResourceKind[Any], s: Settings) -> Pipeline[Any]:
    return operation(
        kind,
        "getByReference",
        [
            Authorize(Role.VIEWER, "org", hidden=reference_not_found),
            ValidateProto(s.validator),
            LoadByReference(),
        ],
        write=False,
        doc=f"One {kind.name} by (org, slug); the reference's kind, when set, must be {kind.name}.",
    )


def list_(kind: ResourceKind[Any], s: Settings, list_type: type[Message]) -> Pipeline[Any]:
    return operation(
        kind,
        "list",
        [
            Authorize(Role.VIEWER, "org"),
            ValidateProto(s.validator),
            ListPage(max_bytes=s.max_response_bytes),
            BuildListResponse(list_type),
        ],
        write=False,
        doc=f"One page of {kind.name}s, newest first, filtered by org, tags, labels, owner scope.",
    )


def list_changes(
    kind: ResourceKind[Any], s: Settings, list_type: type[Message], resource_field: str
) -> Pipeline[Any]:
    return operation(
        kind,
        "listChanges",
        [
            Authorize(Role.VIEWER, "org"),
            ValidateProto(s.validator),
            ListEvents(list_type, resource_field=resource_field, max_bytes=s.max_response_bytes),
        ],
        write=False,
        doc=f"One page of the {kind.name} change feed, oldest first (OUT_OF_RANGE below the oldest kept).",
    )
