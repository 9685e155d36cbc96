import logging

import grpc
import pytest
from google.rpc import status_pb2

from pipeline.errors import AlreadyExists, FieldViolation, Internal, InvalidArgument, NotFound
from pipeline.grpc_status import bad_request_of, to_status


def _decode(status: grpc.Status) -> status_pb2.Status:
    (key, value), *_ = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    return status_pb2.Status.FromString(value)


@pytest.mark.parametrize(
    ("error", "code"),
    [(NotFound("x"), grpc.StatusCode.NOT_FOUND), (AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS)],
)
def test_resource_errors_keep_code_and_message(error: Exception, code: grpc.StatusCode) -> None:
    status = to_status(error)
    assert status.code == code
    assert status.details == "x"


def test_invalid_argument_carries_bad_request_details() -> None:
    error = InvalidArgument("bad", [FieldViolation("metadata.name", "required", "is required")])
    status = to_status(error)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    bad = bad_request_of(_decode(status))
    assert bad is not None
    assert [(v.field, v.reason, v.description) for v in bad.field_violations] == [
        ("metadata.name", "required", "is required")
    ]


def test_unknown_errors_are_internal_logged_and_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        status = to_status(RuntimeError("secret detail"))
    assert status.code == grpc.StatusCode.INTERNAL
    assert "secret" not in status.details
    assert "internal error (error id " in status.details
    assert any(r.exc_info and "secret detail" in str(r.exc_info[1]) for r in caplog.records)


def test_internal_errors_keep_their_safe_message_and_are_logged_with_an_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = Internal("store write failed")
    error.__cause__ = OSError("engine detail")
    with caplog.at_level(logging.ERROR):
        status = to_status(error)
    assert status.code == grpc.StatusCode.INTERNAL
    assert status.details.startswith("store write failed (error id ")
    assert "engine detail" not in status.details
    error_id = status.details.removeprefix("store write failed (error id ").removesuffix(")")
    (record,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[1] is error  # the cause is logged with it
