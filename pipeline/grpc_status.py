"""The one place errors become gRPC statuses.

A :class:`ResourceError` keeps its code and message; an InvalidArgument also carries every
field violation as a ``google.rpc.BadRequest`` in the status details, so generated clients
can point at the offending fields. Every INTERNAL is logged at ERROR with an error id the
client can quote in a report: an :class:`Internal` (a store fault, say) keeps its safe
message and its cause goes to the log; anything else is a bug, logged with its traceback,
and the client only learns INTERNAL plus the error id.

A status travels in the reply's trailers, and a default client refuses trailers over 8 KiB
(it then reports RESOURCE_EXHAUSTED instead of our code), so the status is bounded: the
message to ``MAX_MESSAGE_BYTES``, each violation's strings to a short prefix, and the
violations to what fits in ``MAX_DETAILS_BYTES`` (the message says how many were left out).

Its inverse, :func:`error_of`, is for clients: a status back into the same error class (and
an INVALID_ARGUMENT's violations back from its BadRequest), so ``except NotFound`` reads the
same in-process and over the wire.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from pipeline import errors
from pipeline.errors import FieldViolation, Internal, InvalidArgument, ResourceError

_log = logging.getLogger(__name__)

#: UTF-8 bytes of the status message (percent-encoded on the wire: at most 3x this).
MAX_MESSAGE_BYTES = 600
#: Serialized BadRequest bytes (base64 on the wire, twice: in the details and their status).
MAX_DETAILS_BYTES = 2048
#: Characters kept of a violation's field path, description and reason.
MAX_FIELD_CHARS, MAX_DESCRIPTION_CHARS, MAX_REASON_CHARS = 160, 240, 80


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cut_bytes(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "..."


def _bounded_bad_request(violations: list[FieldViolation]) -> tuple[error_details_pb2.BadRequest, int]:
    """The BadRequest for ``violations``, as many as fit; and how many were left out."""
    bad_request = error_details_pb2.BadRequest()
    for index, v in enumerate(violations):
        entry = error_details_pb2.BadRequest.FieldViolation(
            field=_cut(v.field, MAX_FIELD_CHARS),
            description=_cut(v.message, MAX_DESCRIPTION_CHARS),
            reason=_cut(v.rule_id, MAX_REASON_CHARS),
        )
        if bad_request.ByteSize() + entry.ByteSize() + 4 > MAX_DETAILS_BYTES:
            return bad_request, len(violations) - index
        bad_request.field_violations.append(entry)
    return bad_request, 0


def to_status(exc: BaseException) -> grpc.Status:
    """The status to send for ``exc`` (logging it first if it becomes INTERNAL)."""
    if isinstance(exc, ResourceError) and not isinstance(exc, Internal):
        message = exc.message
        bad_request, left_out = None, 0
        if isinstance(exc, InvalidArgument) and exc.violations:
            bad_request, left_out = _bounded_bad_request(exc.violations)
        suffix = f" ({left_out} more violations not shown)" if left_out else ""
        message = _cut_bytes(message, MAX_MESSAGE_BYTES - len(suffix)) + suffix
        status = status_pb2.Status(code=exc.code.value[0], message=message)
        if bad_request is not None:
            detail = any_pb2.Any()
            detail.Pack(bad_request)
            status.details.append(detail)
    else:
        error_id = uuid.uuid4().hex[:12]
        safe = (
            _cut_bytes(exc.message, MAX_MESSAGE_BYTES - 32) if isinstance(exc, Internal) else "internal error"
        )
        _log.error("%s (error id %s)", safe, error_id, exc_info=exc)
        status = status_pb2.Status(code=code_pb2.INTERNAL, message=f"{safe} (error id {error_id})")
    result: grpc.Status = rpc_status.to_status(status)
    return result


def bad_request_of(status: status_pb2.Status) -> error_details_pb2.BadRequest | None:
    """The BadRequest detail of a status, if any (handy for clients and tests)."""
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            return bad_request
    return None


#: The error class of each status code: every ResourceError subclass keyed by its code (the
#: most general class of a code wins: OutOfSpace comes back as ResourceExhausted).
ERRORS: dict[grpc.StatusCode, type[ResourceError]] = {}
for _cls in vars(errors).values():
    if isinstance(_cls, type) and issubclass(_cls, ResourceError) and _cls is not ResourceError:
        known = ERRORS.get(_cls.code)
        if known is None or issubclass(known, _cls):
            ERRORS[_cls.code] = _cls
#: Status details travel base64-free in this binary trailer (grpc-status's convention).
DETAILS_TRAILER = "grpc-status-details-bin"


def error_from(
    code: grpc.StatusCode, message: str, details: status_pb2.Status | None = None
) -> ResourceError:
    """The :class:`ResourceError` a status stands for (the inverse of :func:`to_status`): its
    class by code (a code no class has, e.g. UNKNOWN or DATA_LOSS, is a plain ResourceError),
    its message, and for INVALID_ARGUMENT the field violations of its BadRequest detail."""
    cls = ERRORS.get(code, ResourceError)
    if cls is InvalidArgument:
        bad_request = bad_request_of(details) if details is not None else None
        violations = [
            FieldViolation(v.field, v.reason, v.description)
            for v in (bad_request.field_violations if bad_request else ())
        ]
        return InvalidArgument(message, violations)
    return cls(message)


def error_of(exc: grpc.RpcError) -> ResourceError:
    """:func:`error_from` for the error a sync or asyncio gRPC call raised (both keep the code,
    the message and the trailers the details travel in)."""
    call: Any = exc  # the stubs type RpcError's trailers as one metadatum, not a sequence
    code: grpc.StatusCode = call.code()
    message: str = call.details() or ""
    details = None
    for key, value in call.trailing_metadata() or ():
        if key == DETAILS_TRAILER and isinstance(value, bytes):
            details = status_pb2.Status.FromString(value)
    return error_from(code, message, details)
