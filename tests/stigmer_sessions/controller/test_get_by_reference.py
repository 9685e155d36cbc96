import pytest

from pipeline.errors import NotFound
from stigmer_sessions import ApiResourceReference, SessionController
from tests.conftest import make_session


def test_get_by_reference(controller: SessionController) -> None:
    created = controller.create(make_session("Plan", org="acme"))
    assert controller.get_by_reference(org="acme", slug="plan") == created
    assert controller.get_by_reference(ApiResourceReference(org="acme", slug="plan")) == created


def test_missing_names_org_and_slug(controller: SessionController) -> None:
    with pytest.raises(NotFound, match="slug 'plan' in org 'acme'"):
        controller.get_by_reference(org="acme", slug="plan")
