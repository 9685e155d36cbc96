"""Kinds served on one store: each kind's operations by name, and the one place they are run.

A :class:`KindService` is what a kind states: its :class:`~pipeline.resource.ResourceKind`,
its operations (pipelines, mostly from :mod:`pipeline.operations`), the gRPC services of the
generated code that serve them (method name = operation name), and its change feed. A
:class:`Resources` runs any of them on one :class:`~pipeline.storage.Storage`: it bounds the
call options, puts them into the context, executes the pipeline, and follows the change log
for watches. Typed façades (``SessionController``) and the gRPC adapter
(:mod:`pipeline.grpc_adapter`) both go through :meth:`Resources.run`, so a library call and
an RPC run exactly the same steps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import protovalidate
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from pipeline import limits, watch
from pipeline.auth import Principal, Role
from pipeline.authorization import DEFAULT_AUTHORIZER, Access, Authorizer, actor_for
from pipeline.context import Key, RequestContext
from pipeline.errors import InvalidArgument
from pipeline.events import EventHub
from pipeline.keys import (
    AUTHORIZER,
    CASCADE,
    CAUSED_BY,
    EXPECTED_VERSION,
    IMPERSONATED_BY,
    PRINCIPAL,
    REQUEST_ID,
)
from pipeline.pipeline import Pipeline
from pipeline.resource import ResourceKind
from pipeline.storage import Storage
from pipeline.validation import validate, warm_up

#: The operation name of a server-streaming change feed: served by :meth:`Resources.watch`.
WATCH = "watch"


@dataclass(frozen=True)
class ChangeFeed:
    """How a kind's watch requests and responses look: the response type (with ``change``
    and ``bookmark`` fields) and the request field that filters by resource id."""

    response_type: type[Message]
    resource_field: str


class KindService:
    """One kind's operations, keyed by their gRPC method name.

    Raises ValueError when a pipeline is not named ``<kind>.<operation>``, or when the
    services and the operations disagree: every unary method needs an operation of its name,
    a server-streaming one is the change feed's watch, and every operation is served.
    """

    def __init__(
        self,
        kind: ResourceKind[Any],
        operations: Sequence[Pipeline[Any]],
        *,
        services: Sequence[ServiceDescriptor] = (),
        feed: ChangeFeed | None = None,
    ) -> None:
        self.kind = kind
        self.services = tuple(services)
        self.feed = feed
        prefix = f"{kind.name}."
        #: Mutable on purpose: tests replace one operation (e.g. minus a step).
        self.pipelines: dict[str, Pipeline[Any]] = {}
        for pipeline in operations:
            if not pipeline.name.startswith(prefix):
                raise ValueError(f"operation {pipeline.name!r} of kind {kind.name!r} must be named {prefix}*")
            self.pipelines[pipeline.name.removeprefix(prefix)] = pipeline
        if self.services:
            self._check_served()

    def _check_served(self) -> None:
        served = set()
        for service in self.services:
            for method in service.methods:
                name = method.name
                if method.server_streaming:
                    if name != WATCH or self.feed is None or method.client_streaming:
                        raise ValueError(f"{service.full_name}/{name}: only a change-feed watch may stream")
                elif name not in self.pipelines:
                    raise ValueError(f"{service.full_name}/{name} has no {self.kind.name} operation")
                served.add(name)
        unserved = sorted(set(self.pipelines) - served)
        if unserved:
            raise ValueError(f"{self.kind.name} operations served by no gRPC method: {unserved}")

    def request_types(self) -> list[type[Message]]:
        """Every request type of the kind's gRPC methods (to compile their rules early)."""
        return [
            message_factory.GetMessageClass(method.input_type)
            for service in self.services
            for method in service.methods
        ]


class Resources:
    """Runs the operations of the kinds it serves, all on one store (thread-safe: the store
    makes each write transaction atomic, reads run concurrently)."""

    def __init__(
        self,
        store: Storage,
        kinds: Iterable[KindService],
        *,
        hub: EventHub,
        validator: protovalidate.Validator,
        bookmark_interval_s: float = watch.DEFAULT_BOOKMARK_INTERVAL_S,
        watch_poll_s: float | None = None,
        batch_bytes: int = watch.DEFAULT_BATCH_BYTES,
        authorizer: Authorizer = DEFAULT_AUTHORIZER,
    ) -> None:
        self.store = store
        #: The policy a principal's requests are judged by (pipeline.authorization).
        self.authorizer = authorizer
        self.hub = hub
        self.validator = validator
        self.bookmark_interval_s = bookmark_interval_s
        self.watch_poll_s = watch_poll_s
        self.batch_bytes = batch_bytes
        self.kinds: dict[str, KindService] = {}
        for service in kinds:
            if service.kind.name in self.kinds:
                raise ValueError(f"kind {service.kind.name!r} is served twice")
            self.kinds[service.kind.name] = service
        # Compile every request type's rules now rather than on the first request.
        warm_up([t() for s in self.kinds.values() for t in s.request_types()], validator)

    def run(
        self,
        kind: str,
        operation: str,
        request: Message,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
        caused_by: str = "",
        cascade: bool = False,
        now_ns: int | None = None,
        principal: Principal | None = None,
    ) -> RequestContext[Any]:
        """Run one operation's pipeline and return its context (response, step timings).

        ``request_id`` makes a write idempotent (a retry with the same id and payload returns
        the first response); ``expected_version`` makes it conditional (ABORTED if the stored
        version differs); ``dry_run`` runs every check and returns what would be stored,
        writing nothing; ``caused_by`` goes into the recorded change; ``cascade`` lets a
        delete take its dependents along where the kind allows it. Queries ignore them.
        Each string is bounded (:mod:`pipeline.limits`): INVALID_ARGUMENT naming it.
        ``principal`` is the authenticated caller (None: a trusted in-process caller): every
        operation then checks its roles (pipeline.authorization), the actor recorded is the
        principal (``actor`` naming another one is PermissionDenied, unless the principal may
        impersonate: then it is recorded, and the principal as the change's impersonated_by),
        and its request ids are its own.
        """
        impersonated_by = ""
        if principal is not None:
            actor, impersonated_by = actor_for(principal, f"{kind}.{operation}", actor)
        if actor or request_id or expected_version or caused_by:
            limits.check(
                (
                    ("actor", actor, limits.MAX_ACTOR_BYTES),
                    ("request_id", request_id, limits.MAX_REQUEST_ID_BYTES),
                    ("expected_version", expected_version, limits.MAX_VERSION_BYTES),
                    ("caused_by", caused_by, limits.MAX_CAUSED_BY_BYTES),
                )
            )
        values: dict[Key[Any], Any] = {}
        if request_id:
            values[REQUEST_ID] = request_id
        if expected_version:
            values[EXPECTED_VERSION] = expected_version
        if caused_by:
            values[CAUSED_BY] = caused_by
        if cascade:
            values[CASCADE] = True
        if principal is not None:
            values[PRINCIPAL] = principal
            values[AUTHORIZER] = self.authorizer
            if impersonated_by:
                values[IMPERSONATED_BY] = impersonated_by
        service = self.kinds[kind]
        return service.pipelines[operation].execute(
            self.store, request, kind=service.kind, actor=actor, values=values, dry_run=dry_run, now_ns=now_ns
        )

    def watch(
        self,
        kind: str,
        request: Message,
        *,
        stop: threading.Event | None = None,
        bookmark_interval_s: float | None = None,
        max_lag: int = watch.DEFAULT_MAX_LAG,
        principal: Principal | None = None,
        actor: str = "",
    ) -> Iterator[Message]:
        """Follow ``kind``'s change feed: every later matching change exactly once, in
        revision order, and a bookmark after ``bookmark_interval_s`` (default: this
        service's) without one. Ends when ``stop`` is set or the caller stops iterating;
        OUT_OF_RANGE for a compacted start, RESOURCE_EXHAUSTED when more than ``max_lag``
        changes behind, INVALID_ARGUMENT for a bad request. ``principal``: the
        authenticated caller (None: trusted), who sees only the changes of orgs it may read;
        naming an org it may not read is PermissionDenied, as for listChanges, and so is an
        ``actor`` (``x-actor-id``) it may not impersonate, as for every other call."""
        service = self.kinds[kind]
        feed, event_type = service.feed, service.kind.event_type
        if feed is None or event_type is None:
            raise InvalidArgument(f"{kind} has no change feed")
        r: Any = request
        orgs: frozenset[str] | None = None
        if principal is not None:
            actor_for(principal, f"{kind}.{WATCH}", actor)  # a watch records no actor; the rule holds
            granted = Access(principal, self.authorizer, Role.VIEWER, f"{kind}.{WATCH}")
            if r.org and not granted.readable(r.org):
                raise granted.denied(r.org, "read")
            orgs = None if r.org else granted.readable_orgs()
        validate(request, self.validator)
        items = watch.watch(
            self.store,
            self.hub,
            event_type,
            kind=kind,
            after_revision=r.after_revision,
            from_now=r.from_now,
            where=watch.WatchFilter(getattr(r, feed.resource_field), r.org, frozenset(r.types), orgs),
            bookmark_interval_s=self.bookmark_interval_s
            if bookmark_interval_s is None
            else bookmark_interval_s,
            max_lag=max_lag,
            batch_bytes=self.batch_bytes,
            stop=stop,
            poll_s=self.watch_poll_s,
        )
        for item in items:
            response: Any = feed.response_type()
            if item.change is not None:
                response.change.CopyFrom(item.change)
            else:
                response.bookmark.revision = item.revision
                response.bookmark.time.GetCurrentTime()
            yield response
