import pytest

from pipeline.errors import Aborted, InvalidArgument, NotFound
from stigmer_sessions import Session, SessionController
from tests.conftest import make_session


def test_update_replaces_client_fields_and_moves_version(controller: SessionController) -> None:
    created = controller.create(make_session("a", tags=("x",)), actor="alice")
    request = Session()
    request.CopyFrom(created)
    request.spec.subject = "new"
    request.metadata.name = "A renamed"
    del request.metadata.tags[:]
    updated = controller.update(request, actor="bob")
    assert updated.spec.subject == "new"
    assert updated.metadata.slug == "a"  # slug is stable across renames
    assert updated.status.audit.spec_audit.updated_by.id == "bob"
    assert updated.status.audit.spec_audit.created_by.id == "alice"
    assert updated.metadata.version.previous_version_id == created.metadata.version.id
    assert controller.get(created.metadata.id) == updated
    assert controller.list(tags=["x"]).total_size == 0


def test_repeating_an_unconditional_update_writes_nothing_new(controller: SessionController) -> None:
    created = controller.create(make_session("a"))
    request = Session()
    request.CopyFrom(created)
    request.metadata.ClearField("version")  # no expected version: unconditional
    request.spec.subject = "s"
    first = controller.update(request)
    assert controller.update(request) == first


def test_repeating_a_conditional_update_is_a_conflict(controller: SessionController) -> None:
    created = controller.create(make_session("a"))
    request = Session()
    request.CopyFrom(created)  # carries the version it was read at
    request.spec.subject = "s"
    controller.update(request)
    with pytest.raises(Aborted, match=created.metadata.version.id):
        controller.update(request)


def test_unknown_id_is_not_found(controller: SessionController) -> None:
    request = make_session()
    request.metadata.id = "ses-unknown"
    with pytest.raises(NotFound, match="ses-unknown"):
        controller.update(request)


def test_missing_id_is_invalid_argument(controller: SessionController) -> None:
    with pytest.raises(InvalidArgument, match=r"metadata\.id"):
        controller.update(make_session())
