"""The one place errors become gRPC statuses.

A :class:`ResourceError` keeps its code and message; an InvalidArgument also carries every
field violation as a ``google.rpc.BadRequest`` in the status details, so generated clients
can point at the offending fields. Anything else is a bug: it is logged with its traceback
and the client only learns INTERNAL plus an error id to quote in a report.
"""

from __future__ import annotations

import logging
import uuid

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from pipeline.errors import InvalidArgument, ResourceError

_log = logging.getLogger(__name__)


def to_status(exc: BaseException) -> grpc.Status:
    """The status to send for ``exc`` (logging it first if it is not a ResourceError)."""
    if isinstance(exc, ResourceError):
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
        _log.error("internal error %s", error_id, exc_info=exc)
        status = status_pb2.Status(code=code_pb2.INTERNAL, message=f"internal error (id {error_id})")
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
