"""ListEvents: one page of the change log, oldest first, from an index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline import events
from pipeline.authorization import access
from pipeline.context import RequestContext
from pipeline.errors import Internal
from pipeline.keys import RESPONSE
from pipeline.listing import (
    DEFAULT_MAX_RESPONSE_BYTES,
    clamp_page_size,
    decode_position,
    encode_token,
    fill_page,
    fingerprint,
)


@dataclass(frozen=True, slots=True)
class ListEvents:
    """Reads ``ctx.input`` (``session_id``-like ``resource_field``, ``org``,
    ``after_revision``, ``page_size``, ``page_token``, ``types``); writes ``ctx[RESPONSE]`` =
    ``response_type(changes=..., next_page_token=..., current_revision=...,
    oldest_revision=...)``.

    Served from the per-resource or per-org index when filtered by one, so a page costs
    O(page) plus the changes skipped by a ``types`` filter. For a principal (``ctx[ACCESS]``)
    without an org only the changes of the orgs it may read, the per-org indexes merged in
    revision order (Authorize has refused an org it may not read). A page ends early rather than
    take the response past ``max_bytes`` (at least one change). Raises OutOfRange when the
    requested revisions were compacted, InvalidArgument for a bad or foreign token.
    """

    response_type: type[Message]
    resource_field: str = "session_id"
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __call__(self, ctx: RequestContext[Any]) -> None:
        event_type = ctx.kind.event_type
        if event_type is None:
            raise Internal(f"{ctx.kind.name} has no change type")
        request = ctx.input
        resource_id: str = getattr(request, self.resource_field)
        types = frozenset(request.types)
        page_size = clamp_page_size(request.page_size)
        query = fingerprint(ctx.kind.name, "events", resource_id, request.org, sorted(types))
        after = decode_position(request.page_token, query) if request.page_token else request.after_revision
        granted = access(ctx)
        scan: Iterator[tuple[Any, int]] = events.scan_visible(
            ctx.tx,
            event_type,
            kind=ctx.kind.name,
            orgs=None if granted is None else granted.readable_orgs(),
            after_revision=after,
            resource_id=resource_id,
            org=request.org,
        )
        if types:  # the index scanned is every other filter (scan_visible)
            scan = ((event, size) for event, size in scan if event.type in types)
        found, more = fill_page(scan, page_size=page_size, max_bytes=self.max_bytes)
        ctx[RESPONSE] = self.response_type(
            changes=found,
            next_page_token=encode_token(query, str(found[-1].revision)) if more else "",
            current_revision=ctx.tx.changes.current_revision(),
            oldest_revision=ctx.tx.changes.oldest_revision(),
        )
