import pytest

from pipeline.errors import AlreadyExists
from pipeline.keys import SLUG
from pipeline.steps import CheckDuplicate
from stigmer_sessions import SessionController
from tests.conftest import RunStep, make_session


def test_free_slug_passes(run_step: RunStep, controller: SessionController) -> None:
    controller.create(make_session("taken", org="acme"))
    run_step(CheckDuplicate(), make_session(org="acme"), values={SLUG: "free"}, write=False)
    run_step(CheckDuplicate(), make_session(org="other"), values={SLUG: "taken"}, write=False)


def test_taken_slug_in_same_org_is_already_exists(run_step: RunStep, controller: SessionController) -> None:
    holder = controller.create(make_session("taken", org="acme"))
    with pytest.raises(AlreadyExists) as err:
        run_step(CheckDuplicate(), make_session(org="acme"), values={SLUG: "taken"}, write=False)
    assert "'taken'" in err.value.message
    assert "'acme'" in err.value.message
    assert holder.metadata.id in err.value.message
