import pytest

from pipeline.errors import Internal, ResourceExhausted
from pipeline.keys import EXISTING
from pipeline.steps import EnforceQuota
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.config import SessionConfig
from tests.conftest import RunStep, make_session


def test_org_quota(run_step: RunStep, controller: SessionController) -> None:
    for i in range(2):
        controller.create(make_session(f"s{i}", org="acme"))
    run_step(EnforceQuota(per_org=3), make_session(org="acme"), write=False)
    controller.create(make_session("s2", org="acme"))
    with pytest.raises(ResourceExhausted) as err:
        run_step(EnforceQuota(per_org=3), make_session(org="acme"), write=False)
    assert (
        err.value.message
        == "Maximum 3 sessions supported in org 'acme'. Delete a session to create a new one."
    )
    run_step(EnforceQuota(per_org=3), make_session(org="beta"), write=False)  # other orgs are separate


def test_owner_quota(run_step: RunStep, store: Storage) -> None:
    # a per-owner quota is what keeps the (optional) per-owner index
    with SessionController(store=store, config=SessionConfig(max_sessions_per_owner=1)) as controller:
        controller.create(make_session("a", org="acme"), actor="alice")
        sessions = controller.kinds[0]
    with pytest.raises(ResourceExhausted) as err:
        run_step(
            EnforceQuota(per_owner=1), make_session(org="acme"), actor="alice", write=False, kind=sessions
        )
    assert err.value.message == (
        "Maximum 1 sessions supported for 'alice' in org 'acme'. Delete a session to create a new one."
    )
    run_step(EnforceQuota(per_owner=1), make_session(org="acme"), actor="bob", write=False, kind=sessions)


def test_an_owner_quota_on_a_kind_without_the_owner_index_is_refused_not_skipped(
    run_step: RunStep, controller: SessionController
) -> None:
    controller.create(make_session("a", org="acme"), actor="alice")
    with pytest.raises(Internal, match="org_owner"):  # SESSION alone keeps no per-owner index
        run_step(EnforceQuota(per_owner=1), make_session(org="acme"), actor="alice", write=False)


def test_updates_are_not_counted_and_none_is_unlimited(
    run_step: RunStep, controller: SessionController
) -> None:
    existing = controller.create(make_session("a"))
    run_step(EnforceQuota(per_org=0), make_session(), values={EXISTING: existing}, write=False)
    run_step(EnforceQuota(), make_session(), write=False)
