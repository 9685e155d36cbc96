import pytest

from pipeline.errors import InvalidArgument
from pipeline.steps import EnforceSizeLimits, SizeLimit
from stigmer_sessions.api import AppendSessionMessageRequest
from tests.conftest import RunStep, make_session

LIMITS = (SizeLimit("metadata.annotations", 100), SizeLimit("spec.metadata", 50), SizeLimit("", 1000))


def test_within_the_limits_passes(run_step: RunStep) -> None:
    session = make_session()
    session.metadata.annotations["k" * 10] = "v" * 90  # exactly 100: keys count too
    session.spec.metadata["m"] = "x" * 49
    run_step(EnforceSizeLimits(LIMITS, "Session"), session, write=False)


def test_each_limit_exceeded_is_one_violation_naming_field_size_and_limit(run_step: RunStep) -> None:
    session = make_session()
    session.metadata.annotations["k" * 10] = "é" * 46  # 10 + 92 bytes: UTF-8 bytes count
    session.spec.metadata["m"] = "x" * 50
    session.spec.subject = "s" * 1000
    with pytest.raises(InvalidArgument) as err:
        run_step(EnforceSizeLimits(LIMITS, "Session"), session, write=False)
    assert [(v.field, v.rule_id) for v in err.value.violations] == [
        ("metadata.annotations", "size.max_bytes"),
        ("spec.metadata", "size.max_bytes"),
        ("(Session)", "size.max_bytes"),
    ]
    assert err.value.violations[0].message == "is 102 bytes in total; the limit is 100 bytes"
    assert "the limit is 1000 bytes" in err.value.violations[2].message
    assert err.value.message.startswith("Session too large: metadata.annotations: is 102 bytes")


def test_a_message_metadata_limit(run_step: RunStep) -> None:
    request = AppendSessionMessageRequest(session_id="ses-1", metadata={"a": "b" * 10})
    run_step(EnforceSizeLimits((SizeLimit("metadata", 11),), "message"), request, write=False)
    with pytest.raises(InvalidArgument) as err:
        run_step(EnforceSizeLimits((SizeLimit("metadata", 10),), "message"), request, write=False)
    assert err.value.violations[0].field == "metadata"
