"""The typed standard operations of a kind, written once for every transport.

:class:`KindMethods` builds each operation's request and hands it to :meth:`~KindMethods.call`,
the one transport-dependent piece: :class:`pipeline.controller.KindController` runs it
in-process, a gRPC client sends it over the wire. So a typed method written here (build a
request, ``return self.call(...)``) is on every transport at once. Post-processing of a
response goes through :meth:`~KindMethods.call_then`, so an asyncio transport can apply it
after awaiting. This module loads no store and no validator (clients import it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from pipeline.auth import Principal

M = TypeVar("M", bound=Message)  # the resource
L = TypeVar("L", bound=Message)  # a page of its change feed
W = TypeVar("W", bound=Message)  # one watch response
R = TypeVar("R", bound=Message)
T = TypeVar("T")


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


class KindMethods(Generic[M, L, W]):
    """Typed standard operations of kind ``kind`` over whatever :meth:`call` does.

    Every write takes ``actor``, ``request_id`` (idempotent retries), ``dry_run`` and, where
    the operation is versioned, ``expected_version`` (ABORTED when stale); errors are the
    :mod:`pipeline.errors` classes the RPCs map to gRPC codes. Every method takes
    ``principal`` (what a transport without principals refuses).
    """

    kind: str
    types: KindTypes[M, L, W]

    def call(self, operation: str, request: Message, response_type: type[R], **options: Any) -> R:
        """Run ``operation`` (the gRPC method name) on ``request``: its ``response_type``
        response. ``options`` are the call options (actor, request_id, expected_version,
        dry_run, caused_by, cascade, principal); a write passes ``request_id``."""
        raise NotImplementedError

    def call_then(
        self, operation: str, request: Message, response_type: type[R], then: Callable[[R], T], **options: Any
    ) -> T:
        """:meth:`call`, then ``then`` on the response (the one post-processing hook)."""
        return then(self.call(operation, request, response_type, **options))

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


def expect(response: Any, response_type: type[R]) -> R:
    """``response``, which must be a ``response_type`` (else a wiring bug: TypeError)."""
    if not isinstance(response, response_type):
        raise TypeError(f"expected {response_type.__name__}, got {type(response).__name__}")
    return response
