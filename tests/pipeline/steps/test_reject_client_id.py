import pytest

from pipeline.errors import InvalidArgument
from pipeline.steps import RejectClientId
from tests.conftest import RunStep, make_session


def test_no_id_passes(run_step: RunStep) -> None:
    run_step(RejectClientId(), make_session(), write=False)


def test_client_id_is_refused_naming_the_field(run_step: RunStep) -> None:
    request = make_session()
    request.metadata.id = "ses-mine"
    with pytest.raises(InvalidArgument) as err:
        run_step(RejectClientId(), request, write=False)
    assert [v.field for v in err.value.violations] == ["metadata.id"]
