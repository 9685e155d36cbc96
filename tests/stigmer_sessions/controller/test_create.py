import pytest

from pipeline.errors import AlreadyExists, InvalidArgument
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from tests.conftest import make_session


def test_create_returns_the_stored_session(controller: SessionController) -> None:
    created = controller.create(make_session("Daily Standup"), actor="alice")
    assert created.metadata.id.startswith("ses-")
    assert created.metadata.slug == "daily-standup"
    assert created.status.audit.spec_audit.created_by.id == "alice"
    assert controller.get(created.metadata.id) == created


def test_default_actor_is_system(controller: SessionController) -> None:
    created = controller.create(make_session())
    assert created.status.audit.status_audit.created_by.id == "system"


def test_same_name_same_org_is_already_exists_other_org_is_fine(controller: SessionController) -> None:
    controller.create(make_session("x", org="acme"))
    with pytest.raises(AlreadyExists):
        controller.create(make_session("X", org="acme"))  # same slug
    controller.create(make_session("x", org="beta"))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: setattr(s.metadata, "id", "ses-x"), "metadata.id"),
        (lambda s: setattr(s.metadata, "name", "!!!"), "metadata.name"),
        (lambda s: setattr(s.metadata, "slug", "Bad Slug"), "metadata.slug"),
        (lambda s: setattr(s.spec, "agent_instance_id", ""), "spec.agent_instance_id"),
        (lambda s: setattr(s.metadata, "owner_scope", 1), "metadata"),
        (lambda s: setattr(s, "kind", "Agent"), "kind"),
        (lambda s: s.ClearField("spec"), "spec"),
    ],
)
def test_bad_input_is_invalid_argument_and_changes_nothing(
    controller: SessionController, store: Storage, mutate: object, field: str
) -> None:
    request = make_session()
    mutate(request)  # type: ignore[operator]
    before = store.snapshot()
    with pytest.raises(InvalidArgument) as err:
        controller.create(request)
    assert field in [v.field for v in err.value.violations]
    assert store.snapshot() == before
