"""The in-process face of one kind: its standard operations as typed methods.

:class:`KindController` wraps :meth:`pipeline.service.Resources.run` for the operations every
kind serves (create, update, apply, delete, get, getByReference, listChanges, watch), so a
library call runs exactly the steps the RPC of the same name runs. The typed methods are
:class:`pipeline.methods.KindMethods` (shared with the gRPC clients); this class supplies the
in-process ``call`` and ``watch``. A kind's controller subclasses it with its message types
and adds what only that kind does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, TypeVar

from google.protobuf.message import Message

from pipeline import watch
from pipeline.auth import Principal
from pipeline.context import RequestContext
from pipeline.keys import RESPONSE
from pipeline.methods import KindMethods, KindTypes, L, M, W, expect
from pipeline.service import Resources

R = TypeVar("R", bound=Message)

__all__ = ["KindController", "KindTypes", "expect"]


class KindController(KindMethods[M, L, W]):
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
