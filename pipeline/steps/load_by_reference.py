"""LoadByReference: read a record named by (org, slug) instead of by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import InvalidArgument, NotFound
from pipeline.keys import RESPONSE
from pipeline.resource import SLUG_INDEX
from pipeline.steps.load_target import load_or_not_found


def _enum_name(message: Any, field: str, number: int) -> str:
    value = message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number.get(number)
    return str(number) if value is None else str(value.name)


def reference_not_found(ctx: RequestContext[Any]) -> NotFound:
    """What a reference to nothing is answered with (also for an org the caller may not
    read: Authorize answers exactly this)."""
    ref = ctx.input
    return NotFound(f"{ctx.kind.name} with slug {ref.slug!r} in org {ref.org!r} not found")


@dataclass(frozen=True, slots=True)
class LoadByReference:
    """Reads ``ctx.input`` (an ``ApiResourceReference``: org, slug, and optionally kind, scope,
    version); writes ``ctx[RESPONSE]``.

    Raises InvalidArgument when the slug is empty or the reference names another kind, and
    NotFound naming org and slug (and the scope or version, when those do not match what
    is stored: only the current version is kept).
    """

    index: str = SLUG_INDEX

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ref = ctx.input
        if not ref.slug:
            raise InvalidArgument.for_field("slug", "is required", "required")
        if ref.kind and _enum_name(ref, "kind", ref.kind) != ctx.kind.name:
            raise InvalidArgument.for_field(
                "kind",
                f"names {_enum_name(ref, 'kind', ref.kind)!r}; this service serves {ctx.kind.name!r}",
                "kind.mismatch",
            )
        where = f"{ctx.kind.name} with slug {ref.slug!r} in org {ref.org!r}"
        holder = ctx.records.find_unique(self.index, (ref.org, ref.slug))
        if holder is None:
            raise reference_not_found(ctx)
        record = load_or_not_found(ctx, holder)
        if ref.scope and ref.scope != record.metadata.owner_scope:
            raise NotFound(f"{where} not found with scope {_enum_name(ref, 'scope', ref.scope)!r}")
        if ref.version and ref.version != record.metadata.version.id:
            raise NotFound(
                f"{where} not found at version {ref.version!r} (current: {record.metadata.version.id!r})"
            )
        ctx[RESPONSE] = record
