import pytest

from pipeline.errors import InvalidArgument, NotFound
from pipeline.storage import Storage
from stigmer_sessions import SessionController, SessionId
from tests.conftest import data_tables, make_session


def test_delete_returns_deleted_and_frees_the_slug(controller: SessionController, store: Storage) -> None:
    created = controller.create(make_session("a", tags=("t",)))
    assert controller.delete(created.metadata.id) == created
    with pytest.raises(NotFound):
        controller.get(created.metadata.id)
    assert all(rows == [] for rows in data_tables(store).values()), data_tables(store)
    controller.create(make_session("a"))  # slug is free again


def test_delete_twice_is_not_found(controller: SessionController) -> None:
    created = controller.create(make_session())
    controller.delete(SessionId(value=created.metadata.id))
    with pytest.raises(NotFound):
        controller.delete(created.metadata.id)


def test_empty_id_is_invalid(controller: SessionController) -> None:
    with pytest.raises(InvalidArgument):
        controller.delete("")
