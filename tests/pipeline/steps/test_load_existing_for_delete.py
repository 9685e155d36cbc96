import pytest

from pipeline.errors import NotFound
from pipeline.keys import EXISTING, TARGET_ID
from pipeline.steps import LoadExistingForDelete
from stigmer_sessions import SessionController
from stigmer_sessions.api import SessionId
from tests.conftest import RunStep, make_session


def test_loads(run_step: RunStep, controller: SessionController) -> None:
    created = controller.create(make_session())
    ctx = run_step(LoadExistingForDelete(), SessionId(), values={TARGET_ID: created.metadata.id})
    assert ctx[EXISTING] == created


def test_not_found(run_step: RunStep) -> None:
    with pytest.raises(NotFound, match="ses-x"):
        run_step(LoadExistingForDelete(), SessionId(), values={TARGET_ID: "ses-x"})
