from __future__ import annotations

import pytest

from pipeline.errors import FailedPrecondition
from pipeline.storage import Storage
from stigmer_sessions.api import AgentInstance, AgentInstanceSpec, ApiResourceMetadata, Session
from stigmer_sessions.resource import AGENT_INSTANCE
from stigmer_sessions.steps import RequireAgentInstance
from tests.conftest import RunStep, make_session


def put_instance(store: Storage, instance_id: str = "ain-1", org: str = "acme") -> None:
    instance = AgentInstance(
        metadata=ApiResourceMetadata(id=instance_id, name=instance_id, slug=instance_id, org=org),
        spec=AgentInstanceSpec(agent_id="agt-1"),
    )
    store.write(lambda tx: tx.records(AGENT_INSTANCE).put(instance))


def session_of(instance_id: str, org: str = "acme") -> Session:
    session = make_session(org=org)
    session.spec.agent_instance_id = instance_id
    return session


def test_a_session_of_an_existing_instance_in_its_org_passes(run_step: RunStep, store: Storage) -> None:
    put_instance(store)
    ctx = run_step(RequireAgentInstance(), session_of("ain-1"))
    assert ctx.new_state.spec.agent_instance_id == "ain-1"  # reads only; nothing to write


@pytest.mark.parametrize(
    ("instance_id", "org"), [("ain-missing", "acme"), ("ain-1", "other-org")], ids=["missing", "other-org"]
)
def test_a_missing_or_foreign_instance_is_failed_precondition(
    run_step: RunStep, store: Storage, instance_id: str, org: str
) -> None:
    put_instance(store)  # ain-1 in acme
    with pytest.raises(FailedPrecondition) as caught:
        run_step(RequireAgentInstance(), session_of(instance_id, org))
    assert f"agent instance '{instance_id}' does not exist in org '{org}'" in str(caught.value)
