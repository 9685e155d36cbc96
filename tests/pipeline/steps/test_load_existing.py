import pytest

from pipeline.errors import InvalidArgument, NotFound
from pipeline.keys import EXISTING
from pipeline.steps import LoadExisting
from stigmer_sessions import SessionController
from tests.conftest import RunStep, make_session


def test_loads_by_metadata_id(run_step: RunStep, controller: SessionController) -> None:
    created = controller.create(make_session())
    assert run_step(LoadExisting(), created, write=False)[EXISTING] == created


def test_missing_id_is_invalid_argument(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(LoadExisting(), make_session(), write=False)
    assert [v.field for v in err.value.violations] == ["metadata.id"]


def test_unknown_id_is_not_found_naming_it(run_step: RunStep) -> None:
    request = make_session()
    request.metadata.id = "ses-nope"
    with pytest.raises(NotFound, match="ses-nope"):
        run_step(LoadExisting(), request, write=False)
