import pytest

from pipeline.errors import InvalidArgument
from pipeline.keys import TARGET_ID
from pipeline.steps import ExtractResourceId
from stigmer_sessions.api import SessionId
from tests.conftest import RunStep


def test_extracts_value(run_step: RunStep) -> None:
    assert run_step(ExtractResourceId(), SessionId(value="ses-1"), write=False)[TARGET_ID] == "ses-1"


def test_empty_is_invalid_argument(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(ExtractResourceId(), SessionId(), write=False)
    assert [v.field for v in err.value.violations] == ["value"]
