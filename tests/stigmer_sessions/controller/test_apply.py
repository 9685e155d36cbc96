import pytest

from pipeline.errors import InvalidArgument, NotFound
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from tests.conftest import make_session


def test_apply_creates_then_updates_by_name(controller: SessionController) -> None:
    first = controller.apply(make_session("Standup", subject="v1"))
    second = controller.apply(make_session("Standup", subject="v2"))
    assert second.metadata.id == first.metadata.id
    assert second.spec.subject == "v2"
    assert second.status.audit.spec_audit.event == "updated"
    assert controller.list().total_size == 1


def test_apply_is_idempotent(controller: SessionController, store: Storage) -> None:
    first = controller.apply(make_session("Standup"))
    before = store.snapshot()
    assert controller.apply(make_session("Standup")) == first
    assert store.snapshot() == before


def test_apply_by_id(controller: SessionController) -> None:
    created = controller.create(make_session("Standup"))
    request = make_session("Renamed", subject="by id")
    request.metadata.id = created.metadata.id
    applied = controller.apply(request)
    assert applied.metadata.id == created.metadata.id
    assert applied.metadata.slug == "standup"
    assert applied.spec.subject == "by id"


def test_apply_with_unknown_id_is_not_found(controller: SessionController) -> None:
    request = make_session()
    request.metadata.id = "ses-nope"
    with pytest.raises(NotFound):
        controller.apply(request)


def test_apply_without_a_name_is_invalid(controller: SessionController) -> None:
    # apply finds its target by (org, slug from name): it cannot make one up, unlike create
    with pytest.raises(InvalidArgument) as err:
        controller.apply(make_session(""))
    assert [v.field for v in err.value.violations] == ["metadata.name"]
