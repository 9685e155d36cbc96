"""The one place errors become gRPC statuses.

A :class:`ResourceError` keeps its code and message; an InvalidArgument also carries every
field violation as a ``google.rpc.BadRequest`` in the status details, so generated clients
can point at the offending fields. Every INTERNAL is logged at ERROR with an error id the
client can quote in a report: an :class:`Internal` (a store fault, say) keeps its safe
message and its cause goes to the log; anything else is a bug, logged with its traceback,
and the client only learns INTERNAL plus the error id.
"""

from __future__ import annotations

import logging
import uuid

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from pipeline.errors import Internal, InvalidArgument, ResourceError

_log = logging.getLogger(__name__)


def to_status(exc: BaseException) -> grpc.Status:
    """The status to send for ``exc`` (logging it first if it becomes INTERNAL)."""
    if isinstance(exc, ResourceError) and not isinstance(exc, Internal):
        status = status_pb2.Status(code=exc.code.value[0], message=exc.message)
        if isinstance(exc, InvalidArgument) and exc.violations:
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.message, reason=v.rule_id
                    )
                    for v in exc.violations
                ]
            )
            detail = any_pb2.Any()
            detail.Pack(bad_request)
            status.details.append(detail)
    else:
        error_id = uuid.uuid4().hex[:12]
        safe = exc.message if isinstance(exc, Internal) else "internal error"
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
