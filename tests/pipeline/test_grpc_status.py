import logging
from typing import Any

import grpc
import pytest
from google.rpc import status_pb2

from pipeline import errors
from pipeline.errors import AlreadyExists, FieldViolation, Internal, InvalidArgument, NotFound
from pipeline.grpc_status import ERRORS, bad_request_of, error_from, error_of, to_status


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


def _trailer_bytes(status: grpc.Status) -> int:
    """What the status costs in trailers: the message percent-encoded, the details base64."""
    encoded = sum(1 if 0x20 <= b < 0x7F and b != 0x25 else 3 for b in status.details.encode())
    return encoded + sum(len(value) * 4 // 3 + 4 for _, value in status.trailing_metadata)


def test_a_huge_message_is_cut_to_a_bounded_prefix() -> None:
    status = to_status(InvalidArgument("x" * 20_000 + "é" * 5_000))
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    assert status.details.startswith("xxx") and status.details.endswith("...")
    assert len(status.details.encode()) <= 600


def test_many_violations_are_capped_and_the_message_says_how_many_were_left_out() -> None:
    violations = [
        FieldViolation(f'metadata.labels["{"k" * 500}{i}"]', "r" * 300, "é" * 2000) for i in range(500)
    ]
    status = to_status(
        InvalidArgument("invalid Session: " + "; ".join(v.message for v in violations), violations)
    )
    bad = bad_request_of(_decode(status))
    assert bad is not None and 0 < len(bad.field_violations) < 500
    assert all(len(v.field) <= 160 and len(v.description) <= 240 for v in bad.field_violations)
    assert status.details.endswith(f"({500 - len(bad.field_violations)} more violations not shown)")
    assert _trailer_bytes(status) < 8 * 1024 - 1024  # a default client's limit, with room for others


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


class _Failed(grpc.RpcError):
    """What a failed call raises, built from the status the server would send."""

    def __init__(self, status: grpc.Status) -> None:
        self.status = status

    def code(self) -> grpc.StatusCode:
        return self.status.code

    def details(self) -> str:
        return str(self.status.details)

    def trailing_metadata(self) -> Any:
        return tuple(self.status.trailing_metadata)


def _error_classes() -> list[type[errors.ResourceError]]:
    return [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.ResourceError) and c is not errors.ResourceError
    ]


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_round_trips_through_its_status(cls: type[errors.ResourceError]) -> None:
    back = error_of(_Failed(to_status(cls("it went wrong"))))
    # the most general class of the code comes back (OutOfSpace is a ResourceExhausted)
    assert type(back) is ERRORS[cls.code] and isinstance(cls("x"), type(back))
    assert back.code == cls.code
    assert back.message.startswith("it went wrong")  # INTERNAL adds its error id


def test_violations_come_back_from_the_bad_request_detail() -> None:
    sent = InvalidArgument(
        "bad",
        [FieldViolation("metadata.name", "string.min_len", "too short"), FieldViolation("spec.x", "", "no")],
    )
    back = error_of(_Failed(to_status(sent)))
    assert isinstance(back, InvalidArgument)
    assert back.violations == sent.violations and back.message == "bad"


def test_a_code_no_class_has_is_a_plain_resource_error() -> None:
    back = error_from(grpc.StatusCode.DATA_LOSS, "lost")
    assert type(back) is errors.ResourceError and back.message == "lost"
