import pytest

from pipeline.errors import InvalidArgument, NotFound
from pipeline.keys import RESPONSE
from pipeline.steps import LoadByReference
from stigmer_sessions import SessionController
from stigmer_sessions.api import ApiResourceKind, ApiResourceOwnerScope, ApiResourceReference
from tests.conftest import RunStep, make_session


def test_by_org_and_slug(run_step: RunStep, controller: SessionController) -> None:
    created = controller.create(make_session("Plan", org="acme"))
    ref = ApiResourceReference(org="acme", slug="plan", kind=ApiResourceKind.session)
    assert run_step(LoadByReference(), ref, write=False)[RESPONSE] == created
    ref.version = created.metadata.version.id
    ref.scope = ApiResourceOwnerScope.organization
    assert run_step(LoadByReference(), ref, write=False)[RESPONSE] == created


def test_not_found_names_org_and_slug(run_step: RunStep, controller: SessionController) -> None:
    controller.create(make_session("Plan", org="acme"))
    with pytest.raises(NotFound, match="slug 'plan' in org 'other'"):
        run_step(LoadByReference(), ApiResourceReference(org="other", slug="plan"), write=False)


def test_stale_version_or_other_scope_is_not_found(run_step: RunStep, controller: SessionController) -> None:
    controller.create(make_session("Plan", org="acme"))
    with pytest.raises(NotFound, match="version 'old'"):
        run_step(LoadByReference(), ApiResourceReference(org="acme", slug="plan", version="old"), write=False)
    ref = ApiResourceReference(org="acme", slug="plan", scope=ApiResourceOwnerScope.identity_account)
    with pytest.raises(NotFound, match="identity_account"):
        run_step(LoadByReference(), ref, write=False)


def test_empty_slug_or_other_kind_is_invalid(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(LoadByReference(), ApiResourceReference(org="acme"), write=False)
    assert [v.field for v in err.value.violations] == ["slug"]
    with pytest.raises(InvalidArgument, match="'agent'"):
        run_step(LoadByReference(), ApiResourceReference(slug="x", kind=ApiResourceKind.agent), write=False)
