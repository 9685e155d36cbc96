import pytest

from pipeline.errors import InvalidArgument
from pipeline.keys import LIST_SCOPE
from pipeline.listing import ListScope
from stigmer_sessions.api import ListSessionsByAgentRequest
from stigmer_sessions.steps import FilterByAgentInstance
from tests.conftest import RunStep


def test_scope_by_agent_instance(run_step: RunStep) -> None:
    ctx = run_step(FilterByAgentInstance(), ListSessionsByAgentRequest(agent_id="ain-1"), write=False)
    assert ctx[LIST_SCOPE] == ListScope("agent_instance", ("ain-1",))


def test_scope_by_org_and_agent_instance(run_step: RunStep) -> None:
    ctx = run_step(
        FilterByAgentInstance(), ListSessionsByAgentRequest(agent_id="ain-1", org="acme"), write=False
    )
    assert ctx[LIST_SCOPE] == ListScope("org_agent_instance", ("acme", "ain-1"))


def test_empty_agent_id_is_invalid(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(FilterByAgentInstance(), ListSessionsByAgentRequest(), write=False)
    assert [v.field for v in err.value.violations] == ["agent_id"]
