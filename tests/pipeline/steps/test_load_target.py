import pytest

from pipeline.errors import NotFound
from pipeline.keys import RESPONSE, TARGET_ID
from pipeline.steps import LoadTarget
from stigmer_sessions import SessionController
from stigmer_sessions.api import SessionId
from tests.conftest import RunStep, make_session


def test_loads(run_step: RunStep, controller: SessionController) -> None:
    created = controller.create(make_session())
    ctx = run_step(LoadTarget(), SessionId(), values={TARGET_ID: created.metadata.id}, write=False)
    assert ctx[RESPONSE] == created


def test_not_found_names_the_id(run_step: RunStep) -> None:
    with pytest.raises(NotFound, match="session 'ses-missing' not found"):
        run_step(LoadTarget(), SessionId(), values={TARGET_ID: "ses-missing"}, write=False)
