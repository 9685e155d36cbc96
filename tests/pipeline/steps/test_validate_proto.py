import pytest

from pipeline.errors import InvalidArgument
from pipeline.steps import ValidateProto
from stigmer_sessions.api import Session
from tests.conftest import RunStep, make_session


def test_valid_request_passes(run_step: RunStep) -> None:
    run_step(ValidateProto(), make_session(), write=False)


def test_invalid_request_reports_every_violation(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(ValidateProto(), Session(api_version="nope"), write=False)
    assert {v.field for v in err.value.violations} == {"api_version", "metadata", "spec"}
    assert "invalid Session" in err.value.message
