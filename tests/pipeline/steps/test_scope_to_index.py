"""ScopeToIndex, as listByAgent uses it (ported from the session-only FilterByAgentInstance)."""

import pytest

from pipeline.errors import InvalidArgument
from pipeline.keys import LIST_SCOPE
from pipeline.listing import ListScope
from pipeline.steps import ScopeToIndex
from stigmer_sessions.api import GetAgentInstancesByAgentRequest, ListSessionsByAgentRequest, SessionId
from tests.conftest import RunStep

BY_AGENT_INSTANCE = ScopeToIndex("agent_id", "agent_instance", "org_agent_instance")


def test_scope_by_agent_instance(run_step: RunStep) -> None:
    ctx = run_step(BY_AGENT_INSTANCE, ListSessionsByAgentRequest(agent_id="ain-1"), write=False)
    # Without an org, the per-org index is named too: a principal's list is read org by org.
    assert ctx[LIST_SCOPE] == ListScope("agent_instance", ("ain-1",), per_org="org_agent_instance")


def test_scope_by_org_and_agent_instance(run_step: RunStep) -> None:
    ctx = run_step(BY_AGENT_INSTANCE, ListSessionsByAgentRequest(agent_id="ain-1", org="acme"), write=False)
    assert ctx[LIST_SCOPE] == ListScope("org_agent_instance", ("acme", "ain-1"))


def test_empty_agent_id_is_invalid(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(BY_AGENT_INSTANCE, ListSessionsByAgentRequest(), write=False)
    assert [v.field for v in err.value.violations] == ["agent_id"]


def test_the_field_named_is_the_one_checked(run_step: RunStep) -> None:
    step = ScopeToIndex("agent_id", "agent")
    with pytest.raises(InvalidArgument) as err:
        run_step(step, GetAgentInstancesByAgentRequest(org="acme"), write=False)
    assert [(v.field, v.rule_id) for v in err.value.violations] == [("agent_id", "required")]


def test_without_an_org_index_an_org_makes_the_scope_inexact(run_step: RunStep) -> None:
    """ListPage then filters (and counts) by org per record instead of trusting the index."""
    step = ScopeToIndex("agent_id", "agent")
    with_org = run_step(step, GetAgentInstancesByAgentRequest(agent_id="agt-1", org="acme"), write=False)
    assert with_org[LIST_SCOPE] == ListScope("agent", ("agt-1",), exact=False)
    without = run_step(step, GetAgentInstancesByAgentRequest(agent_id="agt-1"), write=False)
    assert without[LIST_SCOPE] == ListScope("agent", ("agt-1",), exact=True)


def test_a_request_without_an_org_field_is_scoped_by_value_alone(run_step: RunStep) -> None:
    ctx = run_step(ScopeToIndex("value", "by_value", "org_by_value"), SessionId(value="x"), write=False)
    assert ctx[LIST_SCOPE] == ListScope("by_value", ("x",), per_org="org_by_value")
