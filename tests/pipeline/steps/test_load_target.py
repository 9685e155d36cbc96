import pytest

from pipeline.auth import Principal, Role
from pipeline.authorization import DEFAULT_AUTHORIZER, Access
from pipeline.errors import Internal, NotFound, PermissionDenied
from pipeline.keys import ACCESS, PRINCIPAL, RESPONSE, TARGET_ID
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


def test_an_unreadable_record_is_not_found_exactly_as_a_missing_one(
    run_step: RunStep, controller: SessionController
) -> None:
    hidden = controller.create(make_session(org="beta"))
    access = Access(Principal("vera", {"acme": Role.VIEWER}), DEFAULT_AUTHORIZER, Role.VIEWER)
    values = {TARGET_ID: hidden.metadata.id, PRINCIPAL: access.principal, ACCESS: access}
    with pytest.raises(NotFound) as err:
        run_step(LoadTarget(), SessionId(), values=values, write=False)
    assert err.value.message == f"session {hidden.metadata.id!r} not found"


def test_a_readable_record_needing_a_stronger_role_is_permission_denied_naming_the_org(
    run_step: RunStep, controller: SessionController
) -> None:
    mine = controller.create(make_session(org="acme"))
    access = Access(Principal("vera", {"acme": Role.VIEWER}), DEFAULT_AUTHORIZER, Role.ADMIN)
    values = {TARGET_ID: mine.metadata.id, PRINCIPAL: access.principal, ACCESS: access}
    with pytest.raises(PermissionDenied, match="'acme'"):
        run_step(LoadTarget(), SessionId(), values=values, write=False)
    readable = {**values, ACCESS: Access(access.principal, DEFAULT_AUTHORIZER, Role.VIEWER)}
    assert run_step(LoadTarget(), SessionId(), values=readable, write=False)[RESPONSE] == mine


def test_a_principal_without_an_authorize_step_fails_closed(
    run_step: RunStep, controller: SessionController
) -> None:
    mine = controller.create(make_session(org="acme"))
    values = {TARGET_ID: mine.metadata.id, PRINCIPAL: Principal("vera", {"acme": Role.ADMIN})}
    with pytest.raises(Internal, match="no Authorize step"):
        run_step(LoadTarget(), SessionId(), values=values, write=False)
