import pytest

from pipeline.errors import NotFound
from pipeline.keys import EXISTING, SLUG
from pipeline.steps import LoadForApply
from stigmer_sessions import SessionController
from tests.conftest import RunStep, make_session


def test_by_id(run_step: RunStep, controller: SessionController) -> None:
    created = controller.create(make_session("one"))
    assert run_step(LoadForApply(), created, values={SLUG: "whatever"}, write=False)[EXISTING] == created


def test_unknown_id_is_not_found(run_step: RunStep) -> None:
    request = make_session()
    request.metadata.id = "ses-ghost"
    with pytest.raises(NotFound, match="ses-ghost"):
        run_step(LoadForApply(), request, values={SLUG: "x"}, write=False)


def test_by_org_and_slug(run_step: RunStep, controller: SessionController) -> None:
    created = controller.create(make_session("one", org="acme"))
    assert (
        run_step(LoadForApply(), make_session(org="acme"), values={SLUG: "one"}, write=False)[EXISTING]
        == created
    )
    assert (
        run_step(LoadForApply(), make_session(org="other"), values={SLUG: "one"}, write=False)[EXISTING]
        is None
    )
