"""The in-process face of one kind: its standard operations as typed methods.

:class:`KindController` wraps :meth:`pipeline.service.Resources.run` for the operations every
kind serves (create, update, apply, delete, get, getByReference, listChanges, watch), so a
library call runs exactly the steps the RPC of the same name runs. A kind's controller
subclasses it with its message types and adds what only that kind does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from pipeline import watch
from pipeline.auth import Principal
from pipeline.context import RequestContext
from pipeline.keys import RESPONSE
from pipeline.service import Resources

M = TypeVar("M", bound=Message)  # the resource
L = TypeVar("L", bound=Message)  # a page of its change feed
W = TypeVar("W", bound=Message)  # one watch response
R = TypeVar("R", bound=Message)


@dataclass(frozen=True)
class KindTypes(Generic[M, L, W]):
    """The messages a kind's standard operations take and return."""

    resource: type[M]
    id: type[Message]  # ``{value: string}``, as SessionId
    reference: type[Message]  # ApiResourceReference
    list_changes: type[Message]
    change_list: type[L]
    watch_request: type[Message]
    watch_response: type[W]

    @classmethod
    def served_by(cls, services: Sequence[ServiceDescriptor]) -> KindTypes[Any, Any, Any]:
        """The types, read from the kind's gRPC services (the messages of its create, get,
        getByReference, listChanges and watch methods), so they cannot disagree."""
        methods = {m.name: m for service in services for m in service.methods}

        def message(method: str, part: str) -> type[Any]:
            return message_factory.GetMessageClass(getattr(methods[method], part))

        return cls(
            message("create", "output_type"),
            message("get", "input_type"),
            message("getByReference", "input_type"),
            message("listChanges", "input_type"),
            message("listChanges", "output_type"),
            message("watch", "input_type"),
            message("watch", "output_type"),
        )


class KindController(Generic[M, L, W]):
    """Typed standard operations of kind ``kind`` (thread-safe, as :class:`Resources` is).

    Every write takes ``actor``, ``request_id`` (idempotent retries), ``dry_run`` and, where
    the operation is versioned, ``expected_version`` (ABORTED when stale); errors are the
    :mod:`pipeline.errors` classes the RPCs map to gRPC codes. Every method takes
    ``principal``: None (the default) is a trusted in-process caller; a
    :class:`~pipeline.auth.Principal` is held to the same rules an authenticated RPC is
    (its roles per org, judged by the Resources' authorizer: docs/security.md).
    """

    def __init__(self, resources: Resources, kind: str, types: KindTypes[M, L, W]) -> None:
        self.resources = resources
        self.kind = kind
        self.types = types

    def run(self, operation: str, request: Message, **options: Any) -> RequestContext[Any]:
        """Run one of the kind's operations; its context (response, step timings)."""
        return self.resources.run(self.kind, operation, request, **options)

    def call(self, operation: str, request: Message, response_type: type[R], **options: Any) -> R:
        """Run ``operation`` and return its response, checked to be a ``response_type``."""
        return expect(self.run(operation, request, **options)[RESPONSE], response_type)

    def id_of(self, value: str | Message) -> Message:
        return value if isinstance(value, self.types.id) else self.types.id(value=value)

    def create(
        self,
        resource: M,
        *,
        actor: str = "",
        request_id: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> M:
        """Create; ALREADY_EXISTS if (org, slug) is taken, INVALID_ARGUMENT for bad input."""
        options = {"request_id": request_id, "dry_run": dry_run, "principal": principal}
        return self.call("create", resource, self.types.resource, actor=actor, **options)

    def update(
        self,
        resource: M,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> M:
        """Replace spec and metadata of ``metadata.id``; conditional on ``expected_version``
        or, when that is empty, the request's ``metadata.version.id``: ABORTED if stale."""
        options = {"request_id": request_id, "expected_version": expected_version, "dry_run": dry_run}
        options["principal"] = principal
        return self.call("update", resource, self.types.resource, actor=actor, **options)

    def apply(
        self,
        resource: M,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
        principal: Principal | None = None,
    ) -> M:
        """Create or update, by id if given, else by (org, slug from name); conditional as
        :meth:`update` is."""
        options = {"request_id": request_id, "expected_version": expected_version, "dry_run": dry_run}
        options["principal"] = principal
        return self.call("apply", resource, self.types.resource, actor=actor, **options)

    def delete(
        self,
        resource_id: str | Message,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
        cascade: bool = False,
        principal: Principal | None = None,
    ) -> M:
        """Delete and return the deleted resource; only if at ``expected_version`` when
        given. ``cascade`` lets it take its dependents along where the kind guards them."""
        options = {"request_id": request_id, "expected_version": expected_version, "dry_run": dry_run}
        options["principal"] = principal
        return self.call(
            "delete", self.id_of(resource_id), self.types.resource, actor=actor, cascade=cascade, **options
        )

    def get(self, resource_id: str | Message, *, principal: Principal | None = None) -> M:
        return self.call("get", self.id_of(resource_id), self.types.resource, principal=principal)

    def get_by_reference(
        self,
        reference: Message | None = None,
        *,
        org: str = "",
        slug: str = "",
        principal: Principal | None = None,
    ) -> M:
        """By an ``ApiResourceReference`` (its kind this one, or unspecified), or by ``org=``
        and ``slug=``."""
        ref = reference if reference is not None else self.types.reference(org=org, slug=slug)
        return self.call("getByReference", ref, self.types.resource, principal=principal)

    def list_changes(
        self, request: Message | None = None, *, principal: Principal | None = None, **fields: Any
    ) -> L:
        """One page of the kind's change feed, oldest first (OUT_OF_RANGE below the oldest
        retained)."""
        request = request or self.types.list_changes(**fields)
        return self.call("listChanges", request, self.types.change_list, principal=principal)

    def events(
        self,
        *,
        after: int = 0,
        org: str = "",
        types: tuple[str, ...] = (),
        principal: Principal | None = None,
        **resource: str,
    ) -> Iterator[Any]:
        """Every retained change after revision ``after`` matching the filters (``org``,
        ``types``, and the resource id under the feed's field name, e.g. ``session_id=``),
        oldest first, fetched a page at a time (OUT_OF_RANGE if ``after`` was compacted)."""
        token = ""
        while True:
            request = self.types.list_changes(
                after_revision=after, org=org, types=list(types), page_size=1000, page_token=token, **resource
            )
            page: Any = self.list_changes(request, principal=principal)
            yield from page.changes
            token = page.next_page_token
            if not token:
                return

    def watch(
        self,
        request: Message | None = None,
        *,
        stop: threading.Event | None = None,
        bookmark_interval_s: float | None = None,
        max_lag: int = watch.DEFAULT_MAX_LAG,
        principal: Principal | None = None,
        **fields: Any,
    ) -> Iterator[W]:
        """Follow the change feed: every later matching change exactly once, in revision
        order, and a bookmark after ``bookmark_interval_s`` without one. Ends when ``stop``
        is set or the caller stops iterating; OUT_OF_RANGE for a compacted start,
        RESOURCE_EXHAUSTED when more than ``max_lag`` changes behind."""
        request = request or self.types.watch_request(**fields)
        for response in self.resources.watch(
            self.kind,
            request,
            stop=stop,
            bookmark_interval_s=bookmark_interval_s,
            max_lag=max_lag,
            principal=principal,
        ):
            yield expect(response, self.types.watch_response)


def expect(response: Any, response_type: type[R]) -> R:
    """``response``, which must be a ``response_type`` (else a wiring bug: TypeError)."""
    if not isinstance(response, response_type):
        raise TypeError(f"expected {response_type.__name__}, got {type(response).__name__}")
    return response
