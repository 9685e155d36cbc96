"""Authorize on hand-built contexts: what it checks in the request, and what it leaves to
the steps that learn the org later (through ``ctx[ACCESS]``)."""

from __future__ import annotations

import logging

import pytest

from pipeline.auth import EVERY_ORG, Principal, Role
from pipeline.authorization import RoleAuthorizer
from pipeline.errors import NotFound, PermissionDenied
from pipeline.keys import ACCESS, AUTHORIZER, PRINCIPAL
from pipeline.steps import Authorize
from pipeline.steps.load_by_reference import reference_not_found
from stigmer_sessions.api import ApiResourceReference, ListSessionsRequest, SessionId
from tests.conftest import RunStep, make_session

VIEWER = Principal("vera", {"acme": Role.VIEWER})
EDITOR = Principal("eddie", {"acme": Role.EDITOR})


def test_a_trusted_caller_is_not_checked(run_step: RunStep) -> None:
    ctx = run_step(Authorize(Role.ADMIN, "metadata.org"), make_session(org="beta"))
    assert ACCESS not in ctx


def test_writes_the_access_for_later_steps(run_step: RunStep) -> None:
    ctx = run_step(
        Authorize(Role.EDITOR, "metadata.org"), make_session(org="acme"), values={PRINCIPAL: EDITOR}
    )
    access = ctx[ACCESS]
    assert (access.principal, access.role) == (EDITOR, Role.EDITOR)


def test_a_create_into_an_org_without_a_role_is_permission_denied_naming_it(run_step: RunStep) -> None:
    with pytest.raises(PermissionDenied, match="'beta'"):
        run_step(Authorize(Role.EDITOR, "metadata.org"), make_session(org="beta"), values={PRINCIPAL: EDITOR})


def test_a_write_by_a_viewer_is_permission_denied(run_step: RunStep) -> None:
    with pytest.raises(PermissionDenied, match=r"'acme'.*needs editor"):
        run_step(Authorize(Role.EDITOR, "metadata.org"), make_session(org="acme"), values={PRINCIPAL: VIEWER})


def test_a_list_of_an_org_without_a_role_is_permission_denied(run_step: RunStep) -> None:
    with pytest.raises(PermissionDenied, match="'beta'"):
        run_step(Authorize(Role.VIEWER, "org"), ListSessionsRequest(org="beta"), values={PRINCIPAL: VIEWER})


def test_no_org_in_the_request_is_left_to_the_later_steps(run_step: RunStep) -> None:
    ctx = run_step(Authorize(Role.VIEWER, "org"), ListSessionsRequest(), values={PRINCIPAL: VIEWER})
    assert ctx[ACCESS].readable_orgs() == frozenset({"acme"})
    by_id = run_step(Authorize(Role.ADMIN), SessionId(value="ses-1"), values={PRINCIPAL: VIEWER})
    assert by_id[ACCESS].role == Role.ADMIN


def test_hidden_answers_an_unreadable_org_as_a_missing_resource(run_step: RunStep) -> None:
    step = Authorize(Role.VIEWER, "org", hidden=reference_not_found)
    ref = ApiResourceReference(org="beta", slug="standup")
    with pytest.raises(NotFound) as err:
        run_step(step, ref, values={PRINCIPAL: VIEWER}, write=False)
    assert err.value.message == "session with slug 'standup' in org 'beta' not found"
    run_step(step, ApiResourceReference(org="acme", slug="standup"), values={PRINCIPAL: VIEWER}, write=False)


def test_every_org(run_step: RunStep) -> None:
    star = Principal("root", {EVERY_ORG: Role.VIEWER})
    ctx = run_step(Authorize(Role.VIEWER, "org"), ListSessionsRequest(org="any"), values={PRINCIPAL: star})
    assert ctx[ACCESS].readable_orgs() is None  # lists need no restriction
    with pytest.raises(PermissionDenied):
        run_step(Authorize(Role.EDITOR, "metadata.org"), make_session(org="any"), values={PRINCIPAL: star})


class Nobody(RoleAuthorizer):
    def allows(self, principal: Principal, role: Role, org: str) -> bool:
        return False


def test_the_authorizer_in_the_context_decides(run_step: RunStep) -> None:
    with pytest.raises(PermissionDenied):
        run_step(
            Authorize(Role.EDITOR, "metadata.org"),
            make_session(org="acme"),
            values={PRINCIPAL: EDITOR, AUTHORIZER: Nobody()},
        )


def test_a_denial_is_logged_at_warning(run_step: RunStep, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pipeline.authz"), pytest.raises(PermissionDenied):
        run_step(Authorize(Role.EDITOR, "metadata.org"), make_session(org="beta"), values={PRINCIPAL: EDITOR})
    (record,) = [r for r in caplog.records if r.name == "pipeline.authz"]
    assert record.levelno == logging.WARNING
    fields = record.__dict__["fields"]
    assert (fields["principal"], fields["org"], fields["outcome"]) == ("eddie", "beta", "permission_denied")
