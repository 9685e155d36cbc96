"""The one error hierarchy of the library.

Every error a step, a store or a controller raises on purpose is a :class:`ResourceError`
subclass carrying its gRPC status code, so callers in-process can catch by type and the
gRPC layer (:mod:`pipeline.grpc_status`, the only place errors become statuses) needs no
table of its own. Anything else that escapes is a bug and is reported as INTERNAL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import grpc

#: How many characters of a client's value an error message quotes.
QUOTE_CHARS = 64


def quote(value: str, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of at most the first ``limit`` characters of ``value``, saying how many were
    left out: error replies travel in gRPC trailers (8 KiB by default), so quoting a huge
    value in full would turn a clear INVALID_ARGUMENT into the client's RESOURCE_EXHAUSTED."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value) - limit} more characters)"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One reason a request is invalid: where (dotted field path), which rule, and why."""

    field: str
    rule_id: str
    message: str


class ResourceError(Exception):
    """Base of every deliberate error; ``code`` is the gRPC status it maps to."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ResourceError):
    """The request is malformed; ``violations`` lists every problem found, not just the first."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, violations: list[FieldViolation] | None = None) -> None:
        super().__init__(message)
        self.violations: list[FieldViolation] = list(violations or [])

    @classmethod
    def for_field(cls, field: str, message: str, rule_id: str = "") -> InvalidArgument:
        """An error about a single field, carrying that field as its only violation."""
        return cls(f"{field}: {message}", [FieldViolation(field, rule_id, message)])

    @classmethod
    def listing(cls, violations: list[FieldViolation], lead: str = "") -> InvalidArgument:
        """An error naming every violation in its message (``lead: field: message; ...``)."""
        detail = "; ".join(f"{v.field}: {v.message}" for v in violations)
        return cls(f"{lead}: {detail}" if lead else detail, violations)


class NotFound(ResourceError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ResourceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ResourceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(ResourceError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(ResourceError):
    code = grpc.StatusCode.OUT_OF_RANGE


class ResourceExhausted(ResourceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ResourceError):
    code = grpc.StatusCode.UNAVAILABLE


class Unauthenticated(ResourceError):
    """No valid credentials: the message says what a client needs, never which check failed."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ResourceError):
    """The caller is known but may not do this (a write where it may only read, an org it
    has no role in); a resource it may not read is NotFound instead, so existence never leaks."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Internal(ResourceError):
    """A fault on our side (storage failure, corrupt record); the message is safe to show."""

    code = grpc.StatusCode.INTERNAL


class DeadlineExceeded(ResourceError):
    """The call's deadline passed before an answer came (raised by clients, never by a step):
    a write may or may not have been applied; retry it with the same request id to know."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Cancelled(ResourceError):
    """The call was cancelled (by the caller, or the server shutting down); raised by clients."""

    code = grpc.StatusCode.CANCELLED


class Unimplemented(ResourceError):
    """The server does not serve this method (an older server); raised by clients."""

    code = grpc.StatusCode.UNIMPLEMENTED


class OutOfSpace(ResourceExhausted):
    """The store's volume is full: writes fail (and nothing of them lands) until space is
    freed; reads keep working. A class of its own so a write batch can tell it apart."""
