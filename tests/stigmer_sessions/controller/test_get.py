import pytest

from pipeline.errors import InvalidArgument, NotFound
from stigmer_sessions import SessionController
from tests.conftest import make_session


def test_get(controller: SessionController) -> None:
    created = controller.create(make_session())
    assert controller.get(created.metadata.id) == created


def test_get_missing_names_the_id(controller: SessionController) -> None:
    with pytest.raises(NotFound, match="ses-none"):
        controller.get("ses-none")


def test_get_empty_id_is_invalid(controller: SessionController) -> None:
    with pytest.raises(InvalidArgument):
        controller.get("")
